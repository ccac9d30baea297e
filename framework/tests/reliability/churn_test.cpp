// T3 — connection churn with integrity. The load client runs M connections over 256
// slots: each sends a seeded payload of 0-256 KiB (log-uniform), checks every echoed
// byte against the same seed, and ends with shutdown(SHUT_WR) + EOF, a plain close
// after the whole echo, or an abortive close (SO_LINGER 0) mid-stream.
// Proves: 0 lost, corrupted or duplicated bytes on graceful connections; exactly one
// on_close per connection, with CloseReason::reset once per reset peer; no callback
// after on_close; every fd back after the run; no EADDRNOTAVAIL.
// Size: POLLUX_REL_CHURN_OPS (CI: 10^5, 10^4 under TSan), the long run 10^6.
// A second test churns 4,000 connections through a server whose fd limit is 64
// (libevent's fdleak test): a leaked fd per connection would run it out within ~50.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "suite_support.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using namespace pollux::reliability;

namespace {

struct Tally {
    std::atomic<std::uint64_t> opens{0}, closes{0}, resets{0}, peer_closed{0}, other{0}, after_close{0};
};

class ChurnEcho final : public ConnectionHandler {
public:
    explicit ChurnEcho(Tally& t) : t_(t) {}
    void on_open(Connection&) override { t_.opens.fetch_add(1, std::memory_order_relaxed); }
    void on_data(Connection& c, Buffer& in) override {
        if (closed_) t_.after_close.fetch_add(1, std::memory_order_relaxed);
        c.send(std::move(in));
    }
    void on_read_closed(Connection& c) override {
        if (closed_) t_.after_close.fetch_add(1, std::memory_order_relaxed);
        c.close();
    }
    void on_close(Connection&, CloseReason r) override {
        if (closed_) t_.after_close.fetch_add(1, std::memory_order_relaxed);
        closed_ = true;
        t_.closes.fetch_add(1, std::memory_order_relaxed);
        (r == CloseReason::reset ? t_.resets : r == CloseReason::peer_closed ? t_.peer_closed : t_.other)
            .fetch_add(1, std::memory_order_relaxed);
    }

private:
    Tally& t_;
    bool closed_ = false;
};

}  // namespace

TEST(ReliabilityChurn, churned_connections_lose_no_byte_and_close_exactly_once) {
    const long ops = env_param("POLLUX_REL_CHURN_OPS", kThreadSanitized ? 10'000 : 100'000);
    const long seed = env_param("POLLUX_REL_CHURN_SEED", 1);
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    Tally tally;
    server->set_handler_factory([&](Connection&) { return std::make_unique<ChurnEcho>(tally); });
    ASSERT_TRUE(server->start());
    const std::size_t base_fds = open_fds();
    std::map<std::string, double> r;
    const auto t0 = std::chrono::steady_clock::now();
    {
        LoadClient client({"churn", "--port", std::to_string(server->local_addr().port()), "--slots", "256", "--ops",
                           std::to_string(ops), "--seed", std::to_string(seed), "--max-payload", "262144"});
        auto line = client.wait_for("result", 1000s);
        ASSERT_TRUE(line) << "no result from the load client";
        r = parse_fields(*line);
        EXPECT_EQ(client.wait(10s), 0);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }, 30s)) << server->connections();
    ASSERT_TRUE(pollux::test::eventually([&] { return tally.closes.load() == tally.opens.load(); }, 10s));
    std::fprintf(stderr, "T3: %.0f connections in %.1f s, %.0f MiB checked; server: %llu opened, %llu peer_closed, %llu reset, %llu other\n",
                 r["ops"], secs, r["bytes_checked"] / 1048576.0, static_cast<unsigned long long>(tally.opens.load()),
                 static_cast<unsigned long long>(tally.peer_closed.load()), static_cast<unsigned long long>(tally.resets.load()),
                 static_cast<unsigned long long>(tally.other.load()));
    EXPECT_EQ(r["ops"], static_cast<double>(ops));
    EXPECT_EQ(r["corrupted"], 0);
    EXPECT_EQ(r["lost"], 0);
    EXPECT_EQ(r["duplicated"], 0);
    EXPECT_EQ(r["unexpected_resets"], 0);
    EXPECT_EQ(r["stuck"], 0);
    EXPECT_EQ(r["connect_errors"], 0);
    EXPECT_EQ(r["addr_not_avail"], 0);
    EXPECT_EQ(r["graceful_ok"] + r["aborted"], static_cast<double>(ops));
    // Server side: every connection opened closed once; one reset per abortive peer.
    EXPECT_EQ(static_cast<double>(tally.opens.load()), static_cast<double>(ops));
    EXPECT_EQ(static_cast<double>(tally.resets.load()), r["aborted"]);
    EXPECT_EQ(static_cast<double>(tally.peer_closed.load()), r["graceful_ok"]);
    EXPECT_EQ(tally.other.load(), 0u);
    EXPECT_EQ(tally.after_close.load(), 0u);
    EXPECT_TRUE(pollux::test::eventually([&] { return open_fds() == base_fds; }, 10s))
        << open_fds() << " fds open, " << base_fds << " before";
    EXPECT_TRUE(server->stop(1s));
}

