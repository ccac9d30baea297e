// reactor/tests/acceptor_test.cpp — Acceptor: hand-off spread and thread affinity
// (round-robin, least-connections, SO_REUSEPORT), TCP_NODELAY, bind errors, stop.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <vector>

#include "pollux/net/tcp_listener.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor_pool.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using test::connect_client;
using test::connect_in_batches;
using test::wait_until;

constexpr std::size_t kMaxReactors = 4;

// Counts deliveries per reactor and checks each runs on its reactor's loop thread.
struct Deliveries {
    std::array<std::atomic<std::size_t>, kMaxReactors> per_reactor{};
    std::atomic<std::size_t> total{0};
    std::atomic<std::size_t> wrong_thread{0};
    std::atomic<std::size_t> bad_stream{0};

    void record(Reactor& r, const net::TcpStream& s) {
        if (Reactor::current() != &r || !r.is_in_loop_thread()) wrong_thread.fetch_add(1);
        if (s.fd() < 0) bad_stream.fetch_add(1);
        per_reactor[r.index()].fetch_add(1);
        total.fetch_add(1);
    }
    std::size_t at(std::size_t i) const { return per_reactor[i].load(); }
};

std::unique_ptr<ReactorPool> started_pool(std::size_t n) {
    auto pool = ReactorPool::create({.threads = n});
    EXPECT_TRUE(pool);
    if (!pool) return nullptr;
    EXPECT_TRUE((*pool)->start());
    return std::move(*pool);
}

// 1,000 connections need ~2,000 fds at peak per batch of 100 only, but be honest if the
// limit is tiny.
std::size_t connection_budget(std::size_t wanted) {
    const std::size_t limit = test::raise_fd_limit();
    if (limit >= 512) return wanted;
    const std::size_t scaled = (limit / 4) / 4 * 4;
    std::fprintf(stderr, "RLIMIT_NOFILE is %zu: scaling %zu connections down to %zu\n", limit, wanted, scaled);
    return scaled;
}

TEST(Acceptor, round_robin_spreads_1000_connections_exactly_over_4_reactors_on_their_threads) {
    const std::size_t n = connection_budget(1000);
    auto pool = started_pool(4);
    Deliveries d;
    auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0), [&](Reactor& r, net::TcpStream s, net::SocketAddr) {
        d.record(r, s);
        pool->connection_closed(r.index());  // the stream closes here
    });
    ASSERT_TRUE(acceptor) << acceptor.error().message();
    ASSERT_TRUE(connect_in_batches((*acceptor)->local_addr(), n, d.total));
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(d.at(i), n / 4) << "reactor " << i;
    EXPECT_EQ(d.wrong_thread.load(), 0u);
    EXPECT_EQ(d.bad_stream.load(), 0u);
    EXPECT_EQ((*acceptor)->stats().accepted, n);
    EXPECT_EQ(pool->counts().total(), 0u);
    ASSERT_TRUE(pool->stop(1s));
}

TEST(Acceptor, hand_off_runs_on_the_target_reactor_when_the_acceptor_lives_on_another) {
    auto pool = started_pool(2);
    Deliveries d;
    AcceptorOptions options;
    options.acceptor_reactor = 1;
    auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0),
                                    [&](Reactor& r, net::TcpStream s, net::SocketAddr) { d.record(r, s); }, options);
    ASSERT_TRUE(acceptor);
    ASSERT_TRUE(connect_in_batches((*acceptor)->local_addr(), 10, d.total));
    EXPECT_EQ(d.at(0), 5u);
    EXPECT_EQ(d.at(1), 5u);
    EXPECT_EQ(d.wrong_thread.load(), 0u);
    EXPECT_EQ(pool->connections(0), 5u);  // nobody reported a close
    EXPECT_EQ(pool->connections(1), 5u);
}

