// reactor/tests/reactor_rounds_test.cpp — fairness in rounds (requeue_in_loop, loop-thread
// posts), a bounded exit, saturating delays and the one exception policy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;

// A pipe reader that reads ONE byte per turn and then, like a handler whose budget ran
// out, requeues itself instead of reading on to WouldBlock. Logs the loop iteration of
// each turn.
struct OneByteReader final : EventHandler {
    Reactor* reactor = nullptr;
    Receiver* rx = nullptr;
    RegistrationId id{};
    std::vector<std::uint64_t> turns;  // loop iteration of each turn (loop thread)
    std::size_t max_turns = 1000;
    void on_event(const Event&) override {
        std::byte b;
        if (!rx->read({&b, 1})) return;  // WouldBlock: drained
        turns.push_back(reactor->stats().loop_iterations);
        if (turns.size() < max_turns) reactor->requeue_in_loop(id);
    }
};

struct CountingReader final : EventHandler {
    Reactor* reactor = nullptr;
    Receiver* rx = nullptr;
    std::uint64_t first_iteration = 0;
    std::size_t other_turns_before = 0;  // the busy reader's turns before our first event
    const OneByteReader* busy = nullptr;
    std::atomic<int> events{0};
    void on_event(const Event&) override {
        std::byte buf[64];
        while (rx->read(buf)) {
        }
        if (events++ == 0) {
            first_iteration = reactor->stats().loop_iterations;
            other_turns_before = busy->turns.size();
        }
    }
};

TEST(ReactorRounds, a_requeued_handler_gets_one_turn_per_round_and_a_ready_source_gets_in_between) {
    auto reactor = Reactor::create().value();
    auto [btx, brx] = pollux::pipe().value();
    auto [qtx, qrx] = pollux::pipe().value();
    OneByteReader busy;
    busy.reactor = reactor.get();
    busy.rx = &brx;
    busy.max_turns = 60'000;  // about a pipe's worth of one-byte turns
    CountingReader quiet;
    quiet.reactor = reactor.get();
    quiet.rx = &qrx;
    quiet.busy = &busy;
    // Before start the creating thread is the loop thread.
    busy.id = reactor->register_in_loop(brx, Interest::READABLE, busy).value();
    ASSERT_TRUE(reactor->register_in_loop(qrx, Interest::READABLE, quiet));
    std::vector<std::byte> lots(60'000, std::byte{1});
    ASSERT_TRUE(btx.write(lots));
    ASSERT_TRUE(reactor->start());

    // Once the busy reader is going, the quiet source becomes ready.
    ASSERT_TRUE(reactor->post([&] {}));
    while (reactor->stats().requeued < 3) std::this_thread::yield();
    const std::byte one{7};
    ASSERT_TRUE(qtx.write({&one, 1}));
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (quiet.events == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    reactor->stop();
    ASSERT_TRUE(reactor->join());

    ASSERT_EQ(quiet.events.load(), 1);
    // The quiet source was served long before the busy one ran out of turns: the
    // poller ran between the busy reader's turns.
    EXPECT_LT(quiet.other_turns_before, busy.max_turns);
    // One turn per round: no two turns of the requeued reader share a loop iteration.
    for (std::size_t i = 1; i < busy.turns.size(); ++i) {
        ASSERT_LT(busy.turns[i - 1], busy.turns[i]) << "two turns in one round at turn " << i;
    }
}

TEST(ReactorRounds, a_requeue_for_a_deregistered_source_is_dropped) {
    auto reactor = Reactor::create().value();
    auto [tx, rx] = pollux::pipe().value();
    OneByteReader reader;
    reader.reactor = reactor.get();
    reader.rx = &rx;
    reader.id = reactor->register_in_loop(rx, Interest::READABLE, reader).value();
    ASSERT_TRUE(reactor->start());
    std::promise<std::size_t> turns;
    ASSERT_TRUE(reactor->post([&] {
        Reactor& r = *Reactor::current();
        const std::byte b{1};
        (void)tx.write({&b, 1});  // a byte the requeued turn would read
        r.requeue_in_loop(reader.id);
        (void)r.deregister_in_loop(rx, reader.id);
        // Two more rounds: had the requeue been delivered, the reader would log a turn
        // (its pipe holds a byte).
        r.post([&] { Reactor::current()->post([&] { turns.set_value(reader.turns.size()); }); });
    }));
    auto f = turns.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), 0u);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
}

