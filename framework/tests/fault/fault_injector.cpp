// framework/tests/fault/fault_injector.cpp — test-only: the --wrap'd syscalls
// (fault_injector.hpp says which and why).
#include "fault_injector.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

extern "C" {
ssize_t __real_recv(int fd, void* buf, size_t len, int flags);
ssize_t __real_send(int fd, const void* buf, size_t len, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr* msg, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr* msg, int flags);
ssize_t __real_sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to, socklen_t tolen);
ssize_t __real_readv(int fd, const struct iovec* iov, int iovcnt);
ssize_t __real_writev(int fd, const struct iovec* iov, int iovcnt);
int __real_accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev);
int __real_close(int fd);
}

namespace pollux::fault {

Tally& Tally::operator+=(const Tally& o) noexcept {
    calls += o.calls;
    eintr += o.eintr;
    eagain += o.eagain;
    short_io += o.short_io;
    reset += o.reset;
    emfile += o.emfile;
    return *this;
}

namespace {

struct Watched {
    std::uint16_t port = 0;  // the client's port, for accepted sockets
    bool reset = false;      // an ECONNRESET was injected: sticky
    int epfd = -1;           // the last epoll registration, for re-arming
    epoll_event ev{};
};

enum class Fault { none, eintr, eagain, short_io, reset };

struct State {
    std::mutex mu;
    bool armed = false;
    Rates rates;
    std::mt19937_64 rng{1};
    Tally tally;
    std::unordered_set<std::uint16_t> listener_ports;
    std::unordered_map<int, Watched> sockets;
    std::unordered_set<std::uint16_t> reset_ports;
    std::unordered_set<std::uint16_t> accepted_ports;
};

State& state() {
    static State* s = new State;  // never destroyed: wrappers may run during exit
    return *s;
}

bool roll(State& s, unsigned per_mille) { return per_mille != 0 && s.rng() % 1000 < per_mille; }

// Decides the fate of one call on `fd`; for a short count, `keep` is how many of `len`
// bytes to move (1 .. len-1). Returns none for sockets not watched.
Fault decide(int fd, std::size_t len, std::size_t& keep) {
    State& s = state();
    std::lock_guard lock(s.mu);
    auto it = s.sockets.find(fd);
    if (it == s.sockets.end()) return Fault::none;
    if (it->second.reset) return Fault::reset;
    if (!s.armed) return Fault::none;
    ++s.tally.calls;
    if (roll(s, s.rates.eintr)) {
        ++s.tally.eintr;
        return Fault::eintr;
    }
    if (roll(s, s.rates.eagain)) {
        ++s.tally.eagain;
        return Fault::eagain;
    }
    if (len > 1 && roll(s, s.rates.short_io)) {
        ++s.tally.short_io;
        keep = 1 + static_cast<std::size_t>(s.rng() % (len - 1));
        return Fault::short_io;
    }
    if (roll(s, s.rates.reset)) {
        ++s.tally.reset;
        it->second.reset = true;
        if (it->second.port != 0) s.reset_ports.insert(it->second.port);
        return Fault::reset;
    }
    return Fault::none;
}

// Readiness the kernel still has is reported again (see the header).
void rearm(int fd) {
    // Under the lock: close() forgets the socket under it too, so the MOD can never
    // reach a new socket that took the number.
    State& s = state();
    std::lock_guard lock(s.mu);
    auto it = s.sockets.find(fd);
    if (it == s.sockets.end() || it->second.epfd < 0) return;
    epoll_event ev = it->second.ev;
    (void)__real_epoll_ctl(it->second.epfd, EPOLL_CTL_MOD, fd, &ev);
}

ssize_t fail(int err) {
    errno = err;
    return -1;
}

// A copy of `iov` cut down to `keep` bytes in total.
std::vector<iovec> cut(const iovec* iov, std::size_t n, std::size_t keep) {
    std::vector<iovec> out;
    for (std::size_t i = 0; i < n && keep != 0; ++i) {
        iovec v = iov[i];
        v.iov_len = std::min(v.iov_len, keep);
        keep -= v.iov_len;
        out.push_back(v);
    }
    return out;
}

std::size_t total(const iovec* iov, std::size_t n) {
    std::size_t t = 0;
    for (std::size_t i = 0; i < n; ++i) t += iov[i].iov_len;
    return t;
}

std::uint16_t port_of(int fd, bool peer) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) < 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

// The common shape of every data call: `real(keep)` moves at most `keep` bytes.
template <class Real>
ssize_t inject(int fd, std::size_t len, int reset_errno, Real real) {
    std::size_t keep = len;
    switch (decide(fd, len, keep)) {
        case Fault::none:
            return real(len);
        case Fault::eintr:
            return fail(EINTR);
        case Fault::eagain:
            rearm(fd);
            return fail(EAGAIN);
        case Fault::reset:
            return fail(reset_errno);
        case Fault::short_io: {
            const ssize_t n = real(keep);
            rearm(fd);
            return n;
        }
    }
    return real(len);
}

}  // namespace

