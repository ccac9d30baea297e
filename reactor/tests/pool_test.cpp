// reactor/tests/pool_test.cpp — ReactorPool: creation, lifecycle, post / post_all /
// run_and_wait thread affinity, current(), CPU pinning, bad input.
#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pollux/reactor/reactor_pool.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

std::unique_ptr<ReactorPool> make_pool(std::size_t n) {
    auto pool = ReactorPool::create({.threads = n});
    EXPECT_TRUE(pool) << pool.error().message();
    return pool ? std::move(*pool) : nullptr;
}

TEST(ReactorPool, zero_threads_is_rejected_with_invalid_argument) {
    auto pool = ReactorPool::create({.threads = 0});
    ASSERT_FALSE(pool);
    EXPECT_EQ(pool.error(), std::errc::invalid_argument);
}

TEST(ReactorPool, default_size_is_hardware_concurrency) {
    auto pool = ReactorPool::create();
    ASSERT_TRUE(pool);
    EXPECT_EQ((*pool)->size(), std::max(1u, std::thread::hardware_concurrency()));
    for (std::size_t i = 0; i < (*pool)->size(); ++i) EXPECT_EQ((*pool)->reactor(i).index(), i);
}

TEST(ReactorPool, post_runs_the_task_on_reactor_i_and_current_names_it) {
    auto pool = make_pool(3);
    ASSERT_TRUE(pool->start());
    for (std::size_t i = 0; i < pool->size(); ++i) {
        std::atomic<bool> done{false};
        std::atomic<bool> on_loop{false};
        std::atomic<Reactor*> current{nullptr};
        std::atomic<Reactor*> pool_current{nullptr};
        ASSERT_TRUE(pool->post(i, [&, i] {
            on_loop = pool->reactor(i).is_in_loop_thread();
            current = Reactor::current();
            pool_current = pool->current();
            done = true;
        }));
        ASSERT_TRUE(wait_until([&] { return done.load(); }));
        EXPECT_TRUE(on_loop.load());
        EXPECT_EQ(current.load(), &pool->reactor(i));
        EXPECT_EQ(pool_current.load(), &pool->reactor(i));
    }
    EXPECT_EQ(pool->current(), nullptr);  // the test thread is not a pool thread
    ASSERT_TRUE(pool->stop(1s));
}

TEST(ReactorPool, post_to_an_index_out_of_range_returns_false) {
    auto pool = make_pool(2);
    ASSERT_TRUE(pool->start());
    EXPECT_FALSE(pool->post(2, [] {}));
    auto r = pool->run_and_wait(7, [] {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
}

TEST(ReactorPool, post_all_runs_once_on_every_reactor) {
    auto pool = make_pool(4);
    ASSERT_TRUE(pool->start());
    std::mutex mu;
    std::vector<std::size_t> seen;
    std::set<std::thread::id> threads;
    EXPECT_EQ(pool->post_all([&] {
        std::lock_guard lock(mu);
        seen.push_back(Reactor::current()->index());
        threads.insert(std::this_thread::get_id());
    }), 4u);
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lock(mu);
        return seen.size() == 4;
    }));
    ASSERT_TRUE(pool->stop(1s));
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1, 2, 3}));
    EXPECT_EQ(threads.size(), 4u);  // one loop thread per reactor
}

TEST(ReactorPool, run_and_wait_runs_on_the_reactor_and_returns_after_it_ran) {
    auto pool = make_pool(2);
    ASSERT_TRUE(pool->start());
    bool ran = false;  // plain bool: run_and_wait's return orders the write before our read
    Reactor* where = nullptr;
    ASSERT_TRUE(pool->run_and_wait(1, [&] {
        ran = true;
        where = Reactor::current();
    }));
    EXPECT_TRUE(ran);
    EXPECT_EQ(where, &pool->reactor(1));
}

TEST(ReactorPool, before_start_run_and_wait_runs_inline_on_the_creating_thread_only) {
    auto pool = make_pool(2);
    bool ran = false;
    ASSERT_TRUE(pool->run_and_wait(1, [&] { ran = pool->reactor(1).is_in_loop_thread(); }));
    EXPECT_TRUE(ran);
    Result<void> from_other;
    std::thread([&] { from_other = pool->run_and_wait(1, [] {}); }).join();
    ASSERT_FALSE(from_other);
    EXPECT_EQ(from_other.error(), std::errc::operation_not_permitted);
}

