// 10^6-scale test for pollux/reactor/timer_wheel.hpp (label `long`; the bounded 10^5
// version is in timer_wheel_test.cpp). Synthetic time, no sleeps.
#include "pollux/reactor/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace pollux::reactor {
namespace {

using std::chrono::milliseconds;
using Clock = TimerWheel::Clock;

TEST(TimerWheelLong, million_timers_start_cancel_and_fire_in_deadline_order_at_their_ms) {
    constexpr std::size_t kCount = 1'000'000;
    constexpr std::int64_t kSpan = 60'000;  // 1 minute: most deadlines lie beyond the wheel
    const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours{1000};
    std::mt19937_64 rng(7);
    TimerWheel wheel(t0);
    std::vector<std::int64_t> deadline(kCount);
    std::vector<TimerId> ids(kCount);
    std::vector<std::uint32_t> fired;
    fired.reserve(kCount);
    std::size_t wrong_time = 0;
    for (std::size_t i = 0; i < kCount; ++i) {
        deadline[i] = std::uniform_int_distribution<std::int64_t>(0, kSpan)(rng);
        ids[i] = wheel.run_after(milliseconds{deadline[i]}, [&, i] {
            fired.push_back(static_cast<std::uint32_t>(i));
            wrong_time += wheel.now() != t0 + milliseconds{deadline[i]} ? 1 : 0;
        });
    }
    std::size_t cancelled = 0;
    for (std::size_t i = 0; i < kCount; i += 4) {
        cancelled += wheel.cancel(ids[i]) ? 1 : 0;
    }
    ASSERT_EQ(cancelled, kCount / 4);
    ASSERT_EQ(wheel.size(), kCount - cancelled);
    for (std::int64_t t = 0; t <= kSpan; ++t) {
        (void)wheel.advance(t0 + milliseconds{t});
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
