// samples/asio_echo — the Boost.Asio echo server pollux is compared with, set up to give
// Asio its best numbers (docs/benchmarks-echo.md, "The programs"):
//
//     asio_echo [port] [threads] [--coro] [--shared]
//                                 (defaults: 9001, one thread per core;
//                                  port 0..65535, threads 1..1024; --help)
//
// * io_context per thread, concurrency hint 1, no strands (Asio's "HTTP Server 2" shape,
//   like pollux's reactor per thread);
// * an acceptor per thread on the same port with SO_REUSEPORT, so the kernel spreads the
//   connections and the threads share nothing;
// * TCP_NODELAY on every connection;
// * one fixed 64 KiB buffer per session (the size pollux reads into at most per call);
//   the canonical async_read_some -> async_write -> async_read_some chain;
// * --coro: the same session as a C++20 coroutine (asio::awaitable, co_spawn,
//   use_awaitable with redirect_error: a read_some / write loop, the 64 KiB buffer in the
//   frame), the baseline of pollux's coroutine flavour (docs/coroutines.md);
// * --shared: the classic design instead, one io_context (default concurrency hint) and
//   one acceptor, run by all the threads (Asio's "HTTP Server 3" shape), for scripts/bench.
//
// Prints "listening on 127.0.0.1:PORT" (port 0 picks a free one), runs until SIGINT or
// SIGTERM, then prints how many connections each thread accepted.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>

#include "cli.hpp"

namespace asio = boost::asio;
namespace cli = pollux::samples::cli;
using asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(data_), [this, self](boost::system::error_code ec, std::size_t n) {
            if (!ec) write(n);
        });
    }

private:
    void write(std::size_t n) {
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(data_, n), [this, self](boost::system::error_code ec, std::size_t) {
            if (!ec) read();
        });
    }

    tcp::socket socket_;
    std::array<char, 64 * 1024> data_;
};

asio::awaitable<void> coro_session(tcp::socket socket) {
    std::array<char, 64 * 1024> data;
    boost::system::error_code ec;  // errors as values, no exception per closed connection
    for (;;) {
        const std::size_t n =
            co_await socket.async_read_some(asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        co_await asio::async_write(socket, asio::buffer(data, n), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
    }
}

struct Worker {
    explicit Worker(int concurrency_hint) : io(concurrency_hint) {}
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::atomic<unsigned long> accepted{0};
    bool coro = false;

    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                accepted.fetch_add(1, std::memory_order_relaxed);
                if (coro) {
                    asio::co_spawn(io, coro_session(std::move(socket)), asio::detached);
                } else {
                    std::make_shared<Session>(std::move(socket))->read();
                }
            }
            if (acceptor.is_open()) accept();
        });
    }
};

// Opens, binds and listens; the first error stops it (EADDRINUSE when the port is taken by
// a socket without SO_REUSEPORT).
boost::system::error_code open_acceptor(Worker& w, const tcp::endpoint& ep) {
    boost::system::error_code ec;
    w.acceptor.open(ep.protocol(), ec);
    if (!ec) w.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    int one = 1;
    if (!ec && ::setsockopt(w.acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
    }
    if (!ec) w.acceptor.bind(ep, ec);
    if (!ec) w.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    return ec;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The Boost.Asio echo server pollux is compared with, on 127.0.0.1.", "asio_echo"};
    std::uint16_t port = 9001;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    cli::add_port(app, "port", port, "TCP port (0: a free one)")->capture_default_str();
    cli::add_number(app, "threads", threads, 1, 1024, "io_context threads (default: one per core)");
    bool coro = false;
    app.add_flag("--coro", coro, "sessions as C++20 coroutines (asio::awaitable) instead of callbacks");
    bool shared = false;
    app.add_flag("--shared", shared, "one io_context and one acceptor run by all the threads");
    if (auto status = cli::parse(app, argc, argv)) return *status;

    // SIGINT/SIGTERM are taken by sigwait below; the io threads inherit the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::vector<std::unique_ptr<Worker>> workers;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    for (unsigned i = 0; i < (shared ? 1u : threads); ++i) {
        workers.push_back(std::make_unique<Worker>(shared ? BOOST_ASIO_CONCURRENCY_HINT_DEFAULT : 1));
        workers.back()->coro = coro;
        if (auto ec = open_acceptor(*workers.back(), ep)) {
            return cli::fail("asio_echo", "127.0.0.1:" + std::to_string(ep.port()), ec.message());
        }
        boost::system::error_code ec;
        ep = workers.back()->acceptor.local_endpoint(ec);  // port 0: the others join the kernel's port
        if (ec) return cli::fail("asio_echo", "getsockname", ec.message());
        workers.back()->accept();
    }
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ep.port()));
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back([&io = workers[shared ? 0 : i]->io] { io.run(); });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    for (auto& w : workers) w->io.stop();
    for (auto& t : pool) t.join();

    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::printf("thread %zu: connections %lu\n", i, workers[i]->accepted.load());
    }
    return 0;
}
