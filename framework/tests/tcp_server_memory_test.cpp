// Idle connections are cheap: server-side user memory per idle connection.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLLUX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POLLUX_SANITIZED 1
#endif
#endif

namespace {

std::size_t resident_bytes() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

int connect_raw(const net::SocketAddr& addr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, addr.as_sockaddr(), addr.len()) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

TEST(TcpServerMemory, idle_connections_cost_at_most_512_bytes_of_user_memory_each) {
    constexpr std::size_t kConns = 2000;
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const rlim_t need = 4 * kConns + 256;  // client and server side of 2 x kConns
    if (lim.rlim_cur < need && lim.rlim_max >= need) {
        lim.rlim_cur = need;
        ::setrlimit(RLIMIT_NOFILE, &lim);
        ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < need) GTEST_SKIP() << "needs RLIMIT_NOFILE >= " << need;
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    std::vector<int> fds;
    fds.reserve(2 * kConns);
    // Warm-up: the first connections grow the tables once.
    for (std::size_t i = 0; i < kConns; ++i) fds.push_back(connect_raw(server->local_addr()));
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == kConns; }));
    const std::size_t before = resident_bytes();
    for (std::size_t i = 0; i < kConns; ++i) fds.push_back(connect_raw(server->local_addr()));
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 2 * kConns; }));
    const std::size_t after = resident_bytes();
    const double per_connection = static_cast<double>(after - before) / static_cast<double>(kConns);
    std::printf("idle connection: %.0f bytes of RSS each (sizeof(Connection) = %zu)\n", per_connection,
                sizeof(Connection));
#ifndef POLLUX_SANITIZED
    EXPECT_LE(per_connection, 512.0);
#endif
    for (int fd : fds) {
        if (fd >= 0) ::close(fd);
    }
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }));
    ASSERT_TRUE(server->stop());
}

// A burst of slow consumers fills the output queues to the cap; once they are gone the
// server gives the memory back (pool decay + malloc_trim at the once-a-second refresh)
// instead of keeping its peak. Sanitizer builds have their own allocator: they run the
// burst but do not check RSS.
TEST(TcpServerMemory, rss_falls_back_within_seconds_after_a_burst_of_slow_consumers) {
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.max_output = 4 * 1024 * 1024;
    opts.connection.high_water_mark = 0;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    const std::size_t base = resident_bytes();
    constexpr int kClients = 16;
    std::vector<int> fds;
    for (int i = 0; i < kClients; ++i) {
        const int fd = connect_raw(server->local_addr());
        ASSERT_GE(fd, 0);
        const int small = 4096;  // the echo backs up in the server, not in this socket
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        timeval tv{0, 200'000};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        fds.push_back(fd);
    }
    // Every client writes until the server cuts it off at the output cap (a reset).
    const std::vector<char> chunk(256 * 1024, 'b');
    std::size_t peak = base;
    for (int round = 0; round < 400; ++round) {
        bool any = false;
        for (int& fd : fds) {
            if (fd < 0) continue;
            if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                ::close(fd);
                fd = -1;
                continue;
            }
            any = true;
        }
        peak = std::max(peak, resident_bytes());
        if (!any) break;
    }
    for (int fd : fds) {
        if (fd >= 0) ::close(fd);
    }
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }));
    EXPECT_GE(server->metrics().total().closed(CloseReason::limit), static_cast<std::uint64_t>(kClients / 2));
    std::size_t after = resident_bytes();
    for (int i = 0; i < 50 && after > base + (6u << 20); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        after = resident_bytes();
    }
    std::printf("burst: base %zu KiB, peak %zu KiB, after %zu KiB\n", base >> 10, peak >> 10, after >> 10);
#ifndef POLLUX_SANITIZED
    EXPECT_GT(peak, base + (32u << 20)) << "the burst did not fill the queues";
    EXPECT_LE(after, base + (6u << 20)) << "RSS stayed up after the burst";
#endif
    ASSERT_TRUE(server->stop());
}
