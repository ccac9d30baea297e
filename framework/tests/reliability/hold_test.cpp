// T2 — hold N connections on a 2-reactor server, each pinging periodically: every one is
// established, none closes unexpectedly, every ping is echoed, the server's RSS stays
// within base + 512 B per connection, and its fd count is back to base after.
// Sizes: POLLUX_REL_HOLD_CONNS (2,000), POLLUX_REL_HOLD_SECONDS (10), POLLUX_REL_HOLD_PING_MS
// (1,000); the long run holds 10,000 for 600 s.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "suite_support.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using namespace pollux::reliability;

TEST(ReliabilityHold, held_connections_all_echo_and_none_closes_within_512_bytes_each) {
    const long n = env_param("POLLUX_REL_HOLD_CONNS", 2000);
    const long seconds = env_param("POLLUX_REL_HOLD_SECONDS", 10);
    const long ping_ms = env_param("POLLUX_REL_HOLD_PING_MS", 1000);
    TcpServerOptions opts;
    opts.reactors = 2;
    opts.max_connections = static_cast<std::size_t>(n) + 64;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    {  // warm-up: one connection through each reactor's read path
        for (int i = 0; i < 4; ++i) {
            pollux::test::BlockingClient c(server->local_addr());
            ASSERT_TRUE(c.write_all("warm"));
            ASSERT_EQ(c.read_exact(4).size(), 4u);
        }
        ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }));
    }
    const std::uint64_t warm_closes = server->metrics().total().closed_total();
    const std::size_t base_fds = open_fds();
    const std::size_t base_rss = resident_bytes();
    std::size_t peak_rss = base_rss;
    std::map<std::string, double> result;
    {
        LoadClient client({"hold", "--port", std::to_string(server->local_addr().port()), "--conns", std::to_string(n),
                           "--seconds", std::to_string(seconds), "--ping-ms", std::to_string(ping_ms)});
        ASSERT_TRUE(client.running());
        auto ready = client.wait_for("ready", 120s);
        ASSERT_TRUE(ready);
        EXPECT_EQ(parse_fields(*ready)["established"], static_cast<double>(n));
        EXPECT_TRUE(pollux::test::eventually([&] { return server->connections() == static_cast<std::size_t>(n); }))
            << server->connections();
        const auto snap = server->metrics().snapshot();
        const double a = static_cast<double>(snap.reactors[0].connections_open);
        const double b = static_cast<double>(snap.reactors[1].connections_open);
        EXPECT_LE(std::max(a, b), 1.5 * std::min(a, b)) << a << " / " << b << " connections per reactor";
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds + 120);
        std::optional<std::string> line;
        while (std::chrono::steady_clock::now() < end) {
            peak_rss = std::max(peak_rss, resident_bytes());
            line = client.read_line(500ms);
            if (line) std::fprintf(stderr, "[load] %s\n", line->c_str());
            if (line && line->rfind("result", 0) == 0) break;
        }
        ASSERT_TRUE(line && line->rfind("result", 0) == 0) << "no result from the load client";
        result = parse_fields(*line);
        EXPECT_EQ(server->metrics().total().closed_total(), warm_closes) << "the server closed connections while they were held";
        client.close_stdin();  // now the client closes its connections
        EXPECT_EQ(client.wait(30s), 0);
    }
    EXPECT_EQ(result["established"], static_cast<double>(n));
    EXPECT_EQ(result["unexpected_closes"], 0);
    EXPECT_EQ(result["send_errors"], 0);
    EXPECT_EQ(result["mismatched"], 0);
    EXPECT_GT(result["pings"], 0);
    EXPECT_EQ(result["pongs"], result["pings"]);
    const double per_conn = static_cast<double>(peak_rss - base_rss) / static_cast<double>(n);
    std::fprintf(stderr, "T2: %ld connections for %ld s: %.0f pings echoed; server RSS base %.1f MiB, peak +%.0f B per connection\n",
                 n, seconds, result["pongs"], static_cast<double>(base_rss) / 1048576.0, per_conn);
    if (!kSanitized) {  // sanitizers' shadow memory and quarantine: printed only
        EXPECT_LE(per_conn, 512.0);
    }
    EXPECT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }, 30s)) << server->connections();
    EXPECT_TRUE(pollux::test::eventually([&] { return open_fds() == base_fds; }, 10s))
        << open_fds() << " fds open, " << base_fds << " before";
    EXPECT_TRUE(server->stop(1s));
}
