// Tests for pollux/reactor/timer_wheel.hpp. Time is synthetic: every test drives the
// wheel with time points built from a fixed origin, never with sleeps.
#include "pollux/reactor/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = TimerWheel::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1000h;  // arbitrary origin

Clock::time_point at(std::int64_t ms) { return kT0 + milliseconds{ms}; }

// ---- basic contract ---------------------------------------------------------------------

TEST(TimerWheel, timer_fires_at_its_deadline_and_not_one_ms_before) {
    TimerWheel wheel(at(0));
    int fired = 0;
    wheel.run_after(10ms, [&] { ++fired; });
    EXPECT_EQ(wheel.advance(at(9)), 0u);
    EXPECT_EQ(fired, 0);
    EXPECT_EQ(wheel.advance(at(10)), 1u);
    EXPECT_EQ(fired, 1);
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, deadline_inside_a_millisecond_rounds_up_and_never_fires_early) {
    TimerWheel wheel(at(0));
    (void)wheel.advance(at(0) + 300us);
    Clock::time_point fired_at{};
    wheel.run_after(5ms, [&] { fired_at = wheel.now(); });  // deadline 5.3 ms
    // Due tick 6 (5.3 rounded up): 5.7 ms away, so a 6 ms poll wakes on time.
    EXPECT_EQ(wheel.time_until_next(at(0) + 300us), 6ms);
    (void)wheel.advance(at(5) + 200us);
    EXPECT_EQ(fired_at, Clock::time_point{});
    EXPECT_EQ(wheel.time_until_next(at(5) + 200us), 1ms);  // 0.8 ms, rounded up
    (void)wheel.advance(at(6));
    EXPECT_EQ(fired_at, at(6));
}

TEST(TimerWheel, run_at_uses_an_absolute_deadline) {
    TimerWheel wheel(at(0));
    int fired = 0;
    wheel.run_at(at(250), [&] { ++fired; });
    (void)wheel.advance(at(249));
    EXPECT_EQ(fired, 0);
    (void)wheel.advance(at(250));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, timers_due_in_the_same_ms_fire_in_start_order) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    for (int i = 0; i < 50; ++i) {
        wheel.run_after(7ms, [&order, i] { order.push_back(i); });
    }
    (void)wheel.advance(at(100));
    ASSERT_EQ(order.size(), 50u);
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
    }
}

