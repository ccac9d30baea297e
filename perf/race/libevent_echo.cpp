// perf/race/libevent_echo.cpp — the libevent 2.1 echo server of scripts/bench's race,
// written the way libevent is at its best:
//
//     libevent_echo [port] [threads]     (defaults: 9001, 1 thread; --help)
//
// * one event_base per thread, each with its own evconnlistener on the same port
//   (LEV_OPT_REUSEABLE_PORT, i.e. SO_REUSEPORT), so the threads share nothing;
// * a bufferevent per connection; the read callback moves the input buffer into the
//   output buffer (evbuffer_add_buffer: no copy, the chains change hands);
// * single reads and writes of up to 64 KiB (bufferevent_set_max_single_read/write; the
//   2.1 default is 16 KiB), the size pollux and samples/asio_echo read per call, so no
//   server is held back by a smaller read;
// * TCP_NODELAY on every connection; no locking (the bases are never shared).
//
// Prints "listening on 127.0.0.1:PORT" (port 0 picks a free one), runs until SIGINT or
// SIGTERM, then prints how many connections each thread accepted.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cli.hpp"

namespace cli = pollux::samples::cli;

namespace {

constexpr std::size_t kMaxIo = 64 * 1024;

struct Worker {
    event_base* base = nullptr;
    evconnlistener* listener = nullptr;
    event* stop = nullptr;
    unsigned long accepted = 0;
};

void on_read(bufferevent* bev, void*) {
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

void on_event(bufferevent* bev, short what, void*) {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* w = static_cast<Worker*>(arg);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent* bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) {
        ::close(fd);
        return;
    }
    ++w->accepted;
    bufferevent_set_max_single_read(bev, kMaxIo);
    bufferevent_set_max_single_write(bev, kMaxIo);
    bufferevent_setcb(bev, on_read, nullptr, on_event, w);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The libevent 2.1 echo server of the benchmark race, on 127.0.0.1.", "libevent_echo"};
    std::uint16_t port = 9001;
    unsigned threads = 1;
    cli::add_port(app, "port", port, "TCP port (0: a free one)")->capture_default_str();
    cli::add_number(app, "threads", threads, 1, 1024, "event_base threads")->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    // libevent writes with write(2), so a peer that closes while a reply is still going
    // out raises SIGPIPE, whose default action ends the process: ignored, as every
    // libevent server does (the write then fails with EPIPE and the connection closes).
    ::signal(SIGPIPE, SIG_IGN);

    std::vector<std::unique_ptr<Worker>> workers;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<Worker>();
        event_config* cfg = event_config_new();
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
        w->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        if (w->base == nullptr) return cli::fail("libevent_echo", "event_base_new", "failed");
        // Without LEV_OPT_REUSEABLE_PORT on a busy port bind fails as it should; with it,
        // a port held by a socket without SO_REUSEPORT fails too.
        w->listener = evconnlistener_new_bind(
            w->base, on_accept, w.get(),
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC, -1,
            reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        if (w->listener == nullptr) {
            return cli::fail("libevent_echo", "127.0.0.1:" + std::to_string(ntohs(sa.sin_port)),
                             std::strerror(errno));
        }
        socklen_t len = sizeof sa;
        ::getsockname(evconnlistener_get_fd(w->listener), reinterpret_cast<sockaddr*>(&sa), &len);
        workers.push_back(std::move(w));
    }
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(sa.sin_port)));
    std::fflush(stdout);

    // Each base runs until its stop event fires (event_active from the main thread is
    // not thread-safe without locking; a pipe per base is: the base sees it readable).
    std::vector<int> stop_pipes;
    std::vector<std::thread> pool;
    for (auto& w : workers) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return cli::fail("libevent_echo", "pipe2", std::strerror(errno));
        stop_pipes.push_back(fds[1]);
        w->stop = event_new(
            w->base, fds[0], EV_READ, [](evutil_socket_t, short, void* b) { event_base_loopbreak(static_cast<event_base*>(b)); },
            w->base);
        event_add(w->stop, nullptr);
        pool.emplace_back([base = w->base] { event_base_dispatch(base); });
    }
    int sig = 0;
    sigwait(&stop_signals, &sig);
    for (int fd : stop_pipes) {
        char c = 1;
        [[maybe_unused]] ssize_t n = ::write(fd, &c, 1);
    }
    for (auto& t : pool) t.join();
    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::printf("thread %zu: connections %lu\n", i, workers[i]->accepted);
        evconnlistener_free(workers[i]->listener);
        event_free(workers[i]->stop);
        event_base_free(workers[i]->base);
    }
    return 0;
}
