// reactor/tests/support/pool_support.hpp — test helpers for the ReactorPool / Acceptor
// tests: bounded waits, blocking-style loopback clients built on poll(2), an echo
// service whose connections live on their reactors and close on a stop hook, and the
// RLIMIT_NOFILE / per-thread CPU readers. Every wait gives up after a deadline.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/interest.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLLUX_POOL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POLLUX_POOL_TEST_SANITIZED 1
#endif
#endif

namespace pollux::test {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds kWait{5000};

// Polls `pred` every millisecond until it holds or `timeout` passes.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = kWait) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= until) return pred();
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
inline std::size_t raise_fd_limit() {
    ::rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &lim);
        (void)::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return static_cast<std::size_t>(lim.rlim_cur);
}

// Waits up to `timeout` for `events` on `fd`; true if one arrived.
inline bool wait_fd(int fd, short events, std::chrono::milliseconds timeout = kWait) {
    ::pollfd p{fd, events, 0};
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        const int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        if (rc > 0) return true;
        if (rc == 0 || std::chrono::steady_clock::now() >= until) return false;
    }
}

// A connected loopback client, or an error (the connect failed or timed out).
inline Result<net::TcpStream> connect_client(const net::SocketAddr& addr, std::chrono::milliseconds timeout = kWait) {
    auto s = net::TcpStream::connect(addr);
    if (!s) return s;
    if (!wait_fd(s->fd(), POLLOUT, timeout)) return error(std::errc::timed_out);
    auto err = s->take_error();
    if (!err) return std::unexpected(err.error());
    if (*err) return std::unexpected(**err);
    return s;
}

// Connects `count` clients in batches of `batch`, waiting after each batch until the
// server has counted it in `delivered`, and closing the batch before the next (fds and
// ephemeral ports stay low). False, with a test failure, on error or timeout.
inline bool connect_in_batches(const net::SocketAddr& addr, std::size_t count, const std::atomic<std::size_t>& delivered,
                               std::size_t batch = 100) {
    const std::size_t base = delivered.load();
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(batch, count - done);
        std::vector<net::TcpStream> clients;
        for (std::size_t i = 0; i < n; ++i) {
            auto c = connect_client(addr);
            if (!c) {
                ADD_FAILURE() << "connect " << done + i << ": " << c.error().message();
                return false;
            }
            clients.push_back(std::move(*c));
        }
        done += n;
        if (!wait_until([&] { return delivered.load() >= base + done; })) {
            ADD_FAILURE() << "delivered " << delivered.load() - base << " of " << done;
            return false;
        }
    }
    return true;
}

// Reads until `n` bytes arrived, EOF, an error, or the timeout.
inline std::string read_some(const net::TcpStream& s, std::size_t n, std::chrono::milliseconds timeout = kWait) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::byte buf[4096];
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
        auto r = s.read(std::span(buf, std::min(sizeof buf, n - out.size())));
        if (r && *r == 0) break;
        if (r) {
            out.append(reinterpret_cast<const char*>(buf), *r);
            continue;
        }
        if (!is_would_block(r)) break;
        wait_fd(s.fd(), POLLIN, std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    }
    return out;
}

// Sends `msg` and expects it back within `timeout`.
inline bool round_trip(const net::TcpStream& s, std::string_view msg, std::chrono::milliseconds timeout = kWait) {
    auto w = s.write(std::as_bytes(std::span(msg)));
    if (!w || *w != msg.size()) return false;  // small messages fit the send buffer
    return read_some(s, msg.size(), timeout) == msg;
}

// True once the peer closed (EOF or reset) within `timeout`.
inline bool sees_close(const net::TcpStream& s, std::chrono::milliseconds timeout = kWait) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::byte buf[256];
    while (std::chrono::steady_clock::now() < until) {
        auto r = s.read(buf);
        if (r && *r == 0) return true;
        if (!r && !is_would_block(r)) return true;
        wait_fd(s.fd(), POLLIN, 50ms);
    }
    return false;
}

