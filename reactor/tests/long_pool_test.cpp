// reactor/tests/long_pool_test.cpp — the 10k-connection versions of the Acceptor spread
// tests (label `long`; the bounded 1,000/200-connection versions are in
// acceptor_test.cpp). Clients connect in batches of 500 and close after the server has
// seen them, so fds and ephemeral ports stay low.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>

#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor_pool.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kConnections = 10'000;

struct Spread {
    std::array<std::atomic<std::size_t>, 4> per_reactor{};
    std::atomic<std::size_t> total{0};
    std::atomic<std::size_t> wrong_thread{0};
};

Result<std::unique_ptr<Acceptor>> counting_acceptor(ReactorPool& pool, Spread& s, AcceptorOptions options) {
    return Acceptor::start(
        pool, net::SocketAddr::loopback_v4(0),
        [&pool, &s](Reactor& r, net::TcpStream, net::SocketAddr) {
            if (Reactor::current() != &r) s.wrong_thread.fetch_add(1);
            s.per_reactor[r.index()].fetch_add(1);
            pool.connection_closed(r.index());
            s.total.fetch_add(1);
        },
        std::move(options));
}

TEST(AcceptorLong, round_robin_spreads_10k_connections_exactly_over_4_reactors) {
    test::raise_fd_limit();
    auto pool = ReactorPool::create({.threads = 4}).value();
    ASSERT_TRUE(pool->start());
    Spread s;
    auto acceptor = counting_acceptor(*pool, s, {});
    ASSERT_TRUE(acceptor);
    ASSERT_TRUE(test::connect_in_batches((*acceptor)->local_addr(), kConnections, s.total, 500));
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(s.per_reactor[i].load(), kConnections / 4);
    EXPECT_EQ(s.wrong_thread.load(), 0u);
    EXPECT_EQ(pool->counts().total(), 0u);
    ASSERT_TRUE(pool->stop(1s));
}

TEST(AcceptorLong, reuseport_spreads_10k_connections_within_1_5x_over_2_reactors) {
    test::raise_fd_limit();
    auto pool = ReactorPool::create({.threads = 2}).value();
    ASSERT_TRUE(pool->start());
    Spread s;
    AcceptorOptions options;
    options.mode = AcceptMode::reuseport;
    auto acceptor = counting_acceptor(*pool, s, options);
    ASSERT_TRUE(acceptor);
    ASSERT_TRUE(test::connect_in_batches((*acceptor)->local_addr(), kConnections, s.total, 500));
    const std::size_t a = s.per_reactor[0].load();
    const std::size_t b = s.per_reactor[1].load();
    std::fprintf(stderr, "reuseport spread: %zu / %zu\n", a, b);
    EXPECT_EQ(a + b, kConnections);
    ASSERT_GT(std::min(a, b), 0u);
    EXPECT_LE(static_cast<double>(std::max(a, b)) / static_cast<double>(std::min(a, b)), 1.5);
    ASSERT_TRUE(pool->stop(1s));
}

}  // namespace
}  // namespace pollux::reactor
