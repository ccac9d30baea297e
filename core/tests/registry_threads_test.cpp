// Registry handles (the Poll's own and clones) may be used from many threads at once,
// while another thread polls.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"

using namespace std::chrono_literals;
using pollux::Interest;
using pollux::Token;
using pollux::test::as_bytes;

TEST(RegistryThreads, concurrent_register_reregister_deregister_through_clones_never_fail) {
    pollux::test::PollFixture f;
    constexpr int kThreads = 4;
    constexpr int kRounds = 500;
    std::atomic<int> failures{0};
    std::atomic<int> running{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        auto clone = f.poll.registry().try_clone();
        ASSERT_TRUE(clone.has_value());
        threads.emplace_back([&, t, registry = std::move(*clone)] {
            auto ends = pollux::pipe();
            if (!ends) {
                failures.fetch_add(1);
                running.fetch_sub(1);
                return;
            }
            auto& [tx, rx] = *ends;
            const auto base = static_cast<std::size_t>(t) * 1000;
            for (int i = 0; i < kRounds; ++i) {
                if (!registry.register_source(rx, Token(base), Interest::READABLE)) failures.fetch_add(1);
                if (!tx.write(as_bytes("x"))) failures.fetch_add(1);
                if (!registry.reregister(rx, Token(base + 1), Interest::READABLE)) failures.fetch_add(1);
                if (!registry.deregister(rx)) failures.fetch_add(1);
            }
            running.fetch_sub(1, std::memory_order_release);
        });
    }
    // Poll meanwhile: every event must carry one of the tokens in use.
    const auto deadline = std::chrono::steady_clock::now() + 8s;
    while (running.load(std::memory_order_acquire) > 0 && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(f.poll.poll(f.events, 10ms));
        for (const pollux::Event& ev : f.events) {
            EXPECT_LT(ev.token().value() % 1000, 2u) << ev;
            EXPECT_LT(ev.token().value() / 1000, static_cast<std::size_t>(kThreads)) << ev;
        }
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    // Every source was deregistered (the happens-before is the join), so nothing more.
    pollux::test::expect_no_events(f.poll, f.events);
}

TEST(RegistryThreads, two_threads_racing_to_register_one_source_exactly_one_wins) {
    auto poll = pollux::Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    for (int round = 0; round < 50; ++round) {
        std::atomic<int> wins{0};
        std::atomic<int> already{0};
        std::atomic<bool> go{false};
        auto attempt = [&] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            auto r = poll.registry().register_source(rx, Token(1), Interest::READABLE);
            if (r) {
                wins.fetch_add(1);
            } else if (r.error() == pollux::Errc::already_registered) {
                already.fetch_add(1);
            }
        };
        std::thread a(attempt);
        std::thread b(attempt);
        go.store(true, std::memory_order_release);
        a.join();
        b.join();
        ASSERT_EQ(wins.load(), 1) << "round " << round;
        ASSERT_EQ(already.load(), 1) << "round " << round;
        ASSERT_TRUE(poll.registry().deregister(rx));
    }
}
