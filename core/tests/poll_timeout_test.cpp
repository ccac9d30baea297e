// Poll::poll timeouts: none blocks until an event, zero returns at once, others wait
// at least the timeout (rounded up to whole ms), and a signal returns EINTR.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"
#include "support/scoped_signal.hpp"

using namespace std::chrono_literals;
using pollux::Events;
using pollux::Interest;
using pollux::Poll;
using pollux::Token;
using pollux::test::as_bytes;
using Clock = std::chrono::steady_clock;

namespace {

// Time one poll with `timeout`; the poll must succeed.
Clock::duration timed_poll(Poll& poll, Events& events, std::optional<std::chrono::nanoseconds> timeout) {
    const auto start = Clock::now();
    auto r = poll.poll(events, timeout);
    const auto elapsed = Clock::now() - start;
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return elapsed;
}

void ignore_signal(int) {}

}  // namespace

TEST(PollTimeout, no_timeout_blocks_until_another_thread_makes_a_source_ready) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    // Watchdog: if the pipe event never wakes the poll, the Waker does after 5 s and
    // the test fails on the token instead of hanging.
    auto waker = pollux::Waker::create(f.poll.registry(), Token(99)).value();
    std::promise<void> finished;
    std::thread writer([&, fut = finished.get_future()] {
        std::this_thread::sleep_for(50ms);
        EXPECT_TRUE(tx.write(as_bytes("x")));
        if (fut.wait_for(5s) == std::future_status::timeout) {
            EXPECT_TRUE(waker.wake());
        }
    });

    const auto start = Clock::now();
    auto r = f.poll.poll(f.events, std::nullopt);
    const auto elapsed = Clock::now() - start;
    finished.set_value();
    writer.join();

    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(1));
    EXPECT_TRUE(f.events[0].is_readable());
    EXPECT_GE(elapsed, 40ms);  // it really blocked until the write
}

TEST(PollTimeout, zero_timeout_returns_at_once_with_no_events_and_succeeds) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    const auto elapsed = timed_poll(f.poll, f.events, 0ns);
    EXPECT_TRUE(f.events.empty());
    EXPECT_LT(elapsed, 100ms);
}

TEST(PollTimeout, zero_timeout_still_returns_ready_events) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(7), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    timed_poll(f.poll, f.events, 0ns);
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(7));
    EXPECT_TRUE(f.events[0].is_readable());
}

TEST(PollTimeout, positive_timeout_waits_at_least_the_timeout_and_returns_empty) {
    pollux::test::PollFixture f;
    const auto elapsed = timed_poll(f.poll, f.events, 50ms);
    EXPECT_TRUE(f.events.empty());
    EXPECT_GE(elapsed, 50ms);
    EXPECT_LT(elapsed, 1s);
}

TEST(PollTimeout, sub_millisecond_timeout_rounds_up_to_one_ms) {
    pollux::test::PollFixture f;
    const auto elapsed = timed_poll(f.poll, f.events, 1ns);
    EXPECT_TRUE(f.events.empty());
    EXPECT_GE(elapsed, 500us) << "1 ns must round up to 1 ms, not down to a zero-timeout poll";
    EXPECT_LT(elapsed, 1s);
}

TEST(PollTimeout, fractional_millisecond_timeout_rounds_up_to_the_next_ms) {
    pollux::test::PollFixture f;
    const auto elapsed = timed_poll(f.poll, f.events, 1200us);
    EXPECT_GE(elapsed, 1500us) << "1.2 ms must round up to 2 ms";
    EXPECT_LT(elapsed, 1s);
}

TEST(PollTimeout, huge_timeout_saturates_and_still_returns_ready_events) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(3), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    const auto elapsed = timed_poll(f.poll, f.events, std::chrono::nanoseconds::max());
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(3));
    EXPECT_LT(elapsed, 1s);
}

TEST(PollTimeout, signal_interrupts_poll_with_errc_interrupted) {
    // No SA_RESTART (epoll_wait is never restarted anyway): the poll must return EINTR.
    pollux::test::ScopedSignal usr1(SIGUSR1, &ignore_signal, 0);
    pollux::test::PollFixture f;

    std::promise<pthread_t> tid;
    std::atomic<bool> done{false};
    pollux::Result<void> result;
    Clock::duration elapsed{};
    std::thread poller([&] {
        tid.set_value(pthread_self());
        const auto start = Clock::now();
        result = f.poll.poll(f.events, 5s);
        elapsed = Clock::now() - start;
        done.store(true, std::memory_order_release);
    });
    const pthread_t target = tid.get_future().get();
    // The first signals may land before the thread enters epoll_wait; keep sending,
    // bounded to ~3 s.
    for (int attempt = 0; attempt < 300 && !done.load(std::memory_order_acquire); ++attempt) {
        std::this_thread::sleep_for(10ms);
        if (!done.load(std::memory_order_acquire)) {
            EXPECT_EQ(pthread_kill(target, SIGUSR1), 0);
        }
    }
    poller.join();

    ASSERT_FALSE(result.has_value()) << "poll timed out instead of returning EINTR";
    EXPECT_EQ(result.error(), std::errc::interrupted);
    EXPECT_TRUE(pollux::is_interrupted(result.error()));
    EXPECT_LT(elapsed, 4s);
}