TEST(TimerWheel, one_advance_over_many_ms_fires_in_deadline_order) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    for (int d : {30, 5, 5000, 20, 1, 4097, 4096}) {
        wheel.run_after(milliseconds{d}, [&order, d] { order.push_back(d); });
    }
    EXPECT_EQ(wheel.advance(at(10'000)), 7u);
    EXPECT_EQ(order, (std::vector<int>{1, 5, 20, 30, 4096, 4097, 5000}));
}

// ---- zero delay and past deadlines -------------------------------------------------------

TEST(TimerWheel, zero_delay_fires_on_the_next_advance_even_at_the_same_time) {
    TimerWheel wheel(at(0));
    int fired = 0;
    wheel.run_after(0ms, [&] { ++fired; });
    EXPECT_EQ(wheel.time_until_next(at(0)), 0ms);
    EXPECT_EQ(wheel.advance(at(0)), 1u);
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, negative_delay_and_past_deadline_are_due_at_once) {
    TimerWheel wheel(at(100));
    int fired = 0;
    wheel.run_after(-5ms, [&] { ++fired; });
    wheel.run_at(at(3), [&] { ++fired; });
    wheel.run_at(Clock::time_point::min(), [&] { ++fired; });
    EXPECT_EQ(wheel.time_until_next(at(100)), 0ms);
    EXPECT_EQ(wheel.advance(at(100)), 3u);
    EXPECT_EQ(fired, 3);
}

TEST(TimerWheel, zero_delay_timer_started_by_a_callback_waits_for_the_next_advance) {
    TimerWheel wheel(at(0));
    int runs = 0;
    // Restarts itself with zero delay: must fire once per advance, never loop.
    std::function<void()> again = [&] {
        ++runs;
        wheel.run_after(0ms, [&] { again(); });
    };
    wheel.run_after(0ms, [&] { again(); });
    EXPECT_EQ(wheel.advance(at(0)), 1u);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(wheel.time_until_next(at(0)), 0ms);
    EXPECT_EQ(wheel.advance(at(0)), 1u);
    EXPECT_EQ(wheel.advance(at(1)), 1u);
    EXPECT_EQ(runs, 3);
}

TEST(TimerWheel, past_deadline_started_late_fires_after_timers_already_due) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    wheel.run_after(10ms, [&] { order.push_back(1); });
    wheel.run_after(20ms, [&] { order.push_back(2); });
    (void)wheel.advance(at(30), 0);  // clock moves, nothing fires
    wheel.run_at(at(5), [&] { order.push_back(3); });
    (void)wheel.advance(at(30));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// ---- budget --------------------------------------------------------------------------------

TEST(TimerWheel, budget_caps_callbacks_per_advance_and_the_rest_stay_due) {
    TimerWheel wheel(at(0));
    int fired = 0;
    for (int i = 0; i < 10'000; ++i) {
        wheel.run_after(0ms, [&] { ++fired; });
    }
    int advances = 0;
    while (!wheel.empty()) {
        ASSERT_EQ(wheel.time_until_next(at(0)), 0ms);
        const std::size_t n = wheel.advance(at(0), 64);
        ASSERT_EQ(n, std::min<std::size_t>(64, 10'000 - static_cast<std::size_t>(advances) * 64));
        ++advances;
        ASSERT_LE(advances, 200);
    }
    EXPECT_EQ(fired, 10'000);
    EXPECT_EQ(advances, (10'000 + 63) / 64);
    EXPECT_EQ(wheel.time_until_next(at(0)), std::nullopt);
}

TEST(TimerWheel, budget_leftovers_keep_deadline_order_across_ms) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    for (int i = 0; i < 30; ++i) {
        wheel.run_after(milliseconds{i / 10 + 1}, [&order, i] { order.push_back(i); });
    }
    EXPECT_EQ(wheel.advance(at(50), 7), 7u);
    wheel.run_after(0ms, [&order] { order.push_back(100); });  // due now: after the rest
    while (wheel.advance(at(50), 7) > 0) {
    }
    ASSERT_EQ(order.size(), 31u);
    for (int i = 0; i < 30; ++i) {
        EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
    }
    EXPECT_EQ(order.back(), 100);
}

TEST(TimerWheel, advance_with_zero_budget_moves_the_clock_only) {
    TimerWheel wheel(at(0));
    int fired = 0;
    wheel.run_after(5ms, [&] { ++fired; });
    EXPECT_EQ(wheel.advance(at(100), 0), 0u);
    EXPECT_EQ(wheel.now(), at(100));
    EXPECT_EQ(fired, 0);
    Clock::time_point second{};
    wheel.run_after(10ms, [&] { second = wheel.now(); });  // relative to the new now
    (void)wheel.advance(at(109));
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(second, Clock::time_point{});
    (void)wheel.advance(at(110));
    EXPECT_EQ(second, at(110));
}

TEST(TimerWheel, stale_time_does_not_move_the_clock_back) {
    TimerWheel wheel(at(50));
    (void)wheel.advance(at(40));
    EXPECT_EQ(wheel.now(), at(50));
    int fired = 0;
    wheel.run_after(1ms, [&] { ++fired; });
    EXPECT_EQ(wheel.time_until_next(at(10)), 1ms);  // measured from now(), not the stale time
    (void)wheel.advance(at(51));
    EXPECT_EQ(fired, 1);
}

// ---- far deadlines -------------------------------------------------------------------------

TEST(TimerWheel, three_hour_deadline_fires_exactly_then_and_not_early) {
    constexpr std::int64_t kThreeHours = 3 * 3600 * 1000;
    TimerWheel wheel(at(0));
    std::int64_t fired_at = -1;
    wheel.run_after(milliseconds{kThreeHours}, [&] {
        fired_at = std::chrono::duration_cast<milliseconds>(wheel.now() - kT0).count();
    });
    EXPECT_EQ(wheel.time_until_next(at(0)), milliseconds{kThreeHours});
    // Walk in uneven steps of about a second, then ms by ms near the end.
    std::int64_t t = 0;
    while (t < kThreeHours - 2000) {
        t += 997;
        ASSERT_EQ(wheel.advance(at(t)), 0u) << "fired early at " << t;
    }
    for (; t < kThreeHours - 1; ++t) {
        ASSERT_EQ(wheel.advance(at(t)), 0u) << "fired early at " << t;
    }
    EXPECT_EQ(wheel.time_until_next(at(kThreeHours - 1)), 1ms);
    EXPECT_EQ(wheel.advance(at(kThreeHours - 1)), 0u);
    EXPECT_EQ(wheel.advance(at(kThreeHours)), 1u);
    EXPECT_EQ(fired_at, kThreeHours);
}

TEST(TimerWheel, far_deadline_reached_by_one_large_jump_fires_once) {
    TimerWheel wheel(at(0));
    int fired = 0;
    wheel.run_after(10h, [&] { ++fired; });
    wheel.run_after(10h + 1ms, [&] { ++fired; });
    EXPECT_EQ(wheel.advance(at(36'000'000 - 1)), 0u);
    EXPECT_EQ(wheel.advance(at(36'000'000)), 1u);
    EXPECT_EQ(wheel.advance(at(100'000'000)), 1u);
    EXPECT_EQ(fired, 2);
}

TEST(TimerWheel, far_and_near_starts_for_the_same_ms_keep_start_order) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    wheel.run_after(10'000ms, [&] { order.push_back(1); });  // beyond the wheel: heap
    (void)wheel.advance(at(7000));
    wheel.run_after(3000ms, [&] { order.push_back(2); });  // same ms, within range
    (void)wheel.advance(at(2000 + 7000), 0);
    wheel.run_after(1000ms, [&] { order.push_back(3); });
    (void)wheel.advance(at(20'000));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerWheel, huge_delays_are_clamped_not_overflowed) {
    TimerWheel wheel(at(0));
    const TimerId id = wheel.run_after(milliseconds::max(), [] {});
    const TimerId id2 = wheel.run_at(Clock::time_point::max(), [] {});
    const TimerId id3 = wheel.run_every(milliseconds::max(), [] {});
    EXPECT_EQ(wheel.time_until_next(at(0)), TimerWheel::kMaxDelay);
    EXPECT_EQ(wheel.advance(at(1'000'000'000)), 0u);
    EXPECT_TRUE(wheel.cancel(id));
    EXPECT_TRUE(wheel.cancel(id2));
    EXPECT_TRUE(wheel.cancel(id3));
}

// ---- periodic timers -------------------------------------------------------------------------

TEST(TimerWheel, run_every_repeats_at_its_period_until_cancelled) {
    TimerWheel wheel(at(0));
    std::vector<std::int64_t> times;
    const TimerId id = wheel.run_every(25ms, [&] {
        times.push_back(std::chrono::duration_cast<milliseconds>(wheel.now() - kT0).count());
    });
    for (std::int64_t t = 1; t <= 100; ++t) {
        (void)wheel.advance(at(t));
    }
    EXPECT_EQ(times, (std::vector<std::int64_t>{25, 50, 75, 100}));
    EXPECT_TRUE(wheel.contains(id));
    EXPECT_TRUE(wheel.cancel(id));
    EXPECT_FALSE(wheel.contains(id));
    for (std::int64_t t = 101; t <= 300; ++t) {
        (void)wheel.advance(at(t));
    }
    EXPECT_EQ(times.size(), 4u);
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, run_every_with_zero_period_is_clamped_to_one_ms) {
    TimerWheel wheel(at(0));
    int runs = 0;
    wheel.run_every(0ms, [&] { ++runs; });
    EXPECT_EQ(wheel.time_until_next(at(0)), 1ms);
    EXPECT_EQ(wheel.advance(at(0)), 0u);
    EXPECT_EQ(wheel.advance(at(1)), 1u);
    EXPECT_EQ(wheel.advance(at(1)), 0u);  // not a busy loop
    EXPECT_EQ(wheel.advance(at(2)), 1u);
    EXPECT_EQ(runs, 2);
}

TEST(TimerWheel, run_every_skips_missed_periods_instead_of_bursting) {
    TimerWheel wheel(at(0));
    std::vector<std::int64_t> times;
    wheel.run_every(10ms, [&] {
        times.push_back(std::chrono::duration_cast<milliseconds>(wheel.now() - kT0).count());
    });
    (void)wheel.advance(at(95));  // late by 8 periods: fires once
    EXPECT_EQ(times.size(), 1u);
    EXPECT_EQ(wheel.time_until_next(at(95)), 5ms);  // next on the original grid: 100
    (void)wheel.advance(at(100));
    EXPECT_EQ(times, (std::vector<std::int64_t>{95, 100}));
}

TEST(TimerWheel, periodic_timer_cancelled_from_its_own_callback_stops) {
    TimerWheel wheel(at(0));
    int runs = 0;
    TimerId id;
    id = wheel.run_every(5ms, [&] {
        if (++runs == 3) {
            EXPECT_TRUE(wheel.cancel(id));
            EXPECT_FALSE(wheel.cancel(id));
        }
    });
    for (std::int64_t t = 1; t <= 100; ++t) {
        (void)wheel.advance(at(t));
    }
    EXPECT_EQ(runs, 3);
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, periodic_timer_counts_as_pending_while_its_callback_runs) {
    TimerWheel wheel(at(0));
    TimerId id;
    bool inside = false;
    id = wheel.run_every(5ms, [&] {
        inside = wheel.contains(id) && wheel.size() == 1;
    });
    (void)wheel.advance(at(5));
    EXPECT_TRUE(inside);
    EXPECT_EQ(wheel.size(), 1u);
}

// ---- cancel and ids -------------------------------------------------------------------------

TEST(TimerWheel, cancel_stops_a_pending_timer_and_returns_true_once) {
    TimerWheel wheel(at(0));
    int fired = 0;
    const TimerId id = wheel.run_after(5ms, [&] { ++fired; });
    EXPECT_EQ(wheel.size(), 1u);
    EXPECT_TRUE(wheel.cancel(id));
    EXPECT_FALSE(wheel.cancel(id));
    EXPECT_EQ(wheel.size(), 0u);
    EXPECT_EQ(wheel.time_until_next(at(0)), std::nullopt);
    (void)wheel.advance(at(10));
    EXPECT_EQ(fired, 0);
}

TEST(TimerWheel, cancel_of_fired_default_or_out_of_range_id_returns_false) {
    TimerWheel wheel(at(0));
    const TimerId id = wheel.run_after(1ms, [] {});
    (void)wheel.advance(at(1));
    EXPECT_FALSE(wheel.contains(id));
    EXPECT_FALSE(wheel.cancel(id));
    EXPECT_FALSE(wheel.cancel(TimerId{}));
    EXPECT_FALSE(TimerId{}.valid());
    EXPECT_FALSE(wheel.cancel(TimerId{12345, 1}));
}

TEST(TimerWheel, stale_id_does_not_cancel_the_new_owner_of_a_reused_slot) {
    TimerWheel wheel(at(0));
    const TimerId old_id = wheel.run_after(1ms, [] {});
    EXPECT_TRUE(wheel.cancel(old_id));
    int fired = 0;
    const TimerId new_id = wheel.run_after(1ms, [&] { ++fired; });
    ASSERT_EQ(new_id.index, old_id.index);  // the slab slot was reused
    EXPECT_NE(new_id, old_id);
    EXPECT_FALSE(wheel.cancel(old_id));
    EXPECT_TRUE(wheel.contains(new_id));
    (void)wheel.advance(at(1));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, one_shot_cancel_from_its_own_callback_returns_false) {
    TimerWheel wheel(at(0));
    TimerId id;
    bool result = true;
    id = wheel.run_after(1ms, [&] { result = wheel.cancel(id); });
    (void)wheel.advance(at(1));
    EXPECT_FALSE(result);
}

TEST(TimerWheel, callback_can_cancel_a_timer_due_later_in_the_same_advance) {
    TimerWheel wheel(at(0));
    std::vector<int> order;
    TimerId second;
    wheel.run_after(1ms, [&] {
        order.push_back(1);
        EXPECT_TRUE(wheel.cancel(second));
    });
    second = wheel.run_after(1ms, [&] { order.push_back(2); });
    wheel.run_after(2ms, [&] { order.push_back(3); });
    EXPECT_EQ(wheel.advance(at(5)), 2u);
    EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(TimerWheel, callbacks_may_start_timers_that_fire_later_in_order) {
    TimerWheel wheel(at(0));
    std::vector<std::int64_t> times;
    auto record = [&] {
        times.push_back(std::chrono::duration_cast<milliseconds>(wheel.now() - kT0).count());
    };
    wheel.run_after(10ms, [&] {
        record();
        wheel.run_after(5ms, record);
        wheel.run_after(5000ms, record);  // beyond the wheel
    });
    for (std::int64_t t = 1; t <= 6000; ++t) {
        (void)wheel.advance(at(t));
    }
    EXPECT_EQ(times, (std::vector<std::int64_t>{10, 15, 5010}));
}

TEST(TimerWheel, callback_is_destroyed_after_firing_and_on_cancel) {
    TimerWheel wheel(at(0));
    auto token = std::make_shared<int>(0);
    const TimerId a = wheel.run_after(1ms, [token] {});
    wheel.run_after(2ms, [token] {});
    EXPECT_EQ(token.use_count(), 3);
    EXPECT_TRUE(wheel.cancel(a));
    EXPECT_EQ(token.use_count(), 2);
    (void)wheel.advance(at(2));
    EXPECT_EQ(token.use_count(), 1);
}

TEST(TimerWheel, moved_from_wheel_is_inert_and_the_target_keeps_the_timers) {
    TimerWheel wheel(at(0));
    int fired = 0;
    const TimerId id = wheel.run_after(3ms, [&] { ++fired; });
    TimerWheel other(std::move(wheel));
    EXPECT_FALSE(wheel.run_after(1ms, [&] { ++fired; }).valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(wheel.cancel(id));
    EXPECT_EQ(wheel.time_until_next(at(0)), std::nullopt);
    EXPECT_EQ(wheel.advance(at(10)), 0u);
    EXPECT_TRUE(other.contains(id));
    EXPECT_EQ(other.advance(at(3)), 1u);
    EXPECT_EQ(fired, 1);
}

// ---- time_until_next ---------------------------------------------------------------------

TEST(TimerWheel, time_until_next_is_nullopt_when_empty_and_tracks_the_earliest) {
    TimerWheel wheel(at(0));
    EXPECT_EQ(wheel.time_until_next(at(0)), std::nullopt);
    const TimerId a = wheel.run_after(300ms, [] {});
    wheel.run_after(9000ms, [] {});
    EXPECT_EQ(wheel.time_until_next(at(0)), 300ms);
    EXPECT_EQ(wheel.time_until_next(at(100)), 200ms);
    EXPECT_EQ(wheel.time_until_next(at(400)), 0ms);
    EXPECT_TRUE(wheel.cancel(a));
    EXPECT_EQ(wheel.time_until_next(at(0)), 9000ms);  // from the overflow heap
}

TEST(TimerWheel, next_deadline_is_the_earliest_deadline_now_when_due_and_max_when_empty) {
    TimerWheel wheel(at(0));
    EXPECT_EQ(wheel.next_deadline(), Clock::time_point::max());
    const TimerId a = wheel.run_after(300ms, [] {});
    wheel.run_after(9000ms, [] {});
    EXPECT_EQ(wheel.next_deadline(), at(300));
    EXPECT_EQ(wheel.advance(at(299)), 0u);  // the cached answer still holds
    EXPECT_EQ(wheel.next_deadline(), at(300));
    wheel.run_after(1ms, [] {});  // a start moves it
    EXPECT_EQ(wheel.next_deadline(), at(300));
    EXPECT_EQ(wheel.advance(at(300)), 2u);
    EXPECT_EQ(wheel.next_deadline(), at(9000));  // from the overflow heap
    wheel.run_after(0ms, [] {});
    EXPECT_EQ(wheel.next_deadline(), at(300)) << "a due timer: the wheel's current time";
    EXPECT_EQ(wheel.advance(at(300)), 1u);
    EXPECT_FALSE(wheel.cancel(a));
}

TEST(TimerWheel, starts_after_advances_that_fired_nothing_count_from_the_latest_time) {
    // advance() moves the current time even when it returns early (nothing due), and a
    // timer started afterwards counts from there, not from the last firing.
    TimerWheel wheel(at(0));
    wheel.run_after(100'000ms, [] {});
    for (std::int64_t ms = 1; ms <= 5000; ms += 7) EXPECT_EQ(wheel.advance(at(ms)), 0u);
    EXPECT_EQ(wheel.now(), at(4999));
    int fired = 0;
    wheel.run_after(10ms, [&] { ++fired; });
    wheel.run_at(at(5005), [&] { ++fired; });
    wheel.run_after(0ms, [&] { ++fired; });
    EXPECT_EQ(wheel.next_deadline(), at(4999));
    EXPECT_EQ(wheel.advance(at(4999)), 1u);
    EXPECT_EQ(wheel.next_deadline(), at(5005));
    EXPECT_EQ(wheel.advance(at(5004)), 0u);
    EXPECT_EQ(wheel.advance(at(5005)), 1u);
    EXPECT_EQ(wheel.advance(at(5008)), 0u);
    EXPECT_EQ(wheel.advance(at(5009)), 1u);
    EXPECT_EQ(fired, 3);
}

// ---- scale ---------------------------------------------------------------------------------

TEST(TimerWheel, hundred_thousand_timers_start_and_fire_in_deadline_order) {
    // 10^5 here; long_timer_wheel_test.cpp runs 10^6.
    constexpr std::size_t kCount = 100'000;
    std::mt19937_64 rng(42);
    TimerWheel wheel(at(0));
    std::vector<std::int64_t> deadline(kCount);
    std::vector<TimerId> ids(kCount);
    std::vector<std::uint32_t> fired;
    fired.reserve(kCount);
    std::size_t wrong_time = 0;
    for (std::size_t i = 0; i < kCount; ++i) {
        deadline[i] = std::uniform_int_distribution<std::int64_t>(0, 20'000)(rng);
        ids[i] = wheel.run_after(milliseconds{deadline[i]}, [&, i] {
            fired.push_back(static_cast<std::uint32_t>(i));
            wrong_time += wheel.now() != at(deadline[i]) ? 1 : 0;
        });
    }
    std::size_t cancelled = 0;
    for (std::size_t i = 0; i < kCount; i += 3) {
        cancelled += wheel.cancel(ids[i]) ? 1 : 0;
    }
    ASSERT_EQ(wheel.size(), kCount - cancelled);
    for (std::int64_t t = 0; t <= 20'000; ++t) {
        (void)wheel.advance(at(t));
    }
    EXPECT_TRUE(wheel.empty());
    ASSERT_EQ(fired.size(), kCount - cancelled);
    EXPECT_EQ(wrong_time, 0u);
    for (std::size_t n = 1; n < fired.size(); ++n) {
        const std::uint32_t a = fired[n - 1];
        const std::uint32_t b = fired[n];
        ASSERT_TRUE(deadline[a] < deadline[b] || (deadline[a] == deadline[b] && a < b)) << "at " << n;
    }
}

}  // namespace
}  // namespace pollux::reactor
