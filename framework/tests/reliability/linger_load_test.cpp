// T4 — lingering close under load. N connections each send a 1-byte request plus 50
// pipelined bytes the server never reads (and 51 more once the reply starts); the
// server answers each with a 2 MiB reply and close()s at once. The fast readers must get
// the whole reply and then EOF; the slow readers (2 KiB per 10 ms, past
// linger_timeout) the whole reply and EOF, or a truncated reply ended by a reset, with
// CloseReason::linger_timeout and output_dropped saying so on the server. Never a
// truncated reply with a clean EOF, never a reset after a complete one.
// Sizes: POLLUX_REL_LINGER_CONNS (100), POLLUX_REL_LINGER_SLOW (20), POLLUX_REL_LINGER_MS
// (the linger timeout, 2,000; the long run: 1,000 connections, 100 slow, 8,000 ms).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "load_common.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "suite_support.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using namespace pollux::reliability;

TEST(ReliabilityLinger, replies_end_complete_with_eof_or_truncated_with_a_reset_never_truncated_with_eof) {
    const long n = env_param("POLLUX_REL_LINGER_CONNS", 100);
    const long slow = env_param("POLLUX_REL_LINGER_SLOW", 20);
    const auto linger = std::chrono::milliseconds(env_param("POLLUX_REL_LINGER_MS", 2000));
    constexpr std::size_t kReply = 2 * 1024 * 1024;
    std::vector<std::byte> reply(kReply);
    for (std::size_t i = 0; i < kReply; ++i) reply[i] = static_cast<std::byte>(reply_byte(i));
    TcpServerOptions opts;
    opts.reactors = 2;
    opts.connection.linger_timeout = linger;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_open([](Connection& c) {
        // A small kernel send buffer: the reply waits in the connection's own queue.
        const int size = 64 * 1024;
        ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    });
    server->on_data([&](Connection& c, Buffer& in) {
        in.consume(1);  // the request; the 50 bytes after it stay unread
        c.send(reply);
        c.close();
    });
    ASSERT_TRUE(server->start());
    const std::size_t base_fds = open_fds();
    std::map<std::string, double> r;
    {
        LoadClient client({"linger", "--port", std::to_string(server->local_addr().port()), "--conns", std::to_string(n),
                           "--slow", std::to_string(slow), "--reply", std::to_string(kReply)});
        auto line = client.wait_for("result", 200s);
        ASSERT_TRUE(line) << "no result from the load client";
        r = parse_fields(*line);
        EXPECT_EQ(client.wait(10s), 0);
    }
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }, 10s));
    const auto m = server->metrics().total();
    std::fprintf(stderr, "T4: %.0f complete+EOF, %.0f truncated+reset (%.0f of %ld slow readers); server: %llu linger_timeout closes, %llu output_dropped\n",
                 r["complete_eof"], r["truncated_reset"], r["slow_reset"], slow,
                 static_cast<unsigned long long>(m.closed(CloseReason::linger_timeout)),
                 static_cast<unsigned long long>(m.output_dropped));
    EXPECT_EQ(r["connected"], static_cast<double>(n));
    EXPECT_EQ(r["truncated_eof"], 0) << "a truncated reply ended with a clean EOF";
    EXPECT_EQ(r["complete_reset"], 0);
    EXPECT_EQ(r["corrupt"], 0);
    EXPECT_EQ(r["stuck"], 0);
    EXPECT_EQ(r["complete_eof"] + r["truncated_reset"], static_cast<double>(n));
    // Each reset is one close that dropped output, and the reason says so.
    EXPECT_EQ(static_cast<double>(m.closed(CloseReason::linger_timeout)), r["truncated_reset"]);
    EXPECT_EQ(static_cast<double>(m.output_dropped), r["truncated_reset"]);
    // A slow reader needs ~10 s for 2 MiB, longer than the linger timeout.
    EXPECT_EQ(r["slow_reset"], static_cast<double>(slow));
    // Whether a fast reader finishes inside the linger timeout depends on the machine's
    // throughput (printed above); some must.
    EXPECT_GT(r["complete_eof"], 0);
    EXPECT_TRUE(pollux::test::eventually([&] { return open_fds() == base_fds; }, 10s));
    EXPECT_TRUE(server->stop(1s));
}
