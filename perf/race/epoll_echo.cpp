// perf/race/epoll_echo.cpp — the floor of scripts/bench's echo race: the least a correct
// edge-triggered epoll echo server does per message, with no library and no framework.
//
//     epoll_echo [port] [threads]        (defaults: 9001, 1 thread; --help)
//
// * per thread one epoll set and one SO_REUSEPORT listener on the same port;
// * accept4(SOCK_NONBLOCK | SOCK_CLOEXEC), TCP_NODELAY, each connection registered once
//   for EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET (no epoll_ctl afterwards);
// * one read into a 64 KiB buffer per readiness event when it comes back short (a short
//   read means the socket is drained: no read that ends in EAGAIN), else read again;
// * each read is written back at once; what the kernel does not take waits in a
//   per-connection queue, reading pauses until EPOLLOUT has flushed it;
// * with one thread the loop runs on the main thread and SIGINT/SIGTERM arrive through a
//   signalfd: a process with no second thread keeps glibc's syscall wrappers on their
//   short path (no cancellation bookkeeping), which is part of being the floor.
//
// Prints "listening on 127.0.0.1:PORT" (port 0 picks a free one), runs until SIGINT or
// SIGTERM, then prints how many connections each thread accepted.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cli.hpp"

namespace cli = pollux::samples::cli;

namespace {

constexpr std::size_t kBuffer = 64 * 1024;

struct Conn {
    int fd;
    std::string pending;  // bytes the kernel has not taken yet
};

struct Worker {
    int ep = -1;
    int listener = -1;
    int stop = -1;  // eventfd: the main thread's stop request
    unsigned long accepted = 0;
    Conn listen_tag{-1, {}};  // epoll data of the listener and of the stop eventfd
    Conn stop_tag{-1, {}};
    std::unordered_map<int, std::unique_ptr<Conn>> conns;
    std::vector<char> buf = std::vector<char>(kBuffer);
};

void close_conn(Worker& w, Conn& c) {
    ::close(c.fd);  // also leaves the epoll set
    w.conns.erase(c.fd);
}

// Writes what is pending; false when the connection failed.
bool flush(Conn& c) {
    while (!c.pending.empty()) {
        ssize_t n = ::send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EINTR;
        c.pending.erase(0, static_cast<std::size_t>(n));
    }
    return true;
}

// Reads and echoes until a short read (unless the peer has closed: then until EOF),
// EAGAIN, or output backs up; false on EOF or error.
bool on_readable(Worker& w, Conn& c, bool hup) {
    while (c.pending.empty()) {
        ssize_t n = ::recv(c.fd, w.buf.data(), kBuffer, 0);
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EINTR;
        ssize_t sent = ::send(c.fd, w.buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) return false;
        if (sent < n) c.pending.assign(w.buf.data() + (sent > 0 ? sent : 0), w.buf.data() + n);
        if (static_cast<std::size_t>(n) < kBuffer && !hup) return true;  // short read: drained
    }
    return true;
}

void accept_all(Worker& w) {
    for (;;) {
        int fd = ::accept4(w.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN, or a transient error: the next event retries
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        auto c = std::make_unique<Conn>(Conn{fd, {}});
        ev.data.ptr = c.get();
        if (::epoll_ctl(w.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            continue;
        }
        w.conns.emplace(fd, std::move(c));
        ++w.accepted;
    }
}

void run(Worker& w) {
    epoll_event events[256];
    for (;;) {
        int n = ::epoll_wait(w.ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            auto* cp = static_cast<Conn*>(events[i].data.ptr);
            if (cp == &w.stop_tag) return;
            if (cp == &w.listen_tag) {
                accept_all(w);
                continue;
            }
            Conn& c = *cp;
            std::uint32_t e = events[i].events;
            bool ok = !(e & EPOLLERR);
            if (ok && (e & EPOLLOUT)) ok = flush(c);
            if (ok && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) ok = on_readable(w, c, e & (EPOLLRDHUP | EPOLLHUP));
            if (!ok) close_conn(w, c);
        }
    }
}

// A listening SO_REUSEPORT socket on sa (its port filled in when 0); -errno on error.
int listen_on(sockaddr_in& sa) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    socklen_t len = sizeof sa;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, SOMAXCONN) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The raw epoll echo server of the benchmark race (the floor), on 127.0.0.1.", "epoll_echo"};
    std::uint16_t port = 9001;
    unsigned threads = 1;
    cli::add_port(app, "port", port, "TCP port (0: a free one)")->capture_default_str();
    cli::add_number(app, "threads", threads, 1, 1024, "epoll threads")->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<Worker>();
        const std::string where = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
        w->listener = listen_on(sa);
        if (w->listener < 0) return cli::fail("epoll_echo", where, std::strerror(-w->listener));
        w->ep = ::epoll_create1(EPOLL_CLOEXEC);
        w->stop = threads == 1 ? ::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK)
                               : ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->ep < 0 || w->stop < 0) return cli::fail("epoll_echo", "epoll_create1/eventfd", std::strerror(errno));
        for (auto [fd, tag] : {std::pair{w->listener, &w->listen_tag}, std::pair{w->stop, &w->stop_tag}}) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = tag;
            ::epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
        }
        workers.push_back(std::move(w));
    }
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(sa.sin_port)));
    std::fflush(stdout);

    if (threads == 1) {
        run(*workers[0]);
    } else {
        std::vector<std::thread> pool;
        for (auto& w : workers) pool.emplace_back([&w = *w] { run(w); });
        int sig = 0;
        sigwait(&stop_signals, &sig);
        for (auto& w : workers) {
            std::uint64_t one = 1;
            [[maybe_unused]] ssize_t n = ::write(w->stop, &one, sizeof one);
        }
        for (auto& t : pool) t.join();
    }
    for (std::size_t i = 0; i < workers.size(); ++i) {
        std::printf("thread %zu: connections %lu\n", i, workers[i]->accepted);
        for (auto& [fd, c] : workers[i]->conns) ::close(fd);
    }
    return 0;
}
