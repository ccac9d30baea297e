// perf/post_bench.cpp — cross-thread post throughput into one consumer loop.
//
// Build and run (from the repo root, in a RelWithDebInfo build dir):
//   cmake --build build/default --target post_bench
//   build/default/perf/post_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// One iteration = P producer threads post kTotal/P tasks each as fast as they can; the
// iteration ends when the consumer loop has run all kTotal tasks (the last one wakes the
// timing thread). Time is measured by hand (UseManualTime) from releasing the producers
// to the last task; thread creation is outside it. items_per_second = tasks per second.
// The consumer loop thread is pinned to CPU 0; producers are not pinned (on this 2-core
// box, 2 and 4 producers oversubscribe: that is the contended case the queue is for).
// The task is a lambda capturing one pointer (stored inline in std::move_only_function,
// no allocation), which bumps a counter.
//
// * reactor/post/implicit/P    — the real pollux Reactor: Reactor::post (moodycamel
//                                 implicit producer per thread + coalesced Waker).
// * reactor/post/producer/P    — the real Reactor through Reactor::Producer (explicit
//                                 moodycamel producer token per thread).
// * reactor/post/mutex_queue/P — evpp's default design as a faithful minimal harness on
//                                 the same pollux Poll + Waker: std::mutex + std::vector
//                                 of the same Task type, swapped out under the lock by
//                                 the loop, with the same "notified" flag coalescing.
//                                 The harness loop has none of the Reactor's other work
//                                 (timers, deferred, stats), which if anything favours it.
//
// Counters: wakes = eventfd writes per iteration (coalescing at work).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "pollux/core/core.hpp"
#include "pollux/reactor/reactor.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using pollux::reactor::Reactor;
using pollux::reactor::ReactorOptions;
using pollux::reactor::Task;

constexpr std::uint64_t kTotal = 400'000;

void pin_self(int cpu) {
    ::cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    (void)::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

// Completion signal: the task that runs number kTotal flips `done`.
struct Sink {
    std::uint64_t ran = 0;  // consumer thread only
    std::uint64_t target = 0;
    std::atomic<bool> done{false};
    void hit() {
        if (++ran == target) {
            done.store(true, std::memory_order_release);
            done.notify_one();
        }
    }
};

// Runs P producers that call post(p, task) per item; returns the elapsed time.
template <class PostFn>
double run_producers(int producers, Sink& sink, PostFn post) {
    const std::uint64_t per = kTotal / static_cast<std::uint64_t>(producers);
    sink.target += per * static_cast<std::uint64_t>(producers);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            go.wait(false, std::memory_order_acquire);
            for (std::uint64_t i = 0; i < per; ++i) post(p, [s = &sink] { s->hit(); });
        });
    }
    const auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    go.notify_all();
    sink.done.wait(false, std::memory_order_acquire);
    const auto t1 = Clock::now();
    for (auto& t : threads) t.join();
    sink.done.store(false, std::memory_order_relaxed);
    return std::chrono::duration<double>(t1 - t0).count();
}

void BM_reactor_post(benchmark::State& state) {
    const int producers = static_cast<int>(state.range(0));
    ReactorOptions o;
    o.cpu = 0;
    auto reactor = Reactor::create(o).value();
    if (!reactor->start()) return state.SkipWithError("start failed");
    Sink sink;
    for (auto _ : state) {
        state.SetIterationTime(run_producers(producers, sink, [&](int, Task t) {
            if (!reactor->post(std::move(t))) std::abort();
        }));
    }
    const auto s = reactor->stats();
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kTotal));
    state.counters["wakes"] = benchmark::Counter(static_cast<double>(s.wakes_written) /
                                                 static_cast<double>(state.iterations()));
}

void BM_reactor_producer_post(benchmark::State& state) {
    const int producers = static_cast<int>(state.range(0));
    ReactorOptions o;
    o.cpu = 0;
    auto reactor = Reactor::create(o).value();
    if (!reactor->start()) return state.SkipWithError("start failed");
    Sink sink;
    for (auto _ : state) {
        // One token per producer thread, created on that thread's first post.
        std::vector<std::optional<Reactor::Producer>> tokens(static_cast<std::size_t>(producers));
        state.SetIterationTime(run_producers(producers, sink, [&](int p, Task t) {
            auto& tok = tokens[static_cast<std::size_t>(p)];
            if (!tok) tok.emplace(reactor->make_producer());
            if (!tok->post(std::move(t))) std::abort();
        }));
    }
    const auto s = reactor->stats();
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kTotal));
    state.counters["wakes"] = benchmark::Counter(static_cast<double>(s.wakes_written) /
                                                 static_cast<double>(state.iterations()));
}

// evpp-style loop: mutex + vector swap + notified flag + eventfd Waker.
class MutexLoop {
public:
    MutexLoop()
        : poll_(pollux::Poll::create().value()),
          waker_(pollux::Waker::create(poll_.registry(), pollux::Token(1)).value()),
          events_(pollux::Events::with_capacity(16)),
          thread_([this] { run(); }) {}
    ~MutexLoop() {
        stop_.store(true, std::memory_order_release);
        (void)waker_.wake();
        thread_.join();
    }
    void post(Task t) {
        {
            std::lock_guard lock(mu_);
            pending_.push_back(std::move(t));
        }
        if (!notified_.exchange(true, std::memory_order_acq_rel)) {
            (void)waker_.wake();
            wakes_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    std::uint64_t wakes() const { return wakes_.load(std::memory_order_relaxed); }

private:
    void run() {
        pin_self(0);
        std::vector<Task> local;
        while (!stop_.load(std::memory_order_acquire)) {
            if (!notified_.load(std::memory_order_acquire)) (void)poll_.poll(events_, std::nullopt);
            notified_.exchange(false, std::memory_order_acq_rel);  // clear before taking the batch
            {
                std::lock_guard lock(mu_);
                local.swap(pending_);
            }
            for (Task& t : local) t();
            local.clear();
        }
    }

    pollux::Poll poll_;
    pollux::Waker waker_;
    pollux::Events events_;
    std::mutex mu_;
    std::vector<Task> pending_;
    std::atomic<bool> notified_{false};
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> wakes_{0};
    std::thread thread_;  // last: starts after everything above exists
};

void BM_mutex_queue_post(benchmark::State& state) {
    const int producers = static_cast<int>(state.range(0));
    MutexLoop loop;
    Sink sink;
    for (auto _ : state) {
        state.SetIterationTime(run_producers(producers, sink, [&](int, Task t) { loop.post(std::move(t)); }));
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kTotal));
    state.counters["wakes"] =
        benchmark::Counter(static_cast<double>(loop.wakes()) / static_cast<double>(state.iterations()));
}

BENCHMARK(BM_reactor_post)->Name("reactor/post/implicit")->Arg(1)->Arg(2)->Arg(4)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_reactor_producer_post)->Name("reactor/post/producer")->Arg(1)->Arg(2)->Arg(4)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mutex_queue_post)->Name("reactor/post/mutex_queue")->Arg(1)->Arg(2)->Arg(4)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
