// framework/tests/reliability/load_client.cpp — the load client of the reliability
// suites, a separate process (so the server's RSS, CPU and fd counts are its own, and
// both sides get the whole fd limit). Single-threaded, epoll, raw sockets: it shares no
// code with the library it loads.
//
//   reliability_load MODE --port P [--key value]...
//
//   hold    --conns N --seconds S --ping-ms I    T2: hold N connections, each sending a
//           64-byte ping every I ms and checking the echo; closes them when stdin closes
//   churn   --slots K --ops M --seed X --max-payload B   T3: M connections over K slots,
//           seeded payloads echoed and checked; shutdown / plain close / abortive close
//   linger  --conns N --slow K --reply B         T4: request + 50 extra bytes, then read a
//           B-byte reply (K slow readers) and classify how it ended
//   storm   --echo E --bursts U --per-burst C    T5: E connections echo every 10 ms while
//           U bursts of C connects hit the server; then time one fresh connection
//   stop    --conns N                            T11: echoing, never-reading and idle peers;
//           runs until stdin closes
//
// Progress lines ("ready", "storm_begin", "storm_end") and one final "result k=v ..."
// line go to stdout; the suites parse them. Exit status 0 unless the client itself
// could not run (bad flag, no connection at all).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "load_common.hpp"

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using pollux::reliability::ByteStream;

namespace {

std::map<std::string, long> g_args;
std::uint16_t g_port = 0;

long arg(const char* name, long fallback) {
    auto it = g_args.find(name);
    return it == g_args.end() ? fallback : it->second;
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A non-blocking connect to 127.0.0.1:port; -1 on an immediate error (errno kept).
int start_connect(int rcvbuf = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int so_error(int fd) {
    int e = 0;
    socklen_t len = sizeof e;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
    return e;
}

void abortive_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

class Epoll {
public:
    Epoll() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {}
    ~Epoll() { ::close(fd_); }
    void add(int fd, std::uint32_t ev, std::uint64_t data) { ctl(EPOLL_CTL_ADD, fd, ev, data); }
    void mod(int fd, std::uint32_t ev, std::uint64_t data) { ctl(EPOLL_CTL_MOD, fd, ev, data); }
    int wait(std::vector<epoll_event>& out, int timeout_ms) {
        const int n = ::epoll_wait(fd_, out.data(), static_cast<int>(out.size()), timeout_ms);
        return n < 0 ? 0 : n;
    }

private:
    void ctl(int op, int fd, std::uint32_t ev, std::uint64_t data) {
        epoll_event e{};
        e.events = ev;
        e.data.u64 = data;
        ::epoll_ctl(fd_, op, fd, &e);
    }
    int fd_;
};

// Waits until every fd in `fds` (non-blocking connects) is connected or failed, at most
// `limit`; returns how many connected. Failed ones are closed and set to -1.
std::size_t finish_connects(std::vector<int>& fds, std::size_t from, Clock::duration limit) {
    const auto end = Clock::now() + limit;
    std::vector<pollfd> p;
    for (std::size_t i = from; i < fds.size(); ++i) p.push_back({fds[i], POLLOUT, 0});
    std::vector<bool> done(p.size(), false);
    std::size_t left = p.size(), ok = 0;
    while (left > 0 && Clock::now() < end) {
        if (::poll(p.data(), p.size(), 100) <= 0) continue;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if (done[i] || p[i].revents == 0) continue;
            done[i] = true;
            --left;
            p[i].fd = -1;  // poll ignores it from now on
            if (so_error(fds[from + i]) == 0) {
                ++ok;
            } else {
                ::close(fds[from + i]);
                fds[from + i] = -1;
            }
        }
    }
    for (std::size_t i = 0; i < p.size(); ++i)
        if (!done[i]) {
            ::close(fds[from + i]);
            fds[from + i] = -1;
        }
    return ok;
}

// ---- hold (T2) ----
int run_hold() {
    const auto n = static_cast<std::size_t>(arg("conns", 2000));
    const auto seconds = arg("seconds", 10);
    const auto period = std::chrono::milliseconds(arg("ping-ms", 1000));
    std::vector<int> fds;
    const auto t0 = Clock::now();
    std::size_t established = 0;
    for (std::size_t i = 0; i < n; i += 256) {  // at most 256 handshakes in flight
        const std::size_t from = fds.size();
        for (std::size_t j = i; j < std::min(n, i + 256); ++j) fds.push_back(start_connect());
        established += finish_connects(fds, from, 10s);
    }
    const double connect_ms = ms_since(t0);
    std::printf("ready established=%zu connect_ms=%.0f\n", established, connect_ms);
    std::fflush(stdout);
    Epoll ep;
    for (std::size_t i = 0; i < n; ++i)
        if (fds[i] >= 0) ep.add(fds[i], EPOLLIN | EPOLLRDHUP, i);
    std::vector<std::uint64_t> sent(n, 0), got(n, 0);
    std::vector<std::size_t> partial(n, 0);
    std::uint64_t pings = 0, pongs = 0, bad = 0, unexpected_closes = 0;
    std::vector<epoll_event> evs(1024);
    const auto start = Clock::now();
    const auto stop_pinging = start + std::chrono::seconds(seconds);
    std::size_t cursor = 0;
    std::uint64_t round = 0;
    auto due = [&](std::size_t i, std::uint64_t r) {
        return start + period * static_cast<long>(r) + period * static_cast<long>(i) / static_cast<long>(n);
    };
    char buf[4096];
    for (;;) {
        const auto now = Clock::now();
        const bool pinging = now < stop_pinging;
        if (!pinging && pongs + bad >= pings) break;
        if (now > stop_pinging + 10s) break;  // replies lost: counted below
        while (pinging && due(cursor, round) <= now) {
            if (fds[cursor] >= 0) {
                char ping[64];
                std::snprintf(ping, sizeof ping, "%-31zu%-32llu", cursor, static_cast<unsigned long long>(sent[cursor]));
                ping[63] = '\n';
                if (::send(fds[cursor], ping, 64, MSG_NOSIGNAL) == 64) {
                    ++sent[cursor];
                    ++pings;
                } else {
                    ++bad;
                }
            }
            if (++cursor == n) {
                cursor = 0;
                ++round;
            }
        }
        const int k = ep.wait(evs, 5);
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            const auto i = static_cast<std::size_t>(evs[e].data.u64);
            if (fds[i] < 0) continue;
            const ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                ++unexpected_closes;
                ::close(fds[i]);
                fds[i] = -1;
                continue;
            }
            partial[i] += static_cast<std::size_t>(r);
            while (partial[i] >= 64) {  // each pong is a ping's 64 bytes, in order
                partial[i] -= 64;
                ++got[i];
                ++pongs;
            }
        }
    }
    std::uint64_t mismatched = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (fds[i] >= 0 && (got[i] != sent[i] || partial[i] != 0)) ++mismatched;
    std::printf("result established=%zu connect_ms=%.0f pings=%llu pongs=%llu send_errors=%llu unexpected_closes=%llu mismatched=%llu\n",
                established, connect_ms, static_cast<unsigned long long>(pings), static_cast<unsigned long long>(pongs),
                static_cast<unsigned long long>(bad), static_cast<unsigned long long>(unexpected_closes),
                static_cast<unsigned long long>(mismatched));
    std::fflush(stdout);
    // Hold on until the suite has looked at the server (it closes stdin), at most 60 s.
    for (const auto until = Clock::now() + 60s; Clock::now() < until;) {
        pollfd in{0, POLLIN, 0};
        char c;
        if (::poll(&in, 1, 100) == 1 && ::read(0, &c, 1) <= 0) break;
    }
    for (int fd : fds)
        if (fd >= 0) ::close(fd);
    return established == 0 ? 1 : 0;
}

}  // namespace

