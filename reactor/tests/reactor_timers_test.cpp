// reactor/tests/reactor_timers_test.cpp — the TimerWheel driven by the loop: on time, on
// the loop thread, periodic, cancellable through post, and fair to I/O.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs `f` on the loop and returns its result.
template <class F>
auto in_loop(Reactor& r, F f) -> decltype(f()) {
    std::promise<decltype(f())> p;
    auto fut = p.get_future();
    EXPECT_TRUE(r.post([&] {
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            p.set_value();
        } else {
            p.set_value(f());
        }
    }));
    EXPECT_EQ(fut.wait_for(10s), std::future_status::ready);
    return fut.get();
}

TEST(ReactorTimers, run_after_fires_once_on_the_loop_thread_and_never_early) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::promise<std::pair<Clock::time_point, bool>> fired;
    const Clock::time_point started = in_loop(*reactor, [&] {
        const auto now = Clock::now();
        reactor->run_after_in_loop(50ms, [&] { fired.set_value({Clock::now(), reactor->is_in_loop_thread()}); });
        return now;
    });
    auto f = fired.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    const auto [at, on_loop] = f.get();
    EXPECT_TRUE(on_loop);
    EXPECT_GE(at - started, 50ms);
    EXPECT_LT(at - started, 2s) << "generous bound for a loaded 2-core machine";
    EXPECT_EQ(in_loop(*reactor, [&] { return reactor->timers_in_loop(); }), 0u);
}

TEST(ReactorTimers, run_every_repeats_until_cancelled_from_its_own_callback) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::atomic<int> ticks{0};
    std::promise<void> done;
    in_loop(*reactor, [&] {
        auto id = std::make_shared<TimerId>();
        *id = reactor->run_every_in_loop(5ms, [&, id] {
            if (++ticks == 5) {
                EXPECT_TRUE(reactor->cancel_timer_in_loop(*id));
                done.set_value();
            }
        });
    });
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(ticks.load(), 5) << "a cancelled periodic timer must not fire again";
    EXPECT_GE(reactor->stats().timers_fired, 5u);
}

TEST(ReactorTimers, cancel_posted_from_another_thread_stops_a_pending_timer) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::atomic<bool> fired{false};
    const TimerId id = in_loop(*reactor, [&] { return reactor->run_after_in_loop(200ms, [&] { fired = true; }); });
    EXPECT_TRUE(in_loop(*reactor, [&] { return reactor->cancel_timer_in_loop(id); }));
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(fired.load());
    EXPECT_FALSE(in_loop(*reactor, [&] { return reactor->cancel_timer_in_loop(id); })) << "second cancel is a no-op";
}

TEST(ReactorTimers, poll_blocks_until_the_next_timer_instead_of_spinning) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::promise<void> fired;
    const auto iterations_before = in_loop(*reactor, [&] {
        reactor->run_after_in_loop(100ms, [&] { fired.set_value(); });
        return reactor->stats().loop_iterations;
    });
    ASSERT_EQ(fired.get_future().wait_for(5s), std::future_status::ready);
    EXPECT_LT(reactor->stats().loop_iterations - iterations_before, 50u) << "the loop busy-polled while waiting";
}

struct StormReader final : EventHandler {
    Receiver* rx = nullptr;
    const int* fired = nullptr;  // loop-thread counter of storm timers fired
    int fired_when_handled = -1;
    void on_event(const Event&) override {
        std::byte buf[16];
        while (rx->read(buf)) {
        }
        if (fired_when_handled < 0) fired_when_handled = *fired;
    }
};

TEST(ReactorTimers, a_storm_of_zero_delay_timers_does_not_starve_io) {
    constexpr int kStorm = 10'000;
    ReactorOptions opts;
    opts.timer_budget = 256;
    auto reactor = Reactor::create(opts).value();
    auto [tx, rx] = pollux::pipe().value();
    int fired = 0;  // loop thread only
    StormReader reader;
    reader.rx = &rx;
    reader.fired = &fired;
    ASSERT_TRUE(reactor->register_in_loop(rx, Interest::READABLE, reader));
    ASSERT_TRUE(reactor->start());

    std::promise<void> all_fired;
    in_loop(*reactor, [&] {
        for (int i = 0; i < kStorm; ++i) {
            reactor->run_after_in_loop(0ms, [&, i] {
                if (i == 0) {  // the pipe becomes readable in the middle of the storm
                    const std::byte b{1};
                    ASSERT_TRUE(tx.write({&b, 1}));
                }
                if (++fired == kStorm) all_fired.set_value();
            });
        }
    });
    ASSERT_EQ(all_fired.get_future().wait_for(10s), std::future_status::ready);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    ASSERT_GE(reader.fired_when_handled, 1) << "the pipe was written by the first timer";
    EXPECT_LT(reader.fired_when_handled, kStorm) << "I/O waited for the whole timer storm";
    EXPECT_LE(reader.fired_when_handled, 2 * 256) << "I/O should be served within about one timer budget";
}

}  // namespace
}  // namespace pollux::reactor
