// pollux/framework/tcp_server.hpp — public.
//
// A `TcpServer` accepts TCP connections on a pool of reactors and runs a handler per
// connection. The 15-line echo server:
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
// Life cycle.
//   bind(addr, options)  creates the reactors (not started), binds and listens (bind
//                        errors such as EADDRINUSE come back here).
//   on_*(...) / set_handler_factory(...)  before start(), from the thread that called
//                        bind. A factory wins over the lambdas.
//   start()              starts the reactor threads; connections flow.
//   stop(grace)          stops accepting (the port is free when stop returns), asks every
//                        connection to close gracefully with CloseReason::server_stop --
//                        flush the output, shutdown(SHUT_WR), discard input until the
//                        peer's EOF -- waits until all have closed or the grace period
//                        has passed, closes whatever is left (on_close(server_stop) on
//                        the thread calling stop), and joins the threads. Idempotent;
//                        the destructor calls stop(). Never call it from a callback.
//   run_until_signal()   start(), wait for SIGINT or SIGTERM, stop(). Blocks the two
//                        signals in the calling thread (and so in the reactor threads,
//                        which inherit the mask) before starting.
// Connection count. max_connections counts open connections over all reactors; a
//   connection accepted beyond it is closed at once and counted as rejected.
// Metrics. `metrics()` holds one block per reactor, written by that reactor; read it
//   from any thread (metrics.hpp). The acceptor's EMFILE events, loop iterations and
//   timer counts are copied into the blocks about once a second. posted_queue_depth is
//   sampled (Reactor::posted_depth) by each metrics() call, on the calling thread: call
//   metrics() again for a fresh value rather than keeping the reference.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

class TcpServer : public HandlerSetup {
public:
    static constexpr std::chrono::milliseconds kDefaultStopGrace{5000};

    static Result<std::unique_ptr<TcpServer>> bind(const net::SocketAddr& addr, TcpServerOptions options = {});

    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;
    ~TcpServer();

    // ---- handlers: set_handler_factory, on_open, on_data, ... (HandlerSetup, callbacks.hpp) ----

    // ---- life cycle ----
    Result<void> start();
    void stop(std::chrono::milliseconds grace = kDefaultStopGrace);
    Result<void> run_until_signal();

    // ---- observation (any thread) ----
    // The bound address (with the kernel's port for port 0).
    const net::SocketAddr& local_addr() const noexcept { return acceptor_->local_addr(); }
    const TcpServerOptions& options() const noexcept { return options_; }
    // Samples posted_queue_depth, then returns the blocks (see Metrics above).
    Metrics& metrics() noexcept;
    const Metrics& metrics() const noexcept;
    // Open connections over all reactors.
    std::size_t connections() const noexcept { return open_.load(std::memory_order_relaxed); }
    reactor::ReactorPool& pool() noexcept { return *pool_; }

private:
    struct Impl;
    TcpServer(TcpServerOptions options, std::unique_ptr<reactor::ReactorPool> pool);

    void accept_in_loop(reactor::Reactor& r, net::TcpStream stream);
    void book_emfile_in_loop(std::size_t i);

    TcpServerOptions options_;
    std::unique_ptr<reactor::ReactorPool> pool_;
    Metrics metrics_;
    std::unique_ptr<Impl> impl_;  // the hosts (one per reactor), the lambda handler, LoopMetrics
    std::unique_ptr<reactor::Acceptor> acceptor_;
    std::atomic<std::size_t> open_{0};
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace pollux::framework
