// T5 — EMFILE storm. The server runs under RLIMIT_NOFILE 64 while the load client (its
// own process, its own limit) keeps 20 connections echoing every 10 ms and fires 2,000
// connects in 10 bursts of 200. Proves: the server does not spin, the 20 keep echoing (no
// close, every ping answered), the acceptor saw EMFILE, and a new connection is served
// <= 1 s after the storm. Size: POLLUX_REL_STORM_BURSTS (10; the long run 50, 10,000
// connects).
//
// "Does not spin", three ways. An acceptor that retries accept(2) on EMFILE at once
// through its loop (tried: a post instead of shedding and pausing) made 71,000 loop
// iterations a second, used 36% of a core in user space and 70% in all; this one:
//   * loop iterations <= 20,000 a second, from the server's metrics (about 400 measured:
//     the echoes and accepts of both reactors);
//   * user CPU of this process <= 5% of a core over the storm (0.3% to 1% measured);
//   * user + system CPU <= 30% of a core. The system share is mostly the kernel's
//     loopback work for the client's connects and resets, charged to whichever process
//     is on the CPU: 18 runs here gave 2.9% to 17.9% in total with the user share flat,
//     so the catalogue's 10% would fail on the kernel's account, not the server's.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "suite_support.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using namespace pollux::reliability;

TEST(ReliabilityEmfile, a_connect_storm_at_64_fds_does_not_spin_and_the_echoes_go_on) {
    const long bursts = env_param("POLLUX_REL_STORM_BURSTS", 10);
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    std::map<std::string, double> r;
    double cpu_share = 0, user_share = 0, storm_s = 0, window_s = 0;
    std::uint64_t iterations = 0;
    std::uint64_t emfile = 0;
    {
        TcpServerOptions opts;
        opts.reactors = 2;
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
        server->on_data([](Connection& c, Buffer& in) { c.send(std::move(in)); });
        ASSERT_TRUE(server->start());
        // UBSan's vptr check validates an unseen (object, type) pair with a pipe(2), which
        // fails once fds run out: so while they are plentiful, one connection through the
        // accept and echo paths, and the error checks and text of the acceptor's EMFILE path
        for (int i = 0; i < 2; ++i) {
            pollux::test::BlockingClient warm(server->local_addr());
            ASSERT_TRUE(warm.write_all("warm"));
            ASSERT_EQ(warm.read_exact(4).size(), 4u);
        }
        // (error_code == errc compares through both categories' equivalent()).
        const std::error_code emfile_code(EMFILE, std::system_category());
        ASSERT_FALSE(emfile_code.message().empty());
        ASSERT_TRUE(emfile_code == std::errc::too_many_files_open);
        ASSERT_FALSE(emfile_code == std::errc::connection_aborted);
        ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }));
        rlimit low = saved;
        low.rlim_cur = 64;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
        const std::size_t base_fds = open_fds();
        {
            LoadClient client({"storm", "--port", std::to_string(server->local_addr().port()), "--echo", "20", "--bursts",
                               std::to_string(bursts), "--per-burst", "200"});
            auto ready = client.wait_for("ready", 30s);
            ASSERT_TRUE(ready);
            EXPECT_EQ(parse_fields(*ready)["echo"], 20);
            ASSERT_TRUE(client.wait_for("storm_begin", 30s));
            const CpuTimes cpu0 = cpu_times();
            const auto t0 = std::chrono::steady_clock::now();
            // Booked once a second: this count may be up to a second old, so the window
            // below starts a second early.
            const std::uint64_t iterations0 = server->metrics().total().loop_iterations;
            ASSERT_TRUE(client.wait_for("storm_end", 60s));
            const auto t1 = std::chrono::steady_clock::now();
            const CpuTimes cpu1 = cpu_times();
            storm_s = std::chrono::duration<double>(t1 - t0).count();
            cpu_share = (cpu1.total() - cpu0.total()) / storm_s;
            user_share = (cpu1.user - cpu0.user) / storm_s;
            // The next refresh books the storm's last iterations.
            std::this_thread::sleep_for(1100ms);
            iterations = server->metrics().total().loop_iterations - iterations0;
            window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() + 1;
            auto line = client.wait_for("result", 60s);
            ASSERT_TRUE(line);
            r = parse_fields(*line);
            EXPECT_EQ(client.wait(10s), 0);
        }
        ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }, 10s));
        // The acceptor's EMFILE count reaches the metrics about once a second.
        pollux::test::eventually([&] { return server->metrics().total().emfile_events > 0; }, 3s);
        emfile = server->metrics().total().emfile_events;
        EXPECT_TRUE(pollux::test::eventually([&] { return open_fds() == base_fds; }, 10s));
        EXPECT_TRUE(server->stop(1s));
    }
    ::setrlimit(RLIMIT_NOFILE, &saved);
    const double iterations_per_s = static_cast<double>(iterations) / window_s;
    std::fprintf(stderr, "T5: storm %.1f s, server CPU %.1f%% of a core (user %.1f%%), %.0f loop iterations/s, "
                 "%llu EMFILE events, echo %.0f/%.0f max RTT %.1f ms, "
                 "%.0f of %.0f storm connects completed, fresh connection served %.1f ms after\n",
                 storm_s, 100 * cpu_share, 100 * user_share, iterations_per_s,
                 static_cast<unsigned long long>(emfile), r["echo_pongs"], r["echo_pings"],
                 r["echo_max_rtt_ms"], r["storm_connected"], r["storm_connects"], r["accept_after_ms"]);
    EXPECT_EQ(r["echo"], 20);
    EXPECT_EQ(r["echo_closed"], 0);
    EXPECT_GT(r["echo_pings"], 0);
    EXPECT_EQ(r["echo_outstanding"], 0);
    EXPECT_GT(emfile, 0u) << "the storm never hit the fd limit";
    EXPECT_GE(r["accept_after_ms"], 0) << "no new connection was served after the storm";
    EXPECT_LE(r["accept_after_ms"], 1000);
    EXPECT_GT(iterations, 0u);
    EXPECT_LE(iterations_per_s, 20000);
    if (!kSanitized) {  // sanitizers multiply the cost of every call: printed only
        EXPECT_LE(user_share, 0.05);
        EXPECT_LE(cpu_share, 0.30);
    }
}