TEST(ReactorPool, start_twice_and_start_after_stop_are_refused) {
    auto pool = make_pool(1);
    ASSERT_TRUE(pool->start());
    EXPECT_TRUE(pool->is_running());
    auto again = pool->start();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), std::errc::operation_not_permitted);
    ASSERT_TRUE(pool->stop(1s));
    EXPECT_FALSE(pool->is_running());
    EXPECT_TRUE(pool->stop(1s));  // idempotent
    auto restart = pool->start();
    ASSERT_FALSE(restart);
    EXPECT_EQ(restart.error(), std::errc::operation_not_permitted);
    EXPECT_FALSE(pool->post(0, [] {}));
}

TEST(ReactorPool, after_stop_run_and_wait_runs_inline_on_the_joining_thread_and_is_canceled_elsewhere) {
    auto pool = make_pool(1);
    ASSERT_TRUE(pool->start());
    ASSERT_TRUE(pool->stop(1s));
    bool ran = false;
    ASSERT_TRUE(pool->run_and_wait(0, [&] { ran = true; }));  // the joiner owns the dead loop
    EXPECT_TRUE(ran);
    Result<void> other;
    std::thread([&] { other = pool->run_and_wait(0, [] {}); }).join();
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error(), std::errc::operation_canceled);
}

TEST(ReactorPool, stop_without_start_succeeds_and_the_pool_cannot_start_afterwards) {
    auto pool = make_pool(2);
    EXPECT_TRUE(pool->stop(1s));
    auto r = pool->start();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::operation_not_permitted);
}

TEST(ReactorPool, stop_from_a_pool_thread_is_refused_instead_of_deadlocking) {
    auto pool = make_pool(2);
    ASSERT_TRUE(pool->start());
    Result<void> r;
    ASSERT_TRUE(pool->run_and_wait(0, [&] { r = pool->stop(1s); }));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::resource_deadlock_would_occur);
    EXPECT_TRUE(pool->is_running());
}

TEST(ReactorPool, pinned_reactors_run_on_their_cpu) {
    ::cpu_set_t allowed;
    CPU_ZERO(&allowed);
    ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
    int cpu = -1;
    for (int c = 0; c < CPU_SETSIZE && cpu < 0; ++c)
        if (CPU_ISSET(c, &allowed)) cpu = c;
    ASSERT_GE(cpu, 0);

    auto pool = ReactorPool::create({.threads = 2, .cpus = {cpu}});
    ASSERT_TRUE(pool);
    ASSERT_TRUE((*pool)->start());
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_FALSE((*pool)->reactor(i).affinity_error()) << (*pool)->reactor(i).affinity_error().message();
        int count = 0;
        bool on_cpu = false;
        ASSERT_TRUE((*pool)->run_and_wait(i, [&] {
            ::cpu_set_t set;
            CPU_ZERO(&set);
            if (::sched_getaffinity(0, sizeof set, &set) == 0) {
                count = CPU_COUNT(&set);
                on_cpu = CPU_ISSET(cpu, &set);
            }
        }));
        EXPECT_EQ(count, 1);
        EXPECT_TRUE(on_cpu);
    }
}

TEST(ReactorPool, a_failed_pin_is_reported_not_fatal) {
    auto pool = ReactorPool::create({.threads = 1, .cpus = {CPU_SETSIZE + 5}});
    ASSERT_TRUE(pool);
    ASSERT_TRUE((*pool)->start());
    EXPECT_TRUE((*pool)->reactor(0).affinity_error());
    bool ran = false;
    ASSERT_TRUE((*pool)->run_and_wait(0, [&] { ran = true; }));
    EXPECT_TRUE(ran);
}

TEST(ReactorPool, connection_accounting_is_per_reactor) {
    auto pool = make_pool(2);
    pool->counts().add(1);
    pool->counts().add(1);
    EXPECT_EQ(pool->connections(0), 0u);
    EXPECT_EQ(pool->connections(1), 2u);
    pool->connection_closed(1);
    {
        auto lease = pool->adopt_connection(1);
        EXPECT_EQ(pool->connections(1), 1u);
    }
    EXPECT_EQ(pool->connections(1), 0u);
}

}  // namespace
}  // namespace pollux::reactor