int run_churn(long slots, long ops, long seed, long max_payload);
int run_linger(long conns, long slow, long reply);
int run_storm(long echo, long bursts, long per_burst);
int run_stop(long conns);

namespace pollux::reliability {
int start_connect_for(int rcvbuf) { return start_connect(rcvbuf); }
int so_error_of(int fd) { return so_error(fd); }
void abortive_close_of(int fd) { abortive_close(fd); }
}  // namespace pollux::reliability

int main(int argc, char** argv) {
    // A suite may have lowered the soft fd limit (T5); the client wants its own.
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    if (argc < 2) {
        std::fprintf(stderr, "usage: reliability_load hold|churn|linger|storm|stop --port P [--key value]...\n");
        return 2;
    }
    const std::string mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strncmp(argv[i], "--", 2) != 0) {
            std::fprintf(stderr, "reliability_load: bad flag %s\n", argv[i]);
            return 2;
        }
        g_args[argv[i] + 2] = std::strtol(argv[i + 1], nullptr, 10);
    }
    g_port = static_cast<std::uint16_t>(arg("port", 0));
    if (g_port == 0) {
        std::fprintf(stderr, "reliability_load: --port is required\n");
        return 2;
    }
    if (mode == "hold") return run_hold();
    if (mode == "churn") return run_churn(arg("slots", 256), arg("ops", 100000), arg("seed", 1), arg("max-payload", 256 * 1024));
    if (mode == "linger") return run_linger(arg("conns", 200), arg("slow", 20), arg("reply", 1 << 20));
    if (mode == "storm") return run_storm(arg("echo", 20), arg("bursts", 10), arg("per-burst", 200));
    if (mode == "stop") return run_stop(arg("conns", 1500));
    std::fprintf(stderr, "reliability_load: unknown mode %s\n", mode.c_str());
    return 2;
}
