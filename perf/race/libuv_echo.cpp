// perf/race/libuv_echo.cpp — the libuv 1.44 echo server of scripts/bench's race, written
// the way libuv is at its best:
//
//     libuv_echo [port] [threads]        (defaults: 9001, 1 thread; --help)
//
// * one uv_loop_t per thread, each with its own listening socket on the same port with
//   SO_REUSEPORT (libuv 1.44 has no flag for it: the socket is made, bound and handed to
//   uv_tcp_open), so the threads share nothing;
// * one fixed 64 KiB buffer per connection, handed out by the alloc callback (the size
//   pollux and samples/asio_echo read per call);
// * the read callback echoes with uv_try_write (no request, no callback on the common
//   path); only what the kernel did not take goes through uv_write, and reading pauses
//   until that write completes, so the one buffer is never overwritten;
// * TCP_NODELAY on every connection (uv_tcp_nodelay).
//
// Prints "listening on 127.0.0.1:PORT" (port 0 picks a free one), runs until SIGINT or
// SIGTERM, then prints how many connections each thread accepted.
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "cli.hpp"

namespace cli = pollux::samples::cli;

namespace {

constexpr std::size_t kBuffer = 64 * 1024;

struct Worker {
    uv_loop_t loop{};
    uv_tcp_t listener{};
    uv_async_t stop{};
    unsigned long accepted = 0;
};

struct Session {
    uv_tcp_t tcp{};
    uv_write_t write{};
    char data[kBuffer];
};

void on_close(uv_handle_t* h) { delete reinterpret_cast<Session*>(h); }

void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* s = reinterpret_cast<Session*>(h);
    *buf = uv_buf_init(s->data, kBuffer);
}

void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t*);

void on_written(uv_write_t* req, int status) {
    auto* s = static_cast<Session*>(req->data);
    if (status < 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), on_close);
        return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), on_alloc, on_read);
}

void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t*) {
    auto* s = reinterpret_cast<Session*>(stream);
    if (n < 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
        return;
    }
    if (n == 0) return;
    uv_buf_t out = uv_buf_init(s->data, static_cast<unsigned>(n));
    int w = uv_try_write(stream, &out, 1);
    if (w == n) return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
        return;
    }
    std::size_t done = w > 0 ? static_cast<std::size_t>(w) : 0;
    out = uv_buf_init(s->data + done, static_cast<unsigned>(static_cast<std::size_t>(n) - done));
    uv_read_stop(stream);
    s->write.data = s;
    if (uv_write(&s->write, stream, &out, 1, on_written) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
    }
}

void on_connection(uv_stream_t* server, int status) {
    if (status < 0) return;
    auto* w = static_cast<Worker*>(server->data);
    auto* s = new Session;
    uv_tcp_init(&w->loop, &s->tcp);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&s->tcp)) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), on_close);
        return;
    }
    ++w->accepted;
    uv_tcp_nodelay(&s->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), on_alloc, on_read);
}

// A listening SO_REUSEPORT socket on sa (sa's port is updated when it was 0); -errno on error.
int reuseport_listener(sockaddr_in& sa) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    socklen_t len = sizeof sa;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The libuv 1.44 echo server of the benchmark race, on 127.0.0.1.", "libuv_echo"};
    std::uint16_t port = 9001;
    unsigned threads = 1;
    cli::add_port(app, "port", port, "TCP port (0: a free one)")->capture_default_str();
    cli::add_number(app, "threads", threads, 1, 1024, "uv_loop threads")->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    // libuv writes with write(2), so a peer that closes while a reply is still going
    // out raises SIGPIPE, whose default action ends the process: ignored, as every
    // libuv server does (the write then fails with EPIPE and the connection closes).
    ::signal(SIGPIPE, SIG_IGN);

    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<Worker>();
        uv_loop_init(&w->loop);
        const std::string where = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
        int fd = reuseport_listener(sa);
        if (fd < 0) return cli::fail("libuv_echo", where, std::strerror(-fd));
        uv_tcp_init(&w->loop, &w->listener);
        w->listener.data = w.get();
        int rc = uv_tcp_open(&w->listener, fd);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&w->listener), SOMAXCONN, on_connection);
        if (rc != 0) return cli::fail("libuv_echo", where, uv_strerror(rc));
        uv_async_init(&w->loop, &w->stop, [](uv_async_t* a) { uv_stop(a->loop); });
        workers.push_back(std::move(w));
    }
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(sa.sin_port)));
    std::fflush(stdout);

    std::vector<std::thread> pool;
    for (auto& w : workers) pool.emplace_back([&loop = w->loop] { uv_run(&loop, UV_RUN_DEFAULT); });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    for (auto& w : workers) uv_async_send(&w->stop);
    for (auto& t : pool) t.join();
    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::printf("thread %zu: connections %lu\n", i, workers[i]->accepted);
    }
    return 0;
}