void arm(std::uint64_t seed, const Rates& rates) {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.armed = true;
    s.rates = rates;
    s.rng.seed(seed);
    s.tally = {};
    s.listener_ports.clear();
    s.sockets.clear();
    s.reset_ports.clear();
    s.accepted_ports.clear();
}

void disarm() {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.armed = false;
}

void watch_listener_port(std::uint16_t port) {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.listener_ports.insert(port);
}

void watch(int fd) {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.sockets[fd] = Watched{};
}

Tally tally() {
    State& s = state();
    std::lock_guard lock(s.mu);
    return s.tally;
}

bool was_reset(std::uint16_t port) {
    State& s = state();
    std::lock_guard lock(s.mu);
    return s.reset_ports.contains(port);
}

bool was_accepted(std::uint16_t port) {
    State& s = state();
    std::lock_guard lock(s.mu);
    return s.accepted_ports.contains(port);
}

Rates rates_from_env(const Rates& fallback) {
    const char* v = std::getenv("POLLUX_FAULT_RATES");
    if (v == nullptr) return fallback;
    Rates r;
    if (std::sscanf(v, "%u,%u,%u,%u,%u", &r.eintr, &r.eagain, &r.short_io, &r.reset, &r.emfile) != 5) {
        std::fprintf(stderr, "POLLUX_FAULT_RATES must be five per-mille numbers: eintr,eagain,short,reset,emfile\n");
        std::abort();
    }
    return r;
}

void seeds_from_env(std::uint64_t& first, std::uint64_t& last) {
    const char* v = std::getenv("POLLUX_FAULT_SEEDS");
    if (v == nullptr) return;
    unsigned long long a = 0, b = 0;
    const int got = std::sscanf(v, "%llu-%llu", &a, &b);
    if (got < 1 || (got == 2 && b < a)) {
        std::fprintf(stderr, "POLLUX_FAULT_SEEDS must be N or FIRST-LAST\n");
        std::abort();
    }
    first = a;
    last = got == 2 ? b : a;
}

std::string to_string(const Rates& r) {
    return "eintr " + std::to_string(r.eintr) + ", eagain " + std::to_string(r.eagain) + ", short " +
           std::to_string(r.short_io) + ", reset " + std::to_string(r.reset) + ", emfile " + std::to_string(r.emfile) +
           " per mille";
}

std::string to_string(const Tally& t) {
    return std::to_string(t.calls) + " calls: " + std::to_string(t.eintr) + " EINTR, " + std::to_string(t.eagain) +
           " EAGAIN, " + std::to_string(t.short_io) + " short, " + std::to_string(t.reset) + " ECONNRESET, " +
           std::to_string(t.emfile) + " EMFILE";
}

}  // namespace pollux::fault

using namespace pollux::fault;

extern "C" {

ssize_t __wrap_recv(int fd, void* buf, size_t len, int flags) {
    return inject(fd, len, ECONNRESET, [&](std::size_t keep) { return __real_recv(fd, buf, keep, flags); });
}

ssize_t __wrap_send(int fd, const void* buf, size_t len, int flags) {
    return inject(fd, len, ECONNRESET, [&](std::size_t keep) { return __real_send(fd, buf, keep, flags); });
}

// A datagram goes whole or not at all: decided as a 1-byte call, so it is never cut short.
ssize_t __wrap_sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to, socklen_t tolen) {
    return inject(fd, 1, ECONNREFUSED, [&](std::size_t) { return __real_sendto(fd, buf, len, flags, to, tolen); });
}

