// A small churn-and-integrity run (mini T3) with syscall faults injected into the
// server's sockets: a TcpServer echo on 2 reactors and, per seed, kConns client
// connections, each sending a seeded payload of 0-256 KiB, then shutdown(SHUT_WR) and
// reading the echo to EOF. The server's recv/recvmsg/send/sendmsg fail at seeded
// random with EINTR, EAGAIN, short counts or ECONNRESET, and accept4 with EMFILE
// (fault_injector.hpp). Verdicts, per connection:
//   * no fault that ends a connection: the client gets every byte back, in order,
//     then EOF, and the server closes it once with CloseReason::peer_closed;
//   * an injected ECONNRESET on its server socket: what the client got is a prefix of
//     what it sent, and the server closes it once with CloseReason::reset;
//   * shed by the EMFILE path (accepted and closed, never opened): the client got
//     nothing back.
// Seeds: POLLUX_FAULT_SEEDS (default 1-100); rates: POLLUX_FAULT_RATES.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "fault_injector.hpp"
#include "pollux/core/log.hpp"
#include "pollux/framework/tcp_server.hpp"

using namespace pollux;
using namespace pollux::framework;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kConns = 6;
constexpr std::size_t kMaxPayload = 256 * 1024;
constexpr auto kSeedTimeout = std::chrono::seconds(20);

// Defaults: a connection makes some ten to a hundred data calls (reads of up to 64 KiB),
// so most see several EINTR/EAGAIN/short counts and a few are reset; one accept in
// thirty fails with EMFILE.
constexpr fault::Rates kDefaultRates{.eintr = 100, .eagain = 100, .short_io = 200, .reset = 15, .emfile = 30};

std::uint16_t port_of(int fd, bool peer) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                        : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (rc < 0 || ss.ss_family != AF_INET) return 0;
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// What the server saw, by client port.
struct ServerLog {
    std::mutex mu;
    struct Entry {
        int opens = 0;
        int closes = 0;
        CloseReason reason = CloseReason::error;
    };
    std::map<std::uint16_t, Entry> by_port;
    int total_closes = 0;
    int total_opens = 0;
};

struct ClientConn {
    int fd = -1;
    std::uint16_t port = 0;
    std::vector<std::byte> payload;
    std::size_t sent = 0;
    bool shut = false;
    std::vector<std::byte> got;
    bool eof = false;
    int error = 0;  // errno of a failed recv/send
    bool done() const { return eof || error != 0; }
};

void step(ClientConn& c) {
    while (c.sent < c.payload.size() && c.error == 0) {
        const std::size_t n = std::min<std::size_t>(c.payload.size() - c.sent, 64 * 1024);
        const ssize_t w = ::send(c.fd, c.payload.data() + c.sent, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR) c.error = errno;
            break;
        }
        c.sent += static_cast<std::size_t>(w);
    }
    if (c.sent == c.payload.size() && !c.shut && c.error == 0) {
        if (::shutdown(c.fd, SHUT_WR) < 0) c.error = errno;
        c.shut = true;
    }
    std::byte buf[64 * 1024];
    while (!c.done()) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r > 0) {
            c.got.insert(c.got.end(), buf, buf + r);
        } else if (r == 0) {
            c.eof = true;
        } else {
            if (errno != EAGAIN && errno != EINTR) c.error = errno;
            break;
        }
    }
}

// The echo server every seed talks to, with what it saw.
struct EchoServer {
    std::unique_ptr<TcpServer> server;
    ServerLog log;

    EchoServer() {
        TcpServerOptions opts;
        opts.reactors = 2;
        opts.resource_pause = std::chrono::milliseconds(5);
        server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
        server->on_open([this](Connection& conn) {
            const std::uint16_t p = port_of(conn.fd(), true);
            conn.set_context(reinterpret_cast<void*>(static_cast<std::uintptr_t>(p)));
            std::lock_guard lock(log.mu);
            ++log.by_port[p].opens;
            ++log.total_opens;
        });
        server->on_data([](Connection& conn, Buffer& in) {
            conn.send(in.readable());
            in.consume_all();
        });
        server->on_close([this](Connection& conn, CloseReason why) {
            const auto p = static_cast<std::uint16_t>(reinterpret_cast<std::uintptr_t>(conn.context()));
            std::lock_guard lock(log.mu);
            auto& e = log.by_port[p];
            ++e.closes;
            e.reason = why;
            ++log.total_closes;
        });
        EXPECT_TRUE(server->start().has_value());
    }
};