TEST(Acceptor, least_connections_sends_new_connections_to_the_least_loaded_reactors) {
    auto pool = started_pool(3);
    Deliveries d;
    std::mutex mu;
    std::array<std::vector<net::TcpStream>, 3> held;  // the long-lived server sides
    AcceptorOptions options;
    options.balancer = std::make_shared<LeastConnections>();
    auto acceptor = Acceptor::start(
        *pool, net::SocketAddr::loopback_v4(0),
        [&](Reactor& r, net::TcpStream s, net::SocketAddr) {
            d.record(r, s);
            std::lock_guard lock(mu);
            held[r.index()].push_back(std::move(s));
        },
        options);
    ASSERT_TRUE(acceptor);
    const auto addr = (*acceptor)->local_addr();
    std::vector<net::TcpStream> clients;
    auto connect_n = [&](std::size_t n) {
        const std::size_t target = d.total.load() + n;
        for (std::size_t i = 0; i < n; ++i) {
            auto c = connect_client(addr);
            ASSERT_TRUE(c);
            clients.push_back(std::move(*c));
        }
        ASSERT_TRUE(wait_until([&] { return d.total.load() == target; }));
    };

    connect_n(6);  // equal loads are dealt round-robin: {2, 2, 2}
    EXPECT_EQ(d.at(0), 2u);
    EXPECT_EQ(d.at(1), 2u);
    EXPECT_EQ(d.at(2), 2u);

    {  // reactors 1 and 2 lose their connections; reactor 0 keeps its two
        std::lock_guard lock(mu);
        for (std::size_t i : {1u, 2u}) {
            for (std::size_t k = 0; k < held[i].size(); ++k) pool->connection_closed(i);
            held[i].clear();
        }
    }
    EXPECT_EQ(pool->connections(0), 2u);
    EXPECT_EQ(pool->connections(1), 0u);
    EXPECT_EQ(pool->connections(2), 0u);

    connect_n(4);  // {2,0,0} -> 1, 2, 1, 2 -> {2,2,2}; reactor 0 gets none
    EXPECT_EQ(d.at(0), 2u);
    EXPECT_EQ(d.at(1), 4u);
    EXPECT_EQ(d.at(2), 4u);
    EXPECT_EQ(pool->connections(0), 2u);
    EXPECT_EQ(pool->connections(1), 2u);
    EXPECT_EQ(pool->connections(2), 2u);
    EXPECT_EQ(d.wrong_thread.load(), 0u);
    ASSERT_TRUE(pool->stop(1s));
}

TEST(Acceptor, reuseport_mode_accepts_on_every_reactor_without_hand_off) {
    auto pool = started_pool(2);
    Deliveries d;
    AcceptorOptions options;
    options.mode = AcceptMode::reuseport;
    auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0),
                                    [&](Reactor& r, net::TcpStream s, net::SocketAddr) {
                                        d.record(r, s);
                                        pool->connection_closed(r.index());
                                    },
                                    options);
    ASSERT_TRUE(acceptor) << acceptor.error().message();
    ASSERT_NE((*acceptor)->local_addr().port(), 0);
    ASSERT_TRUE(connect_in_batches((*acceptor)->local_addr(), 200, d.total));
    EXPECT_GE(d.at(0), 1u);  // the kernel hashes 4-tuples over both listeners
    EXPECT_GE(d.at(1), 1u);
    EXPECT_EQ(d.at(0) + d.at(1), 200u);
    EXPECT_EQ(d.wrong_thread.load(), 0u);
    EXPECT_EQ((*acceptor)->stats().accepted, 200u);
    ASSERT_TRUE(pool->stop(1s));
}

TEST(Acceptor, accepted_streams_get_tcp_nodelay_unless_the_option_is_off) {
    auto pool = started_pool(2);
    for (bool want : {true, false}) {
        std::atomic<int> seen{-1};
        AcceptorOptions options;
        options.listen.nodelay = want;
        auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0),
                                        [&](Reactor&, net::TcpStream s, net::SocketAddr) {
                                            auto on = s.nodelay();
                                            seen = on ? (*on ? 1 : 0) : -2;
                                        },
                                        options);
        ASSERT_TRUE(acceptor);
        auto c = connect_client((*acceptor)->local_addr());
        ASSERT_TRUE(c);
        ASSERT_TRUE(wait_until([&] { return seen.load() != -1; }));
        EXPECT_EQ(seen.load(), want ? 1 : 0);
    }
}

TEST(Acceptor, binding_a_port_in_use_returns_eaddrinuse_from_start) {
    auto pool = started_pool(2);
    auto taken = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
    ASSERT_TRUE(taken);
    const auto addr = *taken->local_addr();
    auto noop = [](Reactor&, net::TcpStream, net::SocketAddr) {};
    for (AcceptMode mode : {AcceptMode::single, AcceptMode::reuseport}) {
        AcceptorOptions options;
        options.mode = mode;
        auto acceptor = Acceptor::start(*pool, addr, noop, options);
        ASSERT_FALSE(acceptor);
        EXPECT_EQ(acceptor.error(), std::errc::address_in_use);
    }
    // The pool is unharmed.
    bool ran = false;
    ASSERT_TRUE(pool->run_and_wait(1, [&] { ran = true; }));
    EXPECT_TRUE(ran);
    ASSERT_TRUE(pool->stop(1s));
}

