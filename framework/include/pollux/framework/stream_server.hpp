// pollux/framework/stream_server.hpp — public.
//
// A `StreamServer` accepts stream connections on a pool of reactors and runs a handler
// per connection. One machine, two listener types:
//
//     TcpServer   = StreamServer<net::TcpListener>    bind(SocketAddr), TcpServerOptions
//     UnixServer  = StreamServer<net::UnixListener>   bind(path or UnixSocketAddr),
//                                                     UnixServerOptions
//
// Both share one acceptor (reactor::BasicAcceptor: accept budget, EMFILE shedding,
// pauses), one accounting of open connections (max_connections, the pool's drain
// wait), one stop, one metrics layout. The 15-line echo server:
//
//     #include <pollux/framework/tcp_server.hpp>
//     using namespace pollux::framework;
//
//     int main() {
//         auto addr = pollux::net::SocketAddr::parse("0.0.0.0:9000").value();
//         auto server = TcpServer::bind(addr).value();
//         server->on_data([](Connection& conn, Buffer& in) {
//             conn.send(in.readable());
//             in.consume_all();
//         });
//         return server->run_until_signal() ? 0 : 1;  // SIGINT/SIGTERM: graceful stop
//     }
//
// Or subclass ConnectionHandler and pass a HandlerFactory (callbacks.hpp).
//
// Life cycle (the same verbs as UdpServer; TcpClient has connect/stop).
//   bind(addr, options)  creates the reactors (not started), binds and listens (bind
//                        errors such as EADDRINUSE come back here). A Unix path
//                        gets the file mode of options.listen.bind.
//   on_*(...) / set_handler_factory(...)  before start(), from the thread that called
//                        bind. A factory wins over the lambdas.
//   start()              starts the reactor threads; connections flow. Call it on the
//                        thread that called bind (it arms each reactor's timers).
//   stop(grace)          stops accepting (the port is free / the socket file gone when
//                        stop returns), asks every connection to close gracefully with
//                        CloseReason::server_stop -- flush the output, shutdown(SHUT_WR),
//                        discard input until the peer's EOF -- waits until all have
//                        closed or `grace` has passed, then closes whatever is left:
//                        queued output is dropped with a reset (metrics:
//                        output_dropped), on_close(server_stop) runs on the thread
//                        calling stop. When the grace ran out, a warning says how
//                        many connections it cut (pollux/core/log.hpp). Returns
//                        within grace + about one loop round
//                        whatever the peers do. Idempotent and safe from several
//                        threads at once (the later callers wait for the first and get
//                        its result); the destructor calls it.
//                        From one of the server's own reactor threads (a callback) it
//                        refuses with std::errc::resource_deadlock_would_occur and
//                        changes nothing.
//   run_until_signal()   start(), wait for SIGINT or SIGTERM, stop(), and restore the
//                        calling thread's signal mask. The two signals are blocked in
//                        the calling thread (and so in the reactor threads, which
//                        inherit the mask) while it runs.
// Connection count. max_connections counts open connections over all reactors; a
//   connection accepted beyond it is closed at once and counted as rejected.
// Metrics. `metrics()` holds one block per reactor, written by that reactor; read it
//   from any thread (metrics.hpp). The acceptor's EMFILE events, loop iterations and
//   timer counts are copied into the blocks about once a second. posted_queue_depth is
//   sampled (Reactor::posted_depth) by each metrics() call, on the calling thread: call
//   metrics() again for a fresh value rather than keeping the reference.
// Memory. Each reactor's BufferPool caches at most 4 MiB of chunks, and once a second it
//   lets the cache drain to what the last second needed (BufferPool::decay). A reactor
//   that has returned 4 MiB or more to the heap since it last trimmed, and allocated no
//   buffer storage in the last second (the burst is over), then asks the allocator to
//   give free memory back to the system (malloc_trim; not under ASan or TSan, whose
//   allocator is their own), so RSS falls back within seconds after a burst instead of
//   staying at its peak.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>

#include "pollux/core/result.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/unix_listener.hpp"
#include "pollux/net/unix_socket_addr.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

template <class Listener>
class StreamServer : public HandlerSetup {
public:
    using Options = StreamServerOptions<Listener>;
    using Addr = typename reactor::ListenerTraits<Listener>::Addr;
    using Stream = typename reactor::ListenerTraits<Listener>::Stream;

    static constexpr std::chrono::milliseconds kDefaultStopGrace{5000};

    static Result<std::unique_ptr<StreamServer>> bind(const Addr& addr, Options options = {});
    // Unix: a pathname (net::UnixSocketAddr::from_pathname's errors, then as above).
    static Result<std::unique_ptr<StreamServer>> bind(std::string_view path, Options options = {})
        requires std::same_as<Listener, net::UnixListener>
    {
        auto addr = net::UnixSocketAddr::from_pathname(path);
        if (!addr) return std::unexpected(addr.error());
        return bind(*addr, std::move(options));
    }

    StreamServer(const StreamServer&) = delete;
    StreamServer& operator=(const StreamServer&) = delete;
    // stop(). Must not run on one of the server's reactor threads.
    ~StreamServer();

    // ---- handlers: set_handler_factory, on_open, on_data, ... (HandlerSetup, callbacks.hpp) ----

    // ---- life cycle ----
    // std::errc::operation_not_permitted if already started or stopped; a thread
    // creation error as is.
    Result<void> start();
    // See "Life cycle". The first error a reactor loop ended with, if any.
    Result<void> stop(std::chrono::milliseconds grace = kDefaultStopGrace);
    Result<void> run_until_signal();

    // ---- observation (any thread) ----
    // The bound address (with the kernel's port for TCP port 0).
    const Addr& local_addr() const noexcept { return acceptor_->local_addr(); }
    const Options& options() const noexcept { return options_; }
    // Samples posted_queue_depth, then returns the blocks (see Metrics above).
    Metrics& metrics() noexcept;
    const Metrics& metrics() const noexcept;
    // Open connections over all reactors.
    std::size_t connections() const noexcept { return open_.load(std::memory_order_relaxed); }
    reactor::ReactorPool& pool() noexcept { return *pool_; }

private:
    struct Impl;
    using Acceptor = reactor::BasicAcceptor<Listener>;
    StreamServer(Options options, std::unique_ptr<reactor::ReactorPool> pool);

    void accept_in_loop(reactor::Reactor& r, Stream stream);
    void refresh_in_loop(std::size_t i);

    Options options_;
    std::unique_ptr<reactor::ReactorPool> pool_;
    Metrics metrics_;
    std::unique_ptr<Impl> impl_;  // the hosts (one per reactor), LoopMetrics
    std::unique_ptr<Acceptor> acceptor_;
    std::atomic<std::size_t> open_{0};
    bool started_ = false;
    std::mutex stop_mutex_;  // serialises stop(); guards stopped_ and stop_result_
    bool stopped_ = false;
    Result<void> stop_result_;
};

extern template class StreamServer<net::TcpListener>;
extern template class StreamServer<net::UnixListener>;

using TcpServer = StreamServer<net::TcpListener>;
using UnixServer = StreamServer<net::UnixListener>;

}  // namespace pollux::framework
