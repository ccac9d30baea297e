// net/tests/support/tcp_support.hpp — test helpers for the TCP tests: a connected
// loopback pair, bounded waits for an event, bounded write-all / read-exactly, and a
// SIGPIPE counter. Every loop here gives up after a deadline (5 s by default), so a
// broken contract fails the test instead of hanging it.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"

namespace pollux::test {

inline constexpr std::chrono::milliseconds kDeadline{5000};

// Polls until an event for `token` satisfies `pred`, or `deadline` passes. Returns
// the matching event; nullopt on timeout. Events for other tokens are ignored.
template <class Pred>
std::optional<Event> wait_for_event(Poll& poll, Events& events, Token token, Pred pred,
                                    std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        auto r = poll.poll(events, std::chrono::milliseconds(50));
        if (!r && !is_interrupted(r.error())) {
            ADD_FAILURE() << "poll failed: " << r.error().message();
            return std::nullopt;
        }
        for (const Event& ev : events) {
            if (ev.token() == token && pred(ev)) return ev;
        }
    }
    return std::nullopt;
}

// Retries `op()` while it returns WouldBlock, sleeping 1 ms between tries, up to the
// deadline. For tests that do not care about events, only about the outcome.
template <class Op>
auto retry_while_would_block(Op op, std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    auto r = op();
    while (is_would_block(r) && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        r = op();
    }
    return r;
}

// Writes all of `bytes`, retrying on WouldBlock. False (and a test failure) on error
// or timeout.
inline bool write_all(const net::TcpStream& s, std::span<const std::byte> bytes) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!bytes.empty()) {
        auto n = s.write(bytes);
        if (n) {
            bytes = bytes.subspan(*n);
        } else if (!is_would_block(n) || std::chrono::steady_clock::now() >= until) {
            ADD_FAILURE() << "write_all: " << n.error().message();
            return false;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    return true;
}

// Reads exactly `n` bytes, retrying on WouldBlock; returns fewer on EOF, error or
// timeout (the caller's comparison then fails).
inline std::string read_exactly(const net::TcpStream& s, std::size_t n) {
    std::string out;
    std::vector<std::byte> buf(n);
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
        auto r = s.read(std::span(buf).first(n - out.size()));
        if (r && *r == 0) break;  // EOF
        if (r) {
            out.append(reinterpret_cast<const char*>(buf.data()), *r);
        } else if (is_would_block(r)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        } else {
            ADD_FAILURE() << "read_exactly: " << r.error().message();
            break;
        }
    }
    return out;
}

// A listener on `addr` (port 0) with one connected client and its accepted peer.
struct TcpPair {
    net::TcpListener listener;
    net::TcpStream client;
    net::TcpStream server;
};

inline std::optional<TcpPair> make_tcp_pair(const net::SocketAddr& addr = net::SocketAddr::loopback_v4()) {
    auto listener = net::TcpListener::bind(addr);
    if (!listener) {
        ADD_FAILURE() << "bind " << addr << ": " << listener.error().message();
        return std::nullopt;
    }
    auto client = net::TcpStream::connect(listener->local_addr().value());
    if (!client) {
        ADD_FAILURE() << "connect: " << client.error().message();
        return std::nullopt;
    }
    auto server = retry_while_would_block([&] { return listener->accept_stream(); });
    if (!server) {
        ADD_FAILURE() << "accept: " << server.error().message();
        return std::nullopt;
    }
    return TcpPair{std::move(*listener), std::move(*client), std::move(*server)};
}

// Counts SIGPIPE deliveries while alive; restores the previous disposition after.
class SigpipeCounter {
public:
    SigpipeCounter() {
        count_.store(0);
        struct sigaction sa {};
        sa.sa_handler = &on_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGPIPE, &sa, &old_);
    }
    SigpipeCounter(const SigpipeCounter&) = delete;
    SigpipeCounter& operator=(const SigpipeCounter&) = delete;
    ~SigpipeCounter() { ::sigaction(SIGPIPE, &old_, nullptr); }

    int count() const noexcept { return count_.load(); }

private:
    static void on_signal(int) { count_.fetch_add(1); }
    static inline std::atomic<int> count_{0};
    struct sigaction old_ {};
};

}  // namespace pollux::test
