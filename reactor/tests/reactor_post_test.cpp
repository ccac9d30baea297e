// reactor/tests/reactor_post_test.cpp — cross-thread post: FIFO per producer, no loss,
// coalesced wakes, fairness against I/O.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/reactor.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLLUX_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POLLUX_TEST_SANITIZED 1
#endif
#endif

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;

#ifdef POLLUX_TEST_SANITIZED
constexpr std::uint64_t kTotalPosts = 200'000;
#else
constexpr std::uint64_t kTotalPosts = 1'000'000;
#endif

// Loop-thread-only bookkeeping for the FIFO check.
struct FifoCheck {
    std::vector<std::int64_t> last;  // last sequence number seen per producer
    std::uint64_t seen = 0;
    std::uint64_t order_violations = 0;
    std::atomic<std::uint64_t> progress{0};  // = seen, readable without posting
    void record(std::size_t producer, std::int64_t seq) {
        if (seq != last[producer] + 1) ++order_violations;
        last[producer] = seq;
        ++seen;
        progress.store(seen, std::memory_order_relaxed);
    }
};

// Four producers (two through post(), two through explicit Producer tokens) post
// `total` tasks; returns after the reactor has stopped and joined.
void run_producers(Reactor& reactor, FifoCheck& check, std::uint64_t total, std::size_t producers) {
    check.last.assign(producers, -1);
    const std::uint64_t per = total / producers;
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            if (p % 2 == 1) {
                auto producer = reactor.make_producer();
                for (std::uint64_t i = 0; i < per; ++i)
                    ASSERT_TRUE(producer.post([&check, p, i] { check.record(p, static_cast<std::int64_t>(i)); }));
            } else {
                for (std::uint64_t i = 0; i < per; ++i)
                    ASSERT_TRUE(reactor.post([&check, p, i] { check.record(p, static_cast<std::int64_t>(i)); }));
            }
        });
    }
    for (auto& t : threads) t.join();
    // No stop() yet: stop wakes the loop and drains, which would hide a lost wake-up.
    // Every task must run on the strength of the producers' own wakes.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (check.progress.load(std::memory_order_relaxed) < per * producers &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(check.progress.load(std::memory_order_relaxed), per * producers) << "lost wake-up: tasks stranded";
    reactor.stop();
    ASSERT_TRUE(reactor.join());
}

TEST(ReactorPost, four_producers_lose_no_task_and_each_producers_tasks_run_in_order) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    FifoCheck check;
    run_producers(*reactor, check, kTotalPosts, 4);

    EXPECT_EQ(check.seen, kTotalPosts);
    EXPECT_EQ(check.order_violations, 0u);
    const ReactorStats s = reactor->stats();
    EXPECT_EQ(s.tasks_run, kTotalPosts);
    EXPECT_LE(s.wakes_written, s.batches_drained) << "at most one eventfd write per drained batch";
    EXPECT_GE(s.batches_drained, 1u);
}

TEST(ReactorPost, ping_pong_posts_never_strand_a_task_while_the_loop_sleeps) {
    // Each round posts one task and waits for it without posting again, so the loop goes
    // back to sleep between rounds. In even rounds the task also holds the drain open
    // until the next post has been made, so that post lands *inside* a drain: exactly
    // where a drain-then-clear protocol would swallow its wake-up.
#ifdef POLLUX_TEST_SANITIZED
    constexpr int kRounds = 500;
#else
    constexpr int kRounds = 2'000;
#endif
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::atomic<int> ran{0};
    std::atomic<int> posted{0};
    for (int i = 0; i < kRounds; ++i) {
        posted.store(i + 1, std::memory_order_release);
        ASSERT_TRUE(reactor->post([&ran, &posted, i] {
            ran.store(i + 1, std::memory_order_release);
            if (i % 2 == 0) {
                const auto until = std::chrono::steady_clock::now() + 200us;
                while (posted.load(std::memory_order_acquire) < i + 2 && std::chrono::steady_clock::now() < until) {
                }
            }
        }));
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (ran.load(std::memory_order_acquire) != i + 1) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "task " << i << " stranded";
            std::this_thread::yield();
        }
    }
    const ReactorStats s = reactor->stats();
    EXPECT_LE(s.wakes_written, s.batches_drained);
}