TEST(ReactorRounds, a_loop_thread_post_runs_in_the_next_round_not_the_drain_that_queued_it) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::promise<std::pair<std::uint64_t, std::uint64_t>> seen;
    ASSERT_TRUE(reactor->post([&] {
        Reactor& r = *Reactor::current();
        const std::uint64_t posted_in = r.stats().loop_iterations;
        r.post([&, posted_in] { seen.set_value({posted_in, Reactor::current()->stats().loop_iterations}); });
    }));
    auto f = seen.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto [posted_in, ran_in] = f.get();
    EXPECT_GT(ran_in, posted_in);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
}

// The exit runs what was accepted, but a chain of loop-thread posts that renews itself
// forever cannot hold it: after kFinalRounds rounds the rest is destroyed unrun.
TEST(ReactorRounds, stop_returns_even_while_a_task_keeps_reposting_itself) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::atomic<std::uint64_t> spins{0};
    struct Spinner {
        std::atomic<std::uint64_t>* spins;
        void operator()() const {
            ++*spins;
            Reactor::current()->post(Spinner{*this});
        }
    };
    ASSERT_TRUE(reactor->post(Spinner{&spins}));
    while (spins < 100) std::this_thread::yield();
    std::promise<void> joined;
    auto done = joined.get_future();
    std::thread stopper([&] {
        reactor->stop();
        (void)reactor->join();
        joined.set_value();
    });
    const bool returned = done.wait_for(5s) == std::future_status::ready;
    EXPECT_TRUE(returned) << "the exit is held by a self-renewing task";
    if (!returned) std::abort();  // a hung loop cannot be cleaned up
    stopper.join();
    EXPECT_GE(reactor->stats().tasks_dropped, 1u);
    EXPECT_FALSE(reactor->post([] {}));
}

// run_and_wait posts and waits; a post that races the loop's exit must still end the
// wait (run, or refused / destroyed unrun: operation_canceled), never hang.
TEST(ReactorRounds, run_and_wait_racing_the_exit_always_returns) {
    for (int round = 0; round < 200; ++round) {
        auto pool = ReactorPool::create({.threads = 1}).value();
        ASSERT_TRUE(pool->start());
        std::atomic<int> ran{0};
        std::thread waiter([&] {
            for (int i = 0; i < 50; ++i) {
                auto r = pool->run_and_wait(0, [&] { ++ran; });
                if (!r) {
                    EXPECT_EQ(r.error(), std::errc::operation_canceled);
                    break;
                }
            }
        });
        if (round % 2 == 0) std::this_thread::yield();
        ASSERT_TRUE(pool->stop(0ms));
        waiter.join();  // hangs (ctest timeout) if a raced post is lost
    }
}

TEST(ReactorRounds, run_after_with_the_largest_delay_saturates_instead_of_firing_at_once) {
    auto reactor = Reactor::create().value();
    bool fired = false;
    const TimerId id = reactor->run_after_in_loop(std::chrono::milliseconds::max(), [&] { fired = true; });
    EXPECT_TRUE(id.valid());
    ASSERT_TRUE(reactor->start());
    std::promise<std::size_t> pending;
    // A few rounds later the timer is still pending and has not fired.
    ASSERT_TRUE(reactor->post([&] {
        Reactor::current()->run_after_in_loop(5ms, [&] { pending.set_value(Reactor::current()->timers_in_loop()); });
    }));
    auto f = pending.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), 1u);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_FALSE(fired);
}

// One policy for every callback: an exception escaping a task, a timer or a handler
// terminates (it never unwinds out of run() with the loop's state half-updated).
void run_with_throwing_task() {
    auto reactor = Reactor::create().value();
    (void)reactor->post([] { throw std::runtime_error("task"); });
    (void)reactor->run();
}

void run_with_throwing_timer() {
    auto reactor = Reactor::create().value();
    reactor->run_after_in_loop(0ms, [] { throw std::runtime_error("timer"); });
    (void)reactor->run();
}

struct Thrower final : EventHandler {
    void on_event(const Event&) override { throw std::runtime_error("handler"); }
};

void run_with_throwing_handler() {
    auto reactor = Reactor::create().value();
    auto pipe = pollux::pipe().value();
    Thrower t;
    (void)reactor->register_in_loop(pipe.second, Interest::READABLE, t);
    const std::byte b{1};
    (void)pipe.first.write({&b, 1});
    (void)reactor->run();
}

TEST(ReactorRoundsDeathTest, an_exception_escaping_a_task_terminates) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(run_with_throwing_task(), "");
}

TEST(ReactorRoundsDeathTest, an_exception_escaping_a_timer_terminates) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(run_with_throwing_timer(), "");
}

TEST(ReactorRoundsDeathTest, an_exception_escaping_a_handler_terminates) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(run_with_throwing_handler(), "");
}

}  // namespace
}  // namespace pollux::reactor