TEST(Acceptor, bad_arguments_are_rejected_with_invalid_argument) {
    auto pool = started_pool(2);
    AcceptorOptions options;
    options.acceptor_reactor = 2;
    auto a = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0), [](Reactor&, net::TcpStream, net::SocketAddr) {}, options);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error(), std::errc::invalid_argument);
    auto b = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0), OnConnection{});
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error(), std::errc::invalid_argument);
}

TEST(Acceptor, stop_closes_the_listener_so_connects_are_refused_and_the_port_is_free) {
    auto pool = started_pool(2);
    Deliveries d;
    auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0),
                                    [&](Reactor& r, net::TcpStream s, net::SocketAddr) { d.record(r, s); });
    ASSERT_TRUE(acceptor);
    const auto addr = (*acceptor)->local_addr();
    ASSERT_TRUE(connect_in_batches(addr, 1, d.total));
    (*acceptor)->stop();
    (*acceptor)->stop();  // idempotent
    auto refused = connect_client(addr);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), std::errc::connection_refused);
    EXPECT_TRUE(net::TcpListener::bind(addr));
}

TEST(Acceptor, streams_accepted_but_not_yet_delivered_at_stop_are_closed_not_delivered) {
    auto pool = started_pool(2);
    Deliveries d;
    auto acceptor = Acceptor::start(*pool, net::SocketAddr::loopback_v4(0), [&](Reactor& r, net::TcpStream s, net::SocketAddr) {
        d.record(r, s);
        pool->connection_closed(r.index());
    });
    ASSERT_TRUE(acceptor);
    // Hold reactor 1 so the streams dealt to it wait in its hand-off queue. Wait until
    // the hold runs: tasks from different threads are not ordered, so a drain task
    // posted by the acceptor could otherwise run before it.
    std::atomic<bool> release{false};
    std::atomic<bool> holding{false};
    ASSERT_TRUE(pool->post(1, [&] {
        holding = true;
        wait_until([&] { return release.load(); });
    }));
    ASSERT_TRUE(wait_until([&] { return holding.load(); }));

    std::vector<net::TcpStream> clients;  // round-robin: 0 -> r0, 1 -> r1, 2 -> r0, 3 -> r1
    for (int i = 0; i < 4; ++i) {
        auto c = connect_client((*acceptor)->local_addr());
        ASSERT_TRUE(c);
        clients.push_back(std::move(*c));
        ASSERT_TRUE(wait_until([&] { return (*acceptor)->stats().accepted == static_cast<std::uint64_t>(i + 1); }));
    }
    EXPECT_EQ(d.at(0), 2u);
    (*acceptor)->stop();
    release = true;
    ASSERT_TRUE(wait_until([&] { return (*acceptor)->stats().dropped == 2; }));
    EXPECT_EQ(d.at(1), 0u);
    EXPECT_EQ(pool->connections(1), 0u);
    EXPECT_TRUE(test::sees_close(clients[1]));
    EXPECT_TRUE(test::sees_close(clients[3]));
}

TEST(Acceptor, an_acceptor_started_before_the_pool_accepts_once_the_pool_runs) {
    auto pool = ReactorPool::create({.threads = 2});
    ASSERT_TRUE(pool);
    Deliveries d;
    auto acceptor = Acceptor::start(**pool, net::SocketAddr::loopback_v4(0),
                                    [&](Reactor& r, net::TcpStream s, net::SocketAddr) { d.record(r, s); });
    ASSERT_TRUE(acceptor) << acceptor.error().message();
    auto early = connect_client((*acceptor)->local_addr());  // queued in the backlog
    ASSERT_TRUE(early);
    ASSERT_TRUE((*pool)->start());
    ASSERT_TRUE(wait_until([&] { return d.total.load() == 1; }));
    ASSERT_TRUE(connect_in_batches((*acceptor)->local_addr(), 3, d.total));
    EXPECT_EQ(d.at(0), 2u);
    EXPECT_EQ(d.at(1), 2u);
    EXPECT_EQ(d.wrong_thread.load(), 0u);
}

TEST(Acceptor, start_from_a_foreign_thread_before_the_pool_starts_is_refused) {
    auto pool = ReactorPool::create({.threads = 1});
    ASSERT_TRUE(pool);
    Result<std::unique_ptr<Acceptor>> a = error(std::errc::io_error);
    std::thread([&] {
        a = Acceptor::start(**pool, net::SocketAddr::loopback_v4(0), [](Reactor&, net::TcpStream, net::SocketAddr) {});
    }).join();
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error(), std::errc::operation_not_permitted);
}

}  // namespace
}  // namespace pollux::reactor