// utime + stime of one thread of this process, in seconds, read from an fd opened on
// /proc/self/task/TID/stat beforehand (pread from 0 regenerates the text, and a test
// under a tiny RLIMIT_NOFILE may not be able to open a file any more). -1 on error.
inline double thread_cpu_seconds(int stat_fd) {
    char line[1024];
    const ::ssize_t n = ::pread(stat_fd, line, sizeof line - 1, 0);
    if (n <= 0) return -1;
    line[n] = '\0';
    // Fields after the ")" that ends the comm: state(3) ... utime(14) stime(15).
    const char* p = std::strrchr(line, ')');
    if (p == nullptr) return -1;
    unsigned long utime = 0, stime = 0;
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Opens /proc/self/task/TID/stat (O_CLOEXEC); -1 on error.
inline int open_thread_stat(long tid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    return ::open(path, O_RDONLY | O_CLOEXEC);
}

inline long current_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

// An echo service for Acceptor tests. Each connection is registered on the reactor
// that received it and lives in that reactor's list (touched on that thread only); it
// echoes what it reads and closes on EOF/error, reporting the close to the pool
// through its lease. `close_all_in_loop` is the stop hook.
class EchoService {
public:
    explicit EchoService(reactor::ReactorPool& pool) : pool_(pool), live_(pool.size()) {}
    EchoService(const EchoService&) = delete;
    EchoService& operator=(const EchoService&) = delete;

    // Deletes what is left; only once no loop runs (after pool.stop()).
    ~EchoService() {
        for (auto& list : live_)
            for (Connection* c : list) delete c;
    }

    // For Acceptor::start.
    reactor::OnConnection on_connection() {
        return [this](reactor::Reactor& r, net::TcpStream s, net::SocketAddr) { open_in_loop(r, std::move(s)); };
    }

    // For ReactorPool::on_stop.
    void close_all_in_loop(reactor::Reactor& r) {
        auto& list = live_[r.index()];
        while (!list.empty()) list.back()->close();
    }

    std::size_t opened() const noexcept { return opened_.load(); }
    std::size_t closed() const noexcept { return closed_.load(); }

private:
    struct Connection final : reactor::EventHandler {
        Connection(EchoService& svc, reactor::Reactor& r, net::TcpStream s)
            : service(svc), reactor(r), stream(std::move(s)), lease(svc.pool_.adopt_connection(r.index())) {}

        void on_event(const Event&) override {
            std::byte buf[4096];
            for (;;) {
                auto n = stream.read(buf);
                if (n && *n > 0) {
                    std::span<const std::byte> out(buf, *n);
                    while (!out.empty()) {  // small test messages: the send buffer has room
                        auto w = stream.write(out);
                        if (!w) {
                            if (is_would_block(w)) continue;
                            close();
                            return;
                        }
                        out = out.subspan(*w);
                    }
                    continue;
                }
                if (!n && is_would_block(n)) return;
                close();  // EOF or error
                return;
            }
        }

        void close() {
            (void)reactor.deregister_in_loop(stream, id);
            auto& list = service.live_[reactor.index()];
            std::erase(list, this);
            lease.reset();
            service.closed_.fetch_add(1);
            reactor.defer_in_loop([self = this] { delete self; });
        }

        EchoService& service;
        reactor::Reactor& reactor;
        net::TcpStream stream;
        reactor::ConnectionLease lease;
        reactor::RegistrationId id;
    };

    void open_in_loop(reactor::Reactor& r, net::TcpStream s) {
        auto* c = new Connection(*this, r, std::move(s));
        auto id = r.register_in_loop(c->stream, Interest::READABLE, *c);
        if (!id) {
            delete c;
            return;
        }
        c->id = *id;
        live_[r.index()].push_back(c);
        opened_.fetch_add(1);
    }

    reactor::ReactorPool& pool_;
    std::vector<std::vector<Connection*>> live_;  // [reactor] -> that loop's connections
    std::atomic<std::size_t> opened_{0};
    std::atomic<std::size_t> closed_{0};
};

}  // namespace pollux::test
