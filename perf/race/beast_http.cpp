// perf/race/beast_http.cpp — the Boost.Beast (Boost 1.74) "hello" HTTP/1.1 server of
// scripts/bench's race, written the way Beast is at its best:
//
//     beast_http [port] [threads]        (defaults: 9002, 1 thread; --help)
//
// * one io_context per thread with concurrency hint 1 and its own SO_REUSEPORT acceptor
//   on the same port (no strands, nothing shared), as samples/asio_echo;
// * per connection one flat_buffer and one request parser reused for every request; the
//   response is built once per request from string constants (http::response<
//   string_body>), "Hello, World!" as text/plain, like samples/http_server's /plaintext
//   and the race's nginx `return 200`;
// * keep-alive as the request asks (HTTP/1.1 default), pipelined requests answered in
//   order (Beast reads the next request from what is left in the buffer);
// * TCP_NODELAY on every connection.
//
// Any method and path get the same answer. Prints "listening on 127.0.0.1:PORT" (port 0
// picks a free one), runs until SIGINT or SIGTERM, then prints each thread's connections.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cli.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace cli = pollux::samples::cli;
using asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

    void read() {
        parser_.emplace();
        http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec) self->respond();
        });
    }

private:
    void respond() {
        const auto& req = parser_->get();
        response_.emplace(http::status::ok, req.version());
        response_->set(http::field::server, "beast");
        response_->set(http::field::content_type, "text/plain");
        response_->keep_alive(req.keep_alive());
        response_->body() = "Hello, World!";
        response_->prepare_payload();
        http::async_write(socket_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return;
            if (!self->response_->keep_alive()) {
                self->socket_.shutdown(tcp::socket::shutdown_send, ec);
                return;
            }
            self->read();
        });
    }

    tcp::socket socket_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::optional<http::response<http::string_body>> response_;
};

struct Worker {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::atomic<unsigned long> accepted{0};

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                accepted.fetch_add(1, std::memory_order_relaxed);
                std::make_shared<Session>(std::move(socket))->read();
            }
            if (acceptor.is_open()) accept();
        });
    }
};

beast::error_code open_acceptor(Worker& w, const tcp::endpoint& ep) {
    beast::error_code ec;
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
    CLI::App app{"The Boost.Beast hello HTTP/1.1 server of the benchmark race, on 127.0.0.1.", "beast_http"};
    std::uint16_t port = 9002;
    unsigned threads = 1;
    cli::add_port(app, "port", port, "TCP port (0: a free one)")->capture_default_str();
    cli::add_number(app, "threads", threads, 1, 1024, "io_context threads")->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::vector<std::unique_ptr<Worker>> workers;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    for (unsigned i = 0; i < threads; ++i) {
        workers.push_back(std::make_unique<Worker>());
        if (auto ec = open_acceptor(*workers.back(), ep)) {
            return cli::fail("beast_http", "127.0.0.1:" + std::to_string(ep.port()), ec.message());
        }
        beast::error_code ec;
        ep = workers.back()->acceptor.local_endpoint(ec);
        if (ec) return cli::fail("beast_http", "getsockname", ec.message());
        workers.back()->accept();
    }
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ep.port()));
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (auto& w : workers) pool.emplace_back([&io = w->io] { io.run(); });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    for (auto& w : workers) w->io.stop();
    for (auto& t : pool) t.join();
    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::printf("thread %zu: connections %lu\n", i, workers[i]->accepted.load());
    }
    return 0;
}