// One seed: returns the injector's tally; adds failures through gtest.
fault::Tally run_seed(std::uint64_t seed, const fault::Rates& rates, EchoServer& echo) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (POLLUX_FAULT_SEEDS=" + std::to_string(seed) + ")");
    ServerLog& log = echo.log;
    {
        std::lock_guard lock(log.mu);  // the previous seed's connections are all closed
        log.by_port.clear();
    }
    const std::uint16_t server_port = echo.server->local_addr().port();
    fault::arm(seed, rates);
    fault::watch_listener_port(server_port);

    // The clients: one thread, non-blocking sockets, poll(2).
    std::mt19937_64 rng(seed);
    std::vector<ClientConn> conns(kConns);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (auto& c : conns) {
        // Sizes spread over 0..256 KiB, with the edges (0, 1, the maximum) drawn often.
        const std::uint64_t pick = rng() % 8;
        const std::size_t size = pick == 0 ? 0 : pick == 1 ? 1 : pick == 2 ? kMaxPayload : rng() % (kMaxPayload + 1);
        c.payload.resize(size);
        for (auto& b : c.payload) b = static_cast<std::byte>(rng());
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        EXPECT_GE(c.fd, 0);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0 && errno != EINPROGRESS) c.error = errno;
        c.port = port_of(c.fd, false);
    }
    const auto deadline = Clock::now() + kSeedTimeout;
    for (;;) {
        std::vector<pollfd> pfds;
        std::vector<ClientConn*> who;
        for (auto& c : conns) {
            if (c.done()) continue;
            pfds.push_back({c.fd, static_cast<short>(POLLIN | (c.sent < c.payload.size() ? POLLOUT : 0)), 0});
            who.push_back(&c);
        }
        if (pfds.empty() || Clock::now() > deadline) break;
        (void)::poll(pfds.data(), pfds.size(), 50);
        for (auto* c : who) step(*c);
    }
    fault::disarm();

    // Every connection the server opened is closed once (on_close may still be on its way).
    const auto settle = Clock::now() + std::chrono::seconds(10);
    for (;;) {
        {
            std::lock_guard lock(log.mu);
            if (log.total_closes == log.total_opens) break;
        }
        if (Clock::now() > settle) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard lock(log.mu);
    EXPECT_EQ(log.total_closes, log.total_opens);
    for (auto& c : conns) {
        SCOPED_TRACE("client port " + std::to_string(c.port) + ", payload " + std::to_string(c.payload.size()) +
                     " B, got " + std::to_string(c.got.size()) + " B, eof " + std::to_string(c.eof) + ", errno " +
                     std::to_string(c.error));
        EXPECT_TRUE(c.done()) << "client still waiting at the deadline";
        const bool reset = fault::was_reset(c.port);
        const bool accepted = fault::was_accepted(c.port);
        const auto it = log.by_port.find(c.port);
        const bool opened = it != log.by_port.end() && it->second.opens > 0;
        // Nothing received is ever corrupted or duplicated.
        EXPECT_LE(c.got.size(), c.payload.size());
        const std::size_t n = std::min(c.got.size(), c.payload.size());
        EXPECT_TRUE(std::equal(c.got.begin(), c.got.begin() + static_cast<std::ptrdiff_t>(n), c.payload.begin()))
            << "echo differs from what was sent";
        if (opened) {
            EXPECT_EQ(it->second.opens, 1);
            EXPECT_EQ(it->second.closes, 1);
        }
        if (reset) {
            EXPECT_TRUE(opened);
            if (opened) {
                EXPECT_EQ(it->second.reason, CloseReason::reset) << "server said " << to_string(it->second.reason);
            }
        } else if (opened) {
            EXPECT_EQ(c.got.size(), c.payload.size()) << "bytes lost on a connection that closed gracefully";
            EXPECT_TRUE(c.eof && c.error == 0);
            EXPECT_EQ(it->second.reason, CloseReason::peer_closed) << "server said " << to_string(it->second.reason);
        } else {
            // Never opened: shed by the EMFILE path, after accept4 returned it.
            EXPECT_TRUE(accepted) << "connection neither served nor shed";
            EXPECT_TRUE(c.got.empty());
        }
        ::close(c.fd);
    }
    return fault::tally();
}

}  // namespace

TEST(FaultEcho, echo_keeps_every_byte_under_injected_eintr_eagain_short_counts_resets_and_emfile) {
    std::uint64_t first = 1, last = 100;
    fault::seeds_from_env(first, last);
    const fault::Rates rates = fault::rates_from_env(kDefaultRates);
    pollux::set_log_sink(nullptr);  // the acceptor's EMFILE warnings are expected here
    EchoServer echo;
    fault::Tally all;
    for (std::uint64_t seed = first; seed <= last && !HasFailure(); ++seed) all += run_seed(seed, rates, echo);
    EXPECT_TRUE(echo.server->stop().has_value());
    std::printf("seeds %llu-%llu, rates %s: %s\n", static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last), fault::to_string(rates).c_str(), fault::to_string(all).c_str());
    // The run injected each kind it was asked for (otherwise it proved nothing).
    if (rates.eintr != 0) {
        EXPECT_GT(all.eintr, 0u);
    }
    if (rates.eagain != 0) {
        EXPECT_GT(all.eagain, 0u);
    }
    if (rates.short_io != 0) {
        EXPECT_GT(all.short_io, 0u);
    }
    if (rates.reset != 0) {
        EXPECT_GT(all.reset, 0u);
    }
    if (rates.emfile != 0) {
        EXPECT_GT(all.emfile, 0u);
    }
    pollux::reset_log_sink();
}
