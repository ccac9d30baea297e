// pollux/framework/unix_server.hpp — public.
//
// A `UnixServer` accepts AF_UNIX stream connections on a pool of reactors and runs the
// same handlers as TcpServer (callbacks.hpp) on them:
//
//     auto server = UnixServer::bind("/run/app.sock", {.bind = {.mode = 0660}}).value();
//     server->on_data([](Connection& conn, Buffer& in) {
//         conn.send(in.readable());
//         in.consume_all();
//     });
//     server->start();
//     ...
//     server->stop();
//
// Accepting. reactor::Acceptor speaks TCP only, so the UnixServer runs a small accept
// loop of its own on reactor 0: on each readable event, accept until WouldBlock and
// hand each stream round-robin to a reactor (a post carrying the fd; a stream for
// reactor 0 opens inline). Accept errors:
//   * per connection (ECONNABORTED, EPROTO, EPERM, EINTR...): skip, keep accepting;
//   * EMFILE / ENFILE: the reserve-fd trick -- close a spare /dev/null fd, accept and
//     close the pending connections (at most 4096, so peers see a close instead of a
//     hang), reopen the spare, pause accepting for `resource_pause`; counted in
//     metrics emfile_events (reactor 0);
//   * ENOBUFS / ENOMEM / anything else: pause for `resource_pause`.
//   After a pause accept is retried by a timer (edge-triggered epoll would not report
//   the backlog again). Nothing spins.
//
// The socket file. Bound through net::UnixListener::bind (UnixBindOptions: exact
// `mode`, default 0600, whatever the umask; `replace_stale`). With `unlink_on_stop`
// (default) stop() removes the pathname before it closes the listener. Abstract
// addresses (UnixSocketAddr::from_abstract_name) have no file; anyone in the network
// namespace may connect to them.
//
// Life cycle, thread rules, max_connections, stop(grace), metrics (loop iterations and
// timers copied once a second, posted_queue_depth sampled by each metrics() call): as
// TcpServer (tcp_server.hpp). stop() never runs from a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "pollux/core/result.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/net/unix_listener.hpp"
#include "pollux/net/unix_socket_addr.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

struct UnixServerOptions {
    // Reactor threads. nullopt: std::thread::hardware_concurrency() (1 when unknown).
    std::optional<std::size_t> reactors{};
    // File mode, stale-file policy and listen backlog (unix_socket_addr.hpp).
    net::UnixBindOptions bind{};
    // stop() unlinks the socket file of a pathname address.
    bool unlink_on_stop = true;
    // Accepting pauses this long after EMFILE/ENFILE/ENOBUFS/ENOMEM.
    std::chrono::milliseconds resource_pause{100};
    // Open connections, all reactors together; above it a connection is accepted and
    // closed at once (connections_rejected). Zero: no limit.
    std::size_t max_connections = 10'000;
    ConnectionOptions connection{};
};

class UnixServer : public HandlerSetup {
public:
    static constexpr std::chrono::milliseconds kDefaultStopGrace{5000};

    static Result<std::unique_ptr<UnixServer>> bind(std::string_view path, UnixServerOptions options = {});
    static Result<std::unique_ptr<UnixServer>> bind(const net::UnixSocketAddr& addr, UnixServerOptions options = {});

    UnixServer(const UnixServer&) = delete;
    UnixServer& operator=(const UnixServer&) = delete;
    ~UnixServer();

    // ---- handlers: set_handler_factory, on_open, on_data, ... (HandlerSetup, callbacks.hpp) ----

    // ---- life cycle ----
    Result<void> start();
    void stop(std::chrono::milliseconds grace = kDefaultStopGrace);

    // ---- observation (any thread) ----
    const net::UnixSocketAddr& local_addr() const noexcept { return local_addr_; }
    const UnixServerOptions& options() const noexcept { return options_; }
    // Samples posted_queue_depth, then returns the blocks (as TcpServer::metrics).
    Metrics& metrics() noexcept;
    const Metrics& metrics() const noexcept;
    std::size_t connections() const noexcept { return open_.load(std::memory_order_relaxed); }
    reactor::ReactorPool& pool() noexcept { return *pool_; }

private:
    struct Impl;
    UnixServer(UnixServerOptions options, std::unique_ptr<reactor::ReactorPool> pool);

    UnixServerOptions options_;
    std::unique_ptr<reactor::ReactorPool> pool_;
    Metrics metrics_;
    net::UnixSocketAddr local_addr_;
    std::unique_ptr<Impl> impl_;  // hosts, lambda handler, the listener and its handler, LoopMetrics
    std::atomic<std::size_t> open_{0};
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace pollux::framework
