// Task, spawn, sleep_for, post_to, when_all and CancelSource on bare reactors: which
// thread resumes a task, cancellation and deadlines while suspended, no frame leaked
// when a reactor goes away with tasks suspended on it, the exception policy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "pollux/framework/coro/coro.hpp"
#include "support/coro_run.hpp"
#include "support/loopback_client.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using pollux::reactor::Reactor;
namespace coro = pollux::coro;

namespace {

using pollux::test::run_on;
using pollux::test::started_reactor;

// Counts live frames of the tasks below (a frame's locals are destroyed with it).
std::atomic<int> g_live{0};
struct Alive {
    Alive() { ++g_live; }
    ~Alive() { --g_live; }
    Alive(const Alive&) = delete;
    Alive& operator=(const Alive&) = delete;
};

coro::Task<int> value_after(std::chrono::milliseconds d, int v) {
    Alive a;
    if (auto s = co_await coro::sleep_for(d); !s) co_return -1;
    co_return v;
}

coro::Task<Result<int>> fails_after(std::chrono::milliseconds d) {
    co_await coro::sleep_for(d);
    co_return std::unexpected(std::make_error_code(std::errc::io_error));
}

coro::Task<int> immediate(int v) { co_return v; }

}  // namespace

TEST(CoroTask, awaited_tasks_run_in_order_and_return_their_values) {
    auto r = started_reactor();
    int sum = 0;
    auto ec = run_on(*r, [](int& out) -> coro::Task<void> {
        // 1000 only: the transfers are tail calls in optimised builds, not in the
        // sanitizer builds (-O1), where each costs stack.
        for (int i = 0; i < 1000; ++i) out = out * 3 % 1000003 + co_await immediate(i);
    }(sum));
    EXPECT_FALSE(ec);
    int want = 0;
    for (int i = 0; i < 1000; ++i) want = want * 3 % 1000003 + i;
    EXPECT_EQ(sum, want);
}

TEST(CoroTask, sleep_resumes_on_the_reactor_thread_and_post_to_moves_the_task) {
    auto a = started_reactor();
    auto b = started_reactor();
    std::atomic<int> wrong_thread{0};
    std::atomic<int> hops{0};
    auto ec = run_on(*a, [](Reactor& ra, Reactor& rb, std::atomic<int>& wrong, std::atomic<int>& n) -> coro::Task<void> {
        for (int i = 0; i < 200; ++i) {
            Reactor& to = (i % 2 == 0) ? rb : ra;
            if (!co_await coro::post_to(to)) co_return;
            if (!to.is_in_loop_thread() || Reactor::current() != &to) ++wrong;
            if (i % 50 == 0) {
                co_await coro::sleep_for(1ms);
                if (!to.is_in_loop_thread()) ++wrong;
            }
            ++n;
        }
    }(*a, *b, wrong_thread, hops));
    EXPECT_FALSE(ec);
    EXPECT_EQ(hops.load(), 200);
    EXPECT_EQ(wrong_thread.load(), 0);
}

TEST(CoroTask, many_tasks_hopping_between_reactors_concurrently) {
    auto a = started_reactor();
    auto b = started_reactor();
    std::atomic<int> done{0};
    std::atomic<int> wrong{0};
    constexpr int kTasks = 64;
    for (int t = 0; t < kTasks; ++t) {
        coro::spawn(*a, [](Reactor& ra, Reactor& rb, std::atomic<int>& bad) -> coro::Task<void> {
            int local = 0;  // touched on both threads, ordered by the hops
            for (int i = 0; i < 100; ++i) {
                Reactor& to = (i % 2 == 0) ? rb : ra;
                if (!co_await coro::post_to(to)) co_return;
                if (!to.is_in_loop_thread()) ++bad;
                ++local;
            }
            if (local != 100) ++bad;
        }(*a, *b, wrong), [&](std::error_code ec) { if (!ec) ++done; });
    }
    EXPECT_TRUE(pollux::test::eventually([&] { return done.load() == kTasks; }));
    EXPECT_EQ(wrong.load(), 0);
}

