// reactor/tests/long_reactor_post_test.cpp — soak version of reactor_post_test: the full
// 10^6 posts even under sanitizers, then 4 * 10^6 from 8 producers (oversubscribed on
// purpose). Labelled `long`; CI runs the bounded version in reactor_post_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "pollux/reactor/reactor.hpp"

// The moodycamel suppression for this test binary (defined here, once).
#include "support/tsan_suppressions.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;

void soak(std::uint64_t total, std::size_t producers) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::vector<std::int64_t> last(producers, -1);  // loop thread only
    std::uint64_t violations = 0;                   // loop thread only
    std::atomic<std::uint64_t> seen{0};
    const std::uint64_t per = total / producers;
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            auto producer = reactor->make_producer();
            for (std::uint64_t i = 0; i < per; ++i) {
                auto task = [&, p, i] {
                    if (static_cast<std::int64_t>(i) != last[p] + 1) ++violations;
                    last[p] = static_cast<std::int64_t>(i);
                    seen.fetch_add(1, std::memory_order_relaxed);
                };
                ASSERT_TRUE(p % 2 == 0 ? reactor->post(std::move(task)) : producer.post(std::move(task)));
            }
        });
    }
    for (auto& t : threads) t.join();
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (seen.load() < per * producers && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(seen.load(), per * producers) << "lost wake-up: tasks stranded";
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_EQ(violations, 0u);
    const ReactorStats s = reactor->stats();
    EXPECT_EQ(s.tasks_run, per * producers);
    EXPECT_LE(s.wakes_written, s.batches_drained);
}

TEST(ReactorPostSoak, one_million_posts_from_four_producers_all_run_in_per_producer_order) { soak(1'000'000, 4); }

TEST(ReactorPostSoak, four_million_posts_from_eight_producers_all_run_in_per_producer_order) { soak(4'000'000, 8); }

}  // namespace
}  // namespace pollux::reactor
