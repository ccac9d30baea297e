// TcpServer and UnixServer metrics that come from the loops rather than from the
// connections: posted_queue_depth (sampled by metrics()), loop_iterations and timers
// (copied by each reactor about once a second). Both servers share one implementation
// (framework/src/loop_metrics.cpp); every test runs against both.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <string>

#include "pollux/framework/tcp_server.hpp"
#include "pollux/framework/unix_server.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::eventually;

namespace {

std::unique_ptr<TcpServer> make_tcp() {
    TcpServerOptions opts;
    opts.reactors = 2;
    return TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
}

std::unique_ptr<UnixServer> make_unix() {
    static std::atomic<int> n{0};
    const std::string name = "pollux-sm-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    UnixServerOptions opts;
    opts.reactors = 2;
    return UnixServer::bind(net::UnixSocketAddr::from_abstract_name(name).value(), opts).value();
}

template <class Server>
class ServerMetrics : public ::testing::Test {
public:
    static std::unique_ptr<Server> make() {
        if constexpr (std::is_same_v<Server, TcpServer>) {
            return make_tcp();
        } else {
            return make_unix();
        }
    }
};

using Servers = ::testing::Types<TcpServer, UnixServer>;
class ServerNames {
public:
    template <class T>
    static std::string GetName(int) {
        return std::is_same_v<T, TcpServer> ? "TcpServer" : "UnixServer";
    }
};
TYPED_TEST_SUITE(ServerMetrics, Servers, ServerNames);

// Reactor 1 is held inside a posted task while the test posts kBacklog more behind it;
// metrics() read from the test thread must then show the backlog, and 0 once released.
TYPED_TEST(ServerMetrics, posted_queue_depth_is_the_backlog_at_read_time_and_returns_to_zero) {
    auto server = TestFixture::make();
    ASSERT_TRUE(server->start());

    std::binary_semaphore entered{0};
    std::binary_semaphore release{0};
    ASSERT_TRUE(server->pool().post(1, [&] {
        entered.release();
        (void)release.try_acquire_for(10s);  // bounded: a broken test fails, it does not hang
    }));
    ASSERT_TRUE(entered.try_acquire_for(10s));  // reactor 1 is now stuck in the task

    constexpr std::uint64_t kBacklog = 100;
    std::atomic<std::uint64_t> ran{0};
    for (std::uint64_t k = 0; k < kBacklog; ++k) {
        ASSERT_TRUE(server->pool().post(1, [&] { ran.fetch_add(1); }));
    }

    // Exact here: nobody else posts to reactor 1 and its loop is blocked.
    EXPECT_EQ(server->metrics().reactor(1).posted_queue_depth.load(), kBacklog);
    EXPECT_GE(server->metrics().total().posted_queue_depth, kBacklog);
    std::string text;
    server->metrics().render_prometheus(text);
    EXPECT_NE(text.find("posted_queue_depth{reactor=\"1\"} 100"), std::string::npos) << text;

    release.release();
    EXPECT_TRUE(eventually([&] { return ran.load() == kBacklog; }, 10s));
    EXPECT_TRUE(eventually([&] { return server->metrics().reactor(1).posted_queue_depth.load() == 0; }, 10s));
    EXPECT_EQ(server->metrics().total().posted_queue_depth, 0u);
    server->stop();
}

// Each reactor copies its loop iterations and its pending timers into its own block
// about once a second (the refresh timer itself is one pending timer).
TYPED_TEST(ServerMetrics, every_reactor_reports_loop_iterations_and_timers_within_seconds) {
    auto server = TestFixture::make();
    // Two extra pending timers on reactor 1, armed on its thread (cancelled by stop).
    ASSERT_TRUE(server->start());
    ASSERT_TRUE(server->pool().run_and_wait(1, [&] {
        reactor::Reactor& r = server->pool().reactor(1);
        r.run_after_in_loop(60s, [] {});
        r.run_after_in_loop(60s, [] {});
    }));
    EXPECT_TRUE(eventually(
        [&] {
            const Metrics& m = server->metrics();
            return m.reactor(0).loop_iterations.load() > 0 && m.reactor(1).loop_iterations.load() > 0 &&
                   m.reactor(0).timers.load() >= 1 && m.reactor(1).timers.load() >= 3;
        },
        8s));
    const MetricValues total = server->metrics().total();
    EXPECT_GE(total.timers, 4u);
    // Monotonic: a later read never goes back.
    const std::uint64_t before = server->metrics().reactor(1).loop_iterations.load();
    EXPECT_TRUE(eventually([&] { return server->metrics().reactor(1).loop_iterations.load() > before; }, 8s));
    server->stop();
}

}  // namespace