ssize_t __wrap_recvmsg(int fd, struct msghdr* msg, int flags) {
    const std::size_t len = total(msg->msg_iov, msg->msg_iovlen);
    return inject(fd, len, ECONNRESET, [&](std::size_t keep) {
        if (keep == len) return __real_recvmsg(fd, msg, flags);
        auto iov = cut(msg->msg_iov, msg->msg_iovlen, keep);
        msghdr m = *msg;
        m.msg_iov = iov.data();
        m.msg_iovlen = iov.size();
        const ssize_t n = __real_recvmsg(fd, &m, flags);
        msg->msg_flags = m.msg_flags;
        msg->msg_namelen = m.msg_namelen;
        msg->msg_controllen = m.msg_controllen;
        return n;
    });
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr* msg, int flags) {
    const std::size_t len = total(msg->msg_iov, msg->msg_iovlen);
    return inject(fd, len, ECONNRESET, [&](std::size_t keep) {
        if (keep == len) return __real_sendmsg(fd, msg, flags);
        auto iov = cut(msg->msg_iov, msg->msg_iovlen, keep);
        msghdr m = *msg;
        m.msg_iov = iov.data();
        m.msg_iovlen = iov.size();
        return __real_sendmsg(fd, &m, flags);
    });
}

ssize_t __wrap_readv(int fd, const struct iovec* iov, int iovcnt) {
    const std::size_t n = iovcnt > 0 ? static_cast<std::size_t>(iovcnt) : 0;
    const std::size_t len = total(iov, n);
    return inject(fd, len, ECONNRESET, [&](std::size_t keep) {
        if (keep == len) return __real_readv(fd, iov, iovcnt);
        auto v = cut(iov, n, keep);
        return __real_readv(fd, v.data(), static_cast<int>(v.size()));
    });
}

ssize_t __wrap_writev(int fd, const struct iovec* iov, int iovcnt) {
    const std::size_t n = iovcnt > 0 ? static_cast<std::size_t>(iovcnt) : 0;
    const std::size_t len = total(iov, n);
    return inject(fd, len, EPIPE, [&](std::size_t keep) {
        if (keep == len) return __real_writev(fd, iov, iovcnt);
        auto v = cut(iov, n, keep);
        return __real_writev(fd, v.data(), static_cast<int>(v.size()));
    });
}

int __wrap_accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
    State& s = state();
    bool listener = false;
    const std::uint16_t local = port_of(fd, false);
    {
        std::lock_guard lock(s.mu);
        listener = local != 0 && s.listener_ports.contains(local);
        if (listener && s.armed) {
            ++s.tally.calls;
            if (roll(s, s.rates.emfile)) {
                ++s.tally.emfile;
                errno = EMFILE;
                return -1;
            }
        }
    }
    const int conn = __real_accept4(fd, addr, len, flags);
    if (conn >= 0 && listener) {
        const std::uint16_t port = port_of(conn, true);
        std::lock_guard lock(s.mu);
        s.sockets[conn] = Watched{.port = port};
        if (port != 0) s.accepted_ports.insert(port);
    }
    return conn;
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
    {
        State& s = state();
        std::lock_guard lock(s.mu);
        auto it = s.sockets.find(fd);
        if (it != s.sockets.end()) {
            if (op == EPOLL_CTL_DEL) {
                it->second.epfd = -1;
            } else if (ev != nullptr) {
                it->second.epfd = epfd;
                it->second.ev = *ev;
            }
        }
    }
    return __real_epoll_ctl(epfd, op, fd, ev);
}

// Forget the socket before its number can be handed out again.
int __wrap_close(int fd) {
    {
        State& s = state();
        std::lock_guard lock(s.mu);
        s.sockets.erase(fd);
    }
    return __real_close(fd);
}

}  // extern "C"