TEST(ReactorPost, wakes_are_coalesced_while_the_loop_is_busy) {
    // The loop is blocked inside a task while 10k posts arrive: they all find the flag
    // set (by the first post after the current drain began) and write no eventfd.
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> blocked{false};
    ASSERT_TRUE(reactor->post([&] {
        blocked = true;
        released.wait();
    }));
    while (!blocked) std::this_thread::yield();
    const auto before = reactor->stats().wakes_written;
    std::atomic<int> ran{0};
    for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(reactor->post([&] { ++ran; }));
    const auto during = reactor->stats().wakes_written - before;
    release.set_value();
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_EQ(ran.load(), 10'000);
    EXPECT_LE(during, 1u) << "10k posts into one pending batch must write the eventfd at most once";
}

TEST(ReactorPost, a_post_from_the_loop_thread_runs_and_writes_no_eventfd) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::promise<std::uint64_t> wakes_inside;
    ASSERT_TRUE(reactor->post([&] {
        Reactor* r = Reactor::current();
        const auto before = r->stats().wakes_written;
        r->post([&, r, before] { wakes_inside.set_value(r->stats().wakes_written - before); });
    }));
    auto f = wakes_inside.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), 0u);
}

TEST(ReactorPost, posts_before_start_run_once_the_loop_starts) {
    auto reactor = Reactor::create().value();
    int ran = 0;  // written by the loop thread, read after join
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(reactor->post([&] { ++ran; }));
    ASSERT_TRUE(reactor->start());
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_EQ(ran, 100);
}

struct CountingReader final : EventHandler {
    Receiver* rx = nullptr;
    std::atomic<int> events{0};
    void on_event(const Event&) override {
        std::byte buf[64];
        while (rx->read(buf)) {
        }
        ++events;
    }
};

TEST(ReactorPost, a_task_that_reposts_itself_forever_does_not_starve_io) {
    ReactorOptions opts;
    opts.task_budget = 64;
    auto reactor = Reactor::create(opts).value();
    auto [tx, rx] = pollux::pipe().value();
    CountingReader reader;
    reader.rx = &rx;
    ASSERT_TRUE(reactor->register_in_loop(rx, Interest::READABLE, reader));  // before start: creator thread
    ASSERT_TRUE(reactor->start());

    std::atomic<bool> keep_going{true};
    std::atomic<std::uint64_t> spins{0};
    struct Spinner {
        std::atomic<bool>* keep_going;
        std::atomic<std::uint64_t>* spins;
        void operator()() const {
            ++*spins;
            if (*keep_going) Reactor::current()->post(Spinner{*this});
        }
    };
    ASSERT_TRUE(reactor->post(Spinner{&keep_going, &spins}));
    while (spins < 1000) std::this_thread::yield();

    const std::byte b{1};
    ASSERT_TRUE(tx.write({&b, 1}));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (reader.events == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    keep_going = false;
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_GE(reader.events.load(), 1) << "I/O starved by a self-reposting task";
}

TEST(ReactorPost, posted_depth_counts_tasks_not_yet_run) {
    auto reactor = Reactor::create();
    ASSERT_TRUE(reactor.has_value());
    Reactor& r = **reactor;
    EXPECT_EQ(r.posted_depth(), 0u);
    std::atomic<int> ran{0};
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(r.post([&ran] { ran.fetch_add(1); }));
    EXPECT_EQ(r.posted_depth(), 5u);  // not started: nothing drains
    ASSERT_TRUE(r.start().has_value());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (ran.load() < 5 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ran.load(), 5);
    EXPECT_EQ(r.posted_depth(), 0u);
    r.stop();
    ASSERT_TRUE(r.join().has_value());
}

TEST(ReactorPost, a_moved_from_producer_refuses_to_post) {
    auto reactor = Reactor::create().value();
    auto p = reactor->make_producer();
    auto q = std::move(p);
    EXPECT_FALSE(p.post([] {}));  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_TRUE(q.post([] {}));
}

}  // namespace
}  // namespace pollux::reactor