TEST(CoroTask, cancel_resumes_a_suspended_sleep_with_operation_canceled) {
    auto r = started_reactor();
    std::error_code got;
    auto ec = run_on(*r, [](std::error_code& out) -> coro::Task<void> {
        coro::CancelSource source;
        auto canceller = [](coro::CancelSource& s) -> coro::Task<int> {
            co_await coro::sleep_for(5ms);
            s.cancel();
            co_return 0;
        };
        auto sleeper = [](coro::CancelSource& s, std::error_code& e) -> coro::Task<int> {
            auto res = co_await coro::sleep_for(10s, s.token());
            e = res ? std::error_code() : res.error();
            co_return 0;
        };
        const auto t0 = std::chrono::steady_clock::now();
        co_await coro::when_all(sleeper(source, out), canceller(source));
        if (std::chrono::steady_clock::now() - t0 > 5s) out = std::make_error_code(std::errc::timed_out);
        // Already cancelled: the next await fails at once, without suspending.
        auto again = co_await coro::sleep_for(10s, source.token());
        if (again) out = {};
    }(got));
    EXPECT_FALSE(ec);
    EXPECT_EQ(got, std::errc::operation_canceled);
}

TEST(CoroTask, when_all_returns_every_result_when_one_fails) {
    auto r = started_reactor();
    std::tuple<int, Result<int>, int> results{};
    g_live = 0;
    auto ec = run_on(*r, [](std::tuple<int, Result<int>, int>& out) -> coro::Task<void> {
        out = co_await coro::when_all(value_after(20ms, 1), fails_after(1ms), value_after(0ms, 3));
    }(results));
    EXPECT_FALSE(ec);
    EXPECT_EQ(std::get<0>(results), 1);
    ASSERT_FALSE(std::get<1>(results));
    EXPECT_EQ(std::get<1>(results).error(), std::errc::io_error);
    EXPECT_EQ(std::get<2>(results), 3);
    EXPECT_EQ(g_live.load(), 0);
}

TEST(CoroTask, spawn_on_an_exiting_reactor_reports_cancelled_and_frees_the_frame) {
    auto r = started_reactor();
    r->stop();
    ASSERT_TRUE(r->join());
    g_live = 0;
    std::error_code got;
    auto task = [](std::error_code&) -> coro::Task<void> {
        Alive a;
        co_return;
    };
    EXPECT_FALSE(coro::spawn(*r, task(got), [&](std::error_code ec) { got = ec; }));
    EXPECT_EQ(got, std::errc::operation_canceled);
    EXPECT_EQ(g_live.load(), 0);
}

TEST(CoroTask, tasks_sleeping_when_their_reactor_is_destroyed_are_destroyed_not_leaked) {
    g_live = 0;
    std::atomic<int> cancelled{0};
    {
        auto r = started_reactor();
        constexpr int kTasks = 2000;
        std::atomic<int> started{0};
        for (int i = 0; i < kTasks; ++i) {
            coro::spawn(*r, [](std::atomic<int>& s) -> coro::Task<void> {
                Alive a;
                ++s;
                // Two children, both sleeping: the whole tree goes at once.
                co_await coro::when_all(value_after(1h, 1), value_after(2h, 2));
            }(started), [&](std::error_code ec) { if (ec == std::errc::operation_canceled) ++cancelled; });
        }
        ASSERT_TRUE(pollux::test::eventually([&] { return started.load() == kTasks; }));
        EXPECT_EQ(g_live.load(), 3 * kTasks);
    }  // ~Reactor: the pending timers are destroyed unrun, and the tasks with them
    EXPECT_EQ(g_live.load(), 0);
    EXPECT_EQ(cancelled.load(), 2000);
}

TEST(CoroTask, deadline_of_a_sleep_is_not_early) {
    auto r = started_reactor();
    std::chrono::steady_clock::duration slept{};
    auto ec = run_on(*r, [](std::chrono::steady_clock::duration& out) -> coro::Task<void> {
        const auto t0 = std::chrono::steady_clock::now();
        co_await coro::sleep_for(30ms);
        out = std::chrono::steady_clock::now() - t0;
    }(slept));
    EXPECT_FALSE(ec);
    EXPECT_GE(slept, 30ms);
}

using CoroTaskDeathTest = ::testing::Test;

TEST(CoroTaskDeathTest, an_exception_escaping_a_task_terminates) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            auto r = Reactor::create().value();
            coro::spawn(*r, []() -> coro::Task<void> {
                co_await coro::sleep_for(1ms);
                throw std::runtime_error("escaped");
            }());
            (void)r->start();
            std::this_thread::sleep_for(5s);
        },
        "");
}
