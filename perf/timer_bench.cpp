// Timer wheel vs a std::priority_queue timer queue (the Asio/libuv-style binary heap).
//
// Reproduce (figures in docs/reactor.md, "Timers: the hashed timing wheel"):
//   cmake --build build/default --target timer_bench
//   build/default/perf/timer_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Cases, each with N live timers (N = 1k, 100k), time frozen unless it says so:
//   StartCancel  start a timer and cancel it at once (a request timeout that is
//                answered quickly: the common case for network timers).
//   Restart      cancel the oldest of the N timers and start a new one (an idle
//                timeout reset on every message).
//   StartFire    start N timers, then walk the clock 1 ms at a time until all fired;
//                reported per timer.
//   TimeUntilNext  the poll-timeout query in its worst case (argument: wheel slots).
// Deadlines are uniform in 1..4000 ms (inside the default 4096-slot wheel) or, for the
// `Far` variants, 30..60 s (beyond it: the wheel's overflow heap).
//
// The heap baseline is a fair one: callbacks live in a slab (no allocation per timer),
// ordering is a std::priority_queue of (deadline, seq, slot, generation), cancel is lazy
// (the slab generation changes; the stale heap entry is skipped when popped), and the
// heap is compacted when stale entries outnumber live ones, as a long-lived lazy heap
// must be.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <vector>

#include "pollux/reactor/timer_wheel.hpp"

namespace {

using pollux::reactor::TimerId;
using pollux::reactor::TimerWheel;
using Clock = TimerWheel::Clock;
using std::chrono::milliseconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours{1000};

// ---- baseline: binary heap with lazy cancel -------------------------------------------

class HeapTimers {
public:
    using Callback = std::move_only_function<void()>;

    explicit HeapTimers(Clock::time_point now) : origin_(now) {}

    TimerId run_after(milliseconds delay, Callback cb) {
        std::uint32_t index;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else {
            index = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        }
        Slot& s = slots_[index];
        s.cb = std::move(cb);
        s.live = true;
        heap_.push({now_ms_ + delay.count(), seq_++, index, s.generation});
        ++live_;
        return {index, s.generation};
    }

    bool cancel(TimerId id) {
        if (id.index >= slots_.size() || slots_[id.index].generation != id.generation ||
            !slots_[id.index].live) {
            return false;
        }
        kill(id.index);
        if (heap_.size() > 2 * live_ + 64) {
            compact();
        }
        return true;
    }

    std::size_t advance(Clock::time_point now) {
        now_ms_ = std::chrono::duration_cast<milliseconds>(now - origin_).count();
        std::size_t fired = 0;
        while (!heap_.empty() && heap_.top().deadline <= now_ms_) {
            const Item top = heap_.top();
            heap_.pop();
            Slot& s = slots_[top.index];
            if (s.generation != top.generation || !s.live) {
                continue;  // cancelled
            }
            Callback cb = std::move(s.cb);
            kill(top.index);
            cb();
            ++fired;
        }
        return fired;
    }

private:
    struct Item {
        std::int64_t deadline;
        std::uint64_t seq;
        std::uint32_t index;
        std::uint32_t generation;
        bool operator>(const Item& o) const noexcept {
            return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
        }
    };
    struct Slot {
        Callback cb;
        std::uint32_t generation = 1;
        bool live = false;
    };

    void kill(std::uint32_t index) {
        Slot& s = slots_[index];
        s.cb = nullptr;
        s.live = false;
        ++s.generation;
        free_.push_back(index);
        --live_;
    }

