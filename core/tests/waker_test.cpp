// Waker: wakes a blocked poll with its token, coalesces wakes before a poll, survives
// eventfd counter overflow, and is one per Poll.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"

using namespace std::chrono_literals;
using pollux::Errc;
using pollux::Interest;
using pollux::Token;
using pollux::Waker;
using pollux::test::expect_events;
using pollux::test::expect_no_events;

TEST(Waker, wake_from_another_thread_wakes_a_blocked_poll_readable_with_its_token) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    std::thread other([&] {
        std::this_thread::sleep_for(50ms);
        EXPECT_TRUE(waker.wake());
    });
    auto r = f.poll.poll(f.events, 5s);  // bounded; a missed wake fails on the size check
    other.join();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(10));
    EXPECT_TRUE(f.events[0].is_readable());
    EXPECT_FALSE(f.events[0].is_writable());
}

TEST(Waker, several_wakes_before_a_poll_give_exactly_one_event) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(waker.wake());
    ASSERT_TRUE(f.poll.poll(f.events, 500ms));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(10));
    EXPECT_TRUE(f.events[0].is_readable());
    expect_no_events(f.poll, f.events);
}

TEST(Waker, wake_after_a_poll_gives_a_new_event) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(waker.wake());
        expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});
        expect_no_events(f.poll, f.events);
    }
}

TEST(Waker, wake_succeeds_and_delivers_when_the_eventfd_counter_is_full) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    for (int round = 0; round < 3; ++round) {
        // Reset the counter, then fill it to its maximum (2^64 - 2): the next
        // write of 1 from wake() gets EAGAIN and must take the reset-and-retry path.
        std::uint64_t value = 0;
        (void)::read(waker.fd(), &value, sizeof value);
        const std::uint64_t full = 0xfffffffffffffffeULL;
        ASSERT_EQ(::write(waker.fd(), &full, sizeof full), static_cast<ssize_t>(sizeof full));
        expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});  // the fill's own edge

        ASSERT_TRUE(waker.wake()) << "round " << round;
        expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});
    }
}

TEST(Waker, repeated_wakes_after_one_overflow_keep_working) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    const std::uint64_t full = 0xfffffffffffffffeULL;
    ASSERT_EQ(::write(waker.fd(), &full, sizeof full), static_cast<ssize_t>(sizeof full));
    expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(waker.wake()) << "wake " << i;
        expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});
    }
}

TEST(Waker, many_wakes_from_four_threads_never_fail) {
    pollux::test::PollFixture f;
    auto waker = Waker::create(f.poll.registry(), Token(10)).value();
    constexpr int kThreads = 4;
    constexpr int kWakesPerThread = 25'000;  // 100k in all
    std::atomic<int> failures{0};
    std::atomic<int> running{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kWakesPerThread; ++i) {
                if (!waker.wake()) failures.fetch_add(1, std::memory_order_relaxed);
            }
            running.fetch_sub(1, std::memory_order_release);
        });
    }
    // Poll meanwhile; every event must be the waker's.
    const auto deadline = std::chrono::steady_clock::now() + 8s;
    while (running.load(std::memory_order_acquire) > 0 && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(f.poll.poll(f.events, 10ms));
        for (const pollux::Event& ev : f.events) {
            EXPECT_EQ(ev.token(), Token(10));
            EXPECT_TRUE(ev.is_readable());
        }
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    // A final wake still arrives.
    ASSERT_TRUE(waker.wake());
    expect_events(f.poll, f.events, {{Token(10), Interest::READABLE}});
}

TEST(Waker, second_waker_on_the_same_poll_gives_waker_exists) {
    auto poll = pollux::Poll::create().value();
    auto first = Waker::create(poll.registry(), Token(1)).value();
    auto second = Waker::create(poll.registry(), Token(2));
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error(), Errc::waker_exists);
    EXPECT_EQ(second.error(), std::errc::file_exists);
}

TEST(Waker, second_waker_through_a_cloned_registry_gives_waker_exists) {
    auto poll = pollux::Poll::create().value();
    auto clone = poll.registry().try_clone().value();
    auto first = Waker::create(poll.registry(), Token(1)).value();
    auto second = Waker::create(clone, Token(2));
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error(), Errc::waker_exists);
}

TEST(Waker, first_waker_through_a_clone_blocks_one_on_the_original) {
    auto poll = pollux::Poll::create().value();
    auto clone = poll.registry().try_clone().value();
    auto first = Waker::create(clone, Token(1)).value();
    auto second = Waker::create(poll.registry(), Token(2));
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error(), Errc::waker_exists);
}

TEST(Waker, wakers_on_different_polls_are_independent) {
    auto a = pollux::Poll::create().value();
    auto b = pollux::Poll::create().value();
    auto wa = Waker::create(a.registry(), Token(1));
    auto wb = Waker::create(b.registry(), Token(1));
    EXPECT_TRUE(wa.has_value());
    EXPECT_TRUE(wb.has_value());
}

TEST(Waker, a_new_waker_can_be_created_after_the_first_is_destroyed) {
    pollux::test::PollFixture f;
    {
        auto first = Waker::create(f.poll.registry(), Token(1)).value();
        ASSERT_TRUE(first.wake());
    }
    // The first eventfd closed, so its pending event is gone with it.
    expect_no_events(f.poll, f.events);
    auto second = Waker::create(f.poll.registry(), Token(2));
    ASSERT_TRUE(second.has_value()) << second.error().message();
    ASSERT_TRUE(second->wake());
    expect_events(f.poll, f.events, {{Token(2), Interest::READABLE}});
}

TEST(Waker, moving_a_waker_keeps_the_slot_taken_and_the_new_owner_works) {
    pollux::test::PollFixture f;
    auto first = Waker::create(f.poll.registry(), Token(1)).value();
    Waker moved = std::move(first);
    EXPECT_EQ(Waker::create(f.poll.registry(), Token(2)).error(), Errc::waker_exists);
    ASSERT_TRUE(moved.wake());
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});
}

TEST(Waker, moved_from_waker_wake_returns_an_error) {
    auto poll = pollux::Poll::create().value();
    auto first = Waker::create(poll.registry(), Token(1)).value();
    Waker moved = std::move(first);
    auto r = first.wake();  // NOLINT(bugprone-use-after-move): the contract under test
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(first.fd(), -1);  // NOLINT(bugprone-use-after-move)
}

TEST(Waker, move_assignment_over_a_live_waker_frees_nothing_twice) {
    pollux::test::PollFixture f;
    auto other_poll = pollux::Poll::create().value();
    auto a = Waker::create(f.poll.registry(), Token(1)).value();
    auto b = Waker::create(other_poll.registry(), Token(2)).value();
    a = std::move(b);  // a's slot on f.poll is released, b's slot on other_poll moves to a
    auto again = Waker::create(f.poll.registry(), Token(3));
    EXPECT_TRUE(again.has_value()) << "assigning over a Waker must free its Poll's slot";
    EXPECT_EQ(Waker::create(other_poll.registry(), Token(4)).error(), Errc::waker_exists);
}

TEST(Waker, create_on_an_empty_registry_returns_bad_file_descriptor) {
    const pollux::Registry empty;
    auto w = Waker::create(empty, Token(1));
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error(), std::errc::bad_file_descriptor);
}
