// perf/core_bench.cpp — Google Benchmark for the core poller primitives.
//
// Build and run (from the repo root, in a RelWithDebInfo build dir such as build/default):
//   cmake --build build/default --target core_bench
//   build/default/perf/core_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// What each benchmark measures:
//
// * core/poll/ready_sources/N — one `Poll::poll(events, 0)` that returns N ready events.
//   Sources are N eventfds registered READABLE through `SourceFd` (edge-triggered). An
//   edge-triggered source reports nothing twice, so each iteration re-arms all N: one
//   8-byte write per eventfd, which (as for `Waker`) is a new edge that puts the fd back
//   on epoll's ready list. The writes are *not* timed: the iteration time is measured by
//   hand (UseManualTime) around the poll call alone, so it includes two steady_clock
//   reads (~20-50 ns, vDSO) but none of the N arming syscalls. The counters are never
//   read; 2^64 - 2 iterations would be needed to overflow them. items_per_second is
//   events delivered per second of poll time.
// * core/waker/wake_then_poll — one thread: `Waker::wake()` then `Poll::poll(events, 0)`
//   returning that one event. Both calls are timed (two syscalls: write + epoll_wait).
// * core/registry/register_deregister — `register_source` + `deregister` of a pipe Receiver
//   (an IoSource, so it includes the association check: one atomic CAS each) on an idle
//   Poll. Both timed: two epoll_ctl syscalls per iteration.
//
// Every iteration checks its result and stops the benchmark with an error if a call
// fails or the event count is wrong, so a figure is never reported for broken work.
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "pollux/core/core.hpp"

namespace {

using pollux::Events;
using pollux::Interest;
using pollux::Poll;
using pollux::SourceFd;
using pollux::Token;
using Clock = std::chrono::steady_clock;

void BM_poll_ready_sources(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto poll = Poll::create();
    if (!poll) return state.SkipWithError("Poll::create failed");
    auto events = Events::with_capacity(n);

    std::vector<pollux::OwnedFd> fds;
    fds.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        fds.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!fds.back()) return state.SkipWithError("eventfd failed");
        SourceFd source(fds.back().get());
        if (!poll->registry().register_source(source, Token(i), Interest::READABLE)) {
            return state.SkipWithError("register_source failed");
        }
    }

    const std::uint64_t one = 1;
    for (auto _ : state) {
        for (const auto& fd : fds) {  // re-arm: one new edge per source (untimed)
            if (::write(fd.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
                return state.SkipWithError("eventfd write failed");
            }
        }
        const auto start = Clock::now();
        auto r = poll->poll(events, std::chrono::nanoseconds(0));
        const auto stop = Clock::now();
        if (!r || events.size() != n) return state.SkipWithError("poll did not return every ready source");
        benchmark::DoNotOptimize(events.begin());
        state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_poll_ready_sources)->Name("core/poll/ready_sources")->Arg(1)->Arg(64)->UseManualTime();

void BM_waker_wake_then_poll(benchmark::State& state) {
    auto poll = Poll::create();
    if (!poll) return state.SkipWithError("Poll::create failed");
    auto waker = pollux::Waker::create(poll->registry(), Token(1));
    if (!waker) return state.SkipWithError("Waker::create failed");
    auto events = Events::with_capacity(4);

    for (auto _ : state) {
        if (!waker->wake()) return state.SkipWithError("wake failed");
        auto r = poll->poll(events, std::chrono::nanoseconds(0));
        if (!r || events.size() != 1) return state.SkipWithError("poll did not return the wake");
        benchmark::DoNotOptimize(events.begin());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_waker_wake_then_poll)->Name("core/waker/wake_then_poll");

void BM_register_deregister_pair(benchmark::State& state) {
    auto poll = Poll::create();
    if (!poll) return state.SkipWithError("Poll::create failed");
    auto ends = pollux::pipe();
    if (!ends) return state.SkipWithError("pipe failed");
    auto& rx = ends->second;
    const auto& registry = poll->registry();

    for (auto _ : state) {
        if (!registry.register_source(rx, Token(1), Interest::READABLE)) {
            return state.SkipWithError("register_source failed");
        }
        if (!registry.deregister(rx)) return state.SkipWithError("deregister failed");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_register_deregister_pair)->Name("core/registry/register_deregister");

}  // namespace

BENCHMARK_MAIN();