TEST(ReliabilityChurn, four_thousand_connections_churn_through_a_server_limited_to_64_fds) {
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    std::map<std::string, double> r;
    Tally tally;
    std::uint64_t emfile = 0;
    {
        TcpServerOptions opts;
        opts.reactors = 2;
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
        server->set_handler_factory([&](Connection&) { return std::make_unique<ChurnEcho>(tally); });
        ASSERT_TRUE(server->start());
        // While fds are plentiful: the paths UBSan's vptr check must have seen (T5).
        for (int i = 0; i < 2; ++i) {
            pollux::test::BlockingClient warm(server->local_addr());
            ASSERT_TRUE(warm.write_all("warm"));
            ASSERT_EQ(warm.read_exact(4).size(), 4u);
        }
        const std::error_code emfile_code(EMFILE, std::system_category());
        ASSERT_FALSE(emfile_code.message().empty());
        ASSERT_TRUE(emfile_code == std::errc::too_many_files_open);
        ASSERT_FALSE(emfile_code == std::errc::connection_aborted);
        ASSERT_TRUE(pollux::test::eventually([&] { return tally.closes.load() == 2; }));
        const std::size_t base_fds = open_fds();
        rlimit low = saved;
        low.rlim_cur = 64;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
        {
            LoadClient client({"churn", "--port", std::to_string(server->local_addr().port()), "--slots", "8", "--ops",
                               "4000", "--seed", "7", "--max-payload", "65536"});
            auto line = client.wait_for("result", 300s);
            ASSERT_TRUE(line) << "no result from the load client";
            r = parse_fields(*line);
            EXPECT_EQ(client.wait(10s), 0);
        }
        ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 0; }, 10s));
        EXPECT_TRUE(pollux::test::eventually([&] { return open_fds() == base_fds; }, 10s))
            << open_fds() << " fds open, " << base_fds << " before";
        emfile = server->metrics().total().emfile_events;
        EXPECT_TRUE(server->stop(1s));
    }
    ::setrlimit(RLIMIT_NOFILE, &saved);
    EXPECT_EQ(r["ops"], 4000);
    EXPECT_EQ(r["graceful_ok"] + r["aborted"], 4000);
    EXPECT_EQ(r["corrupted"] + r["lost"] + r["duplicated"] + r["unexpected_resets"] + r["stuck"] + r["connect_errors"], 0);
    EXPECT_EQ(tally.opens.load(), 4002u);
    EXPECT_EQ(tally.closes.load(), 4002u);
    EXPECT_EQ(emfile, 0u) << "the server ran out of fds: a leak";
}
