// reactor/tests/reactor_lifecycle_test.cpp — start/run/stop/join, thread affinity hooks.
#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "pollux/reactor/reactor.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ReactorLifecycle, stop_with_many_pending_posts_exits_quickly_and_runs_every_task_posted_before_it) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    constexpr int kTasks = 100'000;
    int ran = 0;  // loop thread; read after join
    std::atomic<bool> gate{false};
    ASSERT_TRUE(reactor->post([&] {
        while (!gate) std::this_thread::yield();  // keep the queue filling up
    }));
    for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(reactor->post([&] { ++ran; }));
    const auto t0 = Clock::now();
    reactor->stop();
    gate = true;
    ASSERT_TRUE(reactor->join());
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_EQ(ran, kTasks);
    EXPECT_FALSE(reactor->post([] {})) << "the loop has exited";
}

TEST(ReactorLifecycle, stop_from_the_loop_thread_finishes_the_iteration_and_exits) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    std::atomic<int> after{0};
    ASSERT_TRUE(reactor->post([&] {
        Reactor::current()->stop();
        Reactor::current()->post([&] { ++after; });  // posted after stop, before exit: still runs
    }));
    ASSERT_TRUE(reactor->join());
    EXPECT_EQ(after.load(), 1);
}

TEST(ReactorLifecycle, run_on_the_calling_thread_sets_current_and_loop_thread) {
    auto reactor = Reactor::create().value();
    EXPECT_EQ(Reactor::current(), nullptr);
    Reactor* seen = nullptr;
    bool in_loop = false;
    ASSERT_TRUE(reactor->post([&] {
        seen = Reactor::current();
        in_loop = reactor->is_in_loop_thread();
        reactor->stop();
    }));
    ASSERT_TRUE(reactor->run());
    EXPECT_EQ(seen, reactor.get());
    EXPECT_TRUE(in_loop);
    EXPECT_EQ(Reactor::current(), nullptr) << "current() is reset when run() returns";
}

TEST(ReactorLifecycle, start_makes_the_spawned_thread_the_loop_thread) {
    auto reactor = Reactor::create().value();
    EXPECT_TRUE(reactor->is_in_loop_thread()) << "the creator owns the reactor before start()";
    ASSERT_TRUE(reactor->start());
    EXPECT_FALSE(reactor->is_in_loop_thread());
    std::promise<std::pair<bool, Reactor*>> p;
    ASSERT_TRUE(reactor->post([&] { p.set_value({reactor->is_in_loop_thread(), Reactor::current()}); }));
    const auto [in_loop, current] = p.get_future().get();
    EXPECT_TRUE(in_loop);
    EXPECT_EQ(current, reactor.get());
}

TEST(ReactorLifecycle, a_reactor_runs_only_once) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    EXPECT_EQ(reactor->start().error(), std::make_error_code(std::errc::operation_not_permitted));
    EXPECT_EQ(reactor->run().error(), std::make_error_code(std::errc::operation_not_permitted));
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_TRUE(reactor->join()) << "a second join is a no-op";
    EXPECT_FALSE(reactor->start());
}

TEST(ReactorLifecycle, destructor_stops_and_joins_a_running_reactor) {
    std::atomic<int> ran{0};
    {
        auto reactor = Reactor::create().value();
        ASSERT_TRUE(reactor->start());
        for (int i = 0; i < 1000; ++i) reactor->post([&] { ++ran; });
    }
    EXPECT_EQ(ran.load(), 1000);
}

TEST(ReactorLifecycle, tasks_never_run_are_destroyed_with_the_reactor) {
    auto token = std::make_shared<int>(0);
    {
        auto reactor = Reactor::create().value();  // never started
        ASSERT_TRUE(reactor->post([token] {}));
        EXPECT_EQ(token.use_count(), 2);
    }
    EXPECT_EQ(token.use_count(), 1) << "the queued task's capture must be released";
}

TEST(ReactorLifecycle, pinning_to_an_allowed_cpu_works_and_a_bad_cpu_is_reported_not_fatal) {
    ReactorOptions good;
    good.cpu = 0;
    good.index = 3;
    auto a = Reactor::create(good).value();
    ASSERT_TRUE(a->start());
    EXPECT_EQ(a->index(), 3u);
    std::promise<int> cpu;
    ASSERT_TRUE(a->post([&] { cpu.set_value(::sched_getcpu()); }));
    const int ran_on = cpu.get_future().get();
    if (!a->affinity_error()) {
        EXPECT_EQ(ran_on, 0);
    }

    ReactorOptions bad;
    bad.cpu = 100'000;
    auto b = Reactor::create(bad).value();
    ASSERT_TRUE(b->start());
    EXPECT_TRUE(b->affinity_error());
    std::promise<void> alive;
    ASSERT_TRUE(b->post([&] { alive.set_value(); }));
    EXPECT_EQ(alive.get_future().wait_for(5s), std::future_status::ready);
}

TEST(ReactorLifecycle, stats_count_iterations_and_tasks) {
    auto reactor = Reactor::create().value();
    ASSERT_TRUE(reactor->start());
    for (int i = 0; i < 10; ++i) reactor->post([] {});
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    const ReactorStats s = reactor->stats();
    EXPECT_EQ(s.tasks_run, 10u);
    EXPECT_GE(s.loop_iterations, 1u);
    EXPECT_EQ(s.stale_events_dropped, 0u);
}

}  // namespace
}  // namespace pollux::reactor
