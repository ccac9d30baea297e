// Edge cases (T1) with syscall faults injected into the server's sockets
// (fault_injector.hpp), per seed: a peer that resets while the server streams to it,
// and a server that half-closes first while the peer goes on sending. Seeds:
// POLLUX_FAULT_SEEDS (default 1-100).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fault_injector.hpp"
#include "pollux/core/log.hpp"
#include "pollux/framework/tcp_server.hpp"

using namespace pollux;
using namespace pollux::framework;
using Clock = std::chrono::steady_clock;

namespace {

// No ECONNRESET or EMFILE here: each case's own ending is the point.
constexpr fault::Rates kRates{.eintr = 100, .eagain = 100, .short_io = 200, .reset = 0, .emfile = 0};

struct Closes {
    std::mutex mu;
    std::vector<CloseReason> reasons;
    std::size_t count() {
        std::lock_guard lock(mu);
        return reasons.size();
    }
    std::vector<CloseReason> take() {
        std::lock_guard lock(mu);
        return std::exchange(reasons, {});
    }
};

std::unique_ptr<TcpServer> server_with(Closes& closes) {
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_close([&closes](Connection&, CloseReason why) {
        std::lock_guard lock(closes.mu);
        closes.reasons.push_back(why);
    });
    return server;
}

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

bool wait_until(auto pred, std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto end = Clock::now() + limit;
    while (!pred()) {
        if (Clock::now() > end) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

void for_each_seed(const std::function<void(std::uint64_t)>& body) {
    std::uint64_t first = 1, last = 100;
    fault::seeds_from_env(first, last);
    pollux::set_log_sink(nullptr);
    fault::Tally all;
    for (std::uint64_t seed = first; seed <= last && !::testing::Test::HasFailure(); ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed) + " (POLLUX_FAULT_SEEDS=" + std::to_string(seed) + ")");
        body(seed);
        all += fault::tally();
    }
    pollux::reset_log_sink();
    std::printf("seeds %llu-%llu: %s\n", static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                fault::to_string(all).c_str());
    EXPECT_GT(all.eintr + all.eagain + all.short_io, 0u);
}

}  // namespace

// The server streams 4 MiB to a peer that reads some of it and resets: one on_close,
// CloseReason::reset, whatever EINTR/EAGAIN/short counts the writes met on the way.
TEST(FaultEdge, peer_reset_mid_write_closes_once_with_reset) {
    Closes closes;
    auto server = server_with(closes);
    server->on_data([](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(std::string(4 * 1024 * 1024, 'r'));
    });
    ASSERT_TRUE(server->start());
    for_each_seed([&](std::uint64_t seed) {
        fault::arm(seed, kRates);
        fault::watch_listener_port(server->local_addr().port());
        const int fd = connect_to(server->local_addr().port());
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::send(fd, "go", 2, MSG_NOSIGNAL), 2);
        char buf[4096];
        std::size_t got = 0;
        const std::size_t want = 1 + seed % 200'000;  // read a seeded amount, then reset
        while (got < want) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            ASSERT_GT(n, 0);
            got += static_cast<std::size_t>(n);
        }
        linger lg{.l_onoff = 1, .l_linger = 0};
        ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        ::close(fd);
        EXPECT_TRUE(wait_until([&] { return closes.count() >= 1; }));
        fault::disarm();
        EXPECT_EQ(closes.take(), std::vector{CloseReason::reset});
    });
    EXPECT_TRUE(server->stop());
}

// The server says hello and half-closes; the peer reads it to EOF, then sends a seeded
// amount and half-closes; the server receives every byte and closes with peer_closed.
TEST(FaultEdge, server_half_close_first_and_the_peer_still_sends_everything) {
    Closes closes;
    auto server = server_with(closes);
    std::atomic<std::size_t> received{0};
    server->on_open([](Connection& c) {
        c.send(std::string_view("hello"));
        c.shutdown_write();
    });
    server->on_data([&](Connection&, Buffer& in) {
        received += in.readable_size();
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    for_each_seed([&](std::uint64_t seed) {
        received = 0;
        fault::arm(seed, kRates);
        fault::watch_listener_port(server->local_addr().port());
        const int fd = connect_to(server->local_addr().port());
        ASSERT_GE(fd, 0);
        std::string greeting;
        char buf[64];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            ASSERT_GE(n, 0) << std::strerror(errno);
            if (n == 0) break;
            greeting.append(buf, static_cast<std::size_t>(n));
        }
        EXPECT_EQ(greeting, "hello");
        const std::string payload(seed * 997 % (256 * 1024), 'p');
        std::size_t sent = 0;
        while (sent < payload.size()) {
            const ssize_t n = ::send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
            ASSERT_GT(n, 0) << std::strerror(errno);
            sent += static_cast<std::size_t>(n);
        }
        ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
        EXPECT_TRUE(wait_until([&] { return closes.count() >= 1; }));
        EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);  // closed cleanly, never reset
        ::close(fd);
        fault::disarm();
        EXPECT_EQ(received.load(), payload.size());
        EXPECT_EQ(closes.take(), std::vector{CloseReason::peer_closed});
    });
    EXPECT_TRUE(server->stop());
}