    void compact() {
        std::vector<Item> keep;
        keep.reserve(live_);
        while (!heap_.empty()) {
            const Item& top = heap_.top();
            if (slots_[top.index].live && slots_[top.index].generation == top.generation) {
                keep.push_back(top);
            }
            heap_.pop();
        }
        heap_ = decltype(heap_)(std::greater<Item>{}, std::move(keep));
    }

    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    Clock::time_point origin_;
    std::int64_t now_ms_ = 0;
    std::uint64_t seq_ = 0;
    std::size_t live_ = 0;
};

// ---- workloads -------------------------------------------------------------------------------

struct Near {
    static constexpr std::int64_t kLo = 1, kHi = 4000;
};
struct Far {
    static constexpr std::int64_t kLo = 30'000, kHi = 60'000;
};

template <class Range>
std::vector<milliseconds> delays(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> dist(Range::kLo, Range::kHi);
    std::vector<milliseconds> out(n);
    for (auto& d : out) {
        d = milliseconds{dist(rng)};
    }
    return out;
}

constexpr std::size_t kDelayTable = 1 << 16;

template <class Timers, class Range>
void start_cancel(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    Timers timers(kT0);
    const auto live = delays<Range>(n, 1);
    for (const auto d : live) {
        timers.run_after(d, [] {});
    }
    const auto table = delays<Range>(kDelayTable, 2);
    std::size_t i = 0;
    for (auto _ : state) {
        const TimerId id = timers.run_after(table[i++ & (kDelayTable - 1)], [] {});
        benchmark::DoNotOptimize(timers.cancel(id));
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Timers, class Range>
void restart(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    Timers timers(kT0);
    const auto table = delays<Range>(kDelayTable, 3);
    std::vector<TimerId> ids(n);
    for (std::size_t k = 0; k < n; ++k) {
        ids[k] = timers.run_after(table[k & (kDelayTable - 1)], [] {});
    }
    std::size_t i = 0;
    for (auto _ : state) {
        TimerId& slot = ids[i % n];
        benchmark::DoNotOptimize(timers.cancel(slot));
        slot = timers.run_after(table[i & (kDelayTable - 1)], [] {});
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Timers>
void start_fire(benchmark::State& state) {
    // One long-lived timer set, as in a reactor: each iteration starts n timers from
    // the current time and walks the clock 1 ms at a time until all have fired.
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto table = delays<Near>(n, 4);
    Timers timers(kT0);
    std::int64_t now = 0;
    std::size_t fired = 0;
    for (auto _ : state) {
        for (const auto d : table) {
            timers.run_after(d, [&fired] { ++fired; });
        }
        for (std::int64_t end = now + Near::kHi; now <= end; ++now) {
            timers.advance(kT0 + milliseconds{now});
        }
    }
    benchmark::DoNotOptimize(fired);
    if (fired != n * static_cast<std::size_t>(state.iterations())) {
        state.SkipWithError("not every timer fired");
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

// Worst case for the poll-timeout query: the only timer sits in the last slot of the
// window, so the bitmap search crosses the whole wheel.
void BM_Wheel_TimeUntilNext(benchmark::State& state) {
    const auto slots = static_cast<std::size_t>(state.range(0));
    TimerWheel wheel(kT0, slots);
    wheel.run_after(milliseconds{static_cast<std::int64_t>(slots)}, [] {});
    for (auto _ : state) {
        benchmark::DoNotOptimize(wheel.time_until_next(kT0));
    }
}

void BM_Wheel_StartCancel(benchmark::State& s) { start_cancel<TimerWheel, Near>(s); }
void BM_Heap_StartCancel(benchmark::State& s) { start_cancel<HeapTimers, Near>(s); }
void BM_Wheel_StartCancelFar(benchmark::State& s) { start_cancel<TimerWheel, Far>(s); }
void BM_Heap_StartCancelFar(benchmark::State& s) { start_cancel<HeapTimers, Far>(s); }
void BM_Wheel_Restart(benchmark::State& s) { restart<TimerWheel, Near>(s); }
void BM_Heap_Restart(benchmark::State& s) { restart<HeapTimers, Near>(s); }
void BM_Wheel_RestartFar(benchmark::State& s) { restart<TimerWheel, Far>(s); }
void BM_Heap_RestartFar(benchmark::State& s) { restart<HeapTimers, Far>(s); }
void BM_Wheel_StartFire(benchmark::State& s) { start_fire<TimerWheel>(s); }
void BM_Heap_StartFire(benchmark::State& s) { start_fire<HeapTimers>(s); }

}  // namespace

BENCHMARK(BM_Wheel_TimeUntilNext)->Name("reactor/timer/wheel_time_until_next")->Arg(4096)->Arg(65536);
BENCHMARK(BM_Wheel_StartCancel)->Name("reactor/timer/wheel_start_cancel")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Heap_StartCancel)->Name("reactor/timer/heap_start_cancel")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Wheel_StartCancelFar)->Name("reactor/timer/wheel_start_cancel_far")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Heap_StartCancelFar)->Name("reactor/timer/heap_start_cancel_far")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Wheel_Restart)->Name("reactor/timer/wheel_restart")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Heap_Restart)->Name("reactor/timer/heap_restart")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Wheel_RestartFar)->Name("reactor/timer/wheel_restart_far")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Heap_RestartFar)->Name("reactor/timer/heap_restart_far")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_Wheel_StartFire)->Name("reactor/timer/wheel_start_fire")->Arg(1'000)->Arg(100'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Heap_StartFire)->Name("reactor/timer/heap_start_fire")->Arg(1'000)->Arg(100'000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
