// framework/src/loop_metrics.hpp — internal.
//
// `LoopMetrics` fills the loop-level fields of a server's metrics blocks, the same way
// for every server (StreamServer, UdpServer), and gives the heap back after a burst
// (heap_trim.hpp) from the same once-a-second refresh:
//
//     field                 written by                        when
//     loop_iterations       reactor i (delta of stats())      refresh timer, every 1 s
//     timers                reactor i (timers_in_loop())      refresh timer, every 1 s
//     posted_queue_depth    the thread reading the metrics    sample_posted_depth(), i.e.
//                           (Reactor::posted_depth())         each server metrics() call
//
// Why the depth is sampled by the reader: the refresh timer runs on the loop right after
// the task phase has drained the queue, so it would read ~0 whatever the backlog. A
// value taken when somebody looks is the honest one. It is a plain relaxed store of a
// fresh reading: two readers sampling at once both store a valid depth (last one wins),
// so the gauge keeps the "never a data race, never a torn value" promise of metrics.hpp
// although its writer is not the reactor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "pollux/framework/metrics.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

class LoopMetrics {
public:
    static constexpr std::chrono::milliseconds kRefreshPeriod{1000};

    // `pool` and `metrics` (one block per reactor) must outlive this object.
    LoopMetrics(reactor::ReactorPool& pool, Metrics& metrics);

    // Before pool.start(), on the creating thread (each reactor's loop thread then):
    // arms the refresh timer on every reactor. `extra(i)` runs on reactor i right after
    // each refresh, before the heap trim (StreamServer decays its pools and books the
    // acceptor's EMFILE count there).
    void start_timers(std::function<void(std::size_t)> extra = {});
    // The same for one reactor, on its loop thread (a server on a borrowed, running pool).
    void start_in_loop(std::size_t i);
    // Reactor i's thread: cancels its refresh timer and books a last refresh. Needed
    // when the pool outlives this object.
    void stop_in_loop(std::size_t i);
    // Reactor i's thread: copies loop iterations and pending timers into block i.
    void refresh_in_loop(std::size_t i);
    // Any thread: stores every reactor's current posted-task backlog into its block.
    void sample_posted_depth() const noexcept;

private:
    reactor::ReactorPool& pool_;
    Metrics& metrics_;
    std::function<void(std::size_t)> extra_;
    // Entry i: the loop iterations already booked and the refresh timer, touched by
    // reactor i only.
    std::unique_ptr<std::uint64_t[]> seen_iterations_;
    std::unique_ptr<reactor::TimerId[]> timers_;
};

}  // namespace pollux::framework
