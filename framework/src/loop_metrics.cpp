// framework/src/loop_metrics.cpp — internal.
#include "loop_metrics.hpp"

#include <cassert>
#include <utility>

#include "heap_trim.hpp"

namespace pollux::framework {

LoopMetrics::LoopMetrics(reactor::ReactorPool& pool, Metrics& metrics)
    : pool_(pool),
      metrics_(metrics),
      seen_iterations_(std::make_unique<std::uint64_t[]>(pool.size())),
      timers_(std::make_unique<reactor::TimerId[]>(pool.size())) {
    assert(metrics.reactor_count() == pool.size());
}

void LoopMetrics::start_timers(std::function<void(std::size_t)> extra) {
    extra_ = std::move(extra);
    for (std::size_t i = 0; i < pool_.size(); ++i) start_in_loop(i);
}

void LoopMetrics::start_in_loop(std::size_t i) {
    reactor::Reactor& r = pool_.reactor(i);
    seen_iterations_[i] = r.stats().loop_iterations;
    timers_[i] = r.run_every_in_loop(kRefreshPeriod, [this, i] { refresh_in_loop(i); });
}

void LoopMetrics::stop_in_loop(std::size_t i) {
    reactor::Reactor& r = pool_.reactor(i);
    if (timers_[i].valid()) (void)r.cancel_timer_in_loop(timers_[i]);
    timers_[i] = {};
    refresh_in_loop(i);
}

void LoopMetrics::refresh_in_loop(std::size_t i) {
    reactor::Reactor& r = pool_.reactor(i);
    assert(r.is_in_loop_thread());
    ReactorMetrics& m = metrics_.reactor(i);
    const std::uint64_t iterations = r.stats().loop_iterations;
    m.loop_iterations.add(iterations - seen_iterations_[i]);
    seen_iterations_[i] = iterations;
    m.timers.set(r.timers_in_loop());
    if (extra_) extra_(i);  // a server's own upkeep (pool decay, acceptor counts)
    (void)detail::trim_heap_if_due();  // a quiet moment: once a second, off the message path
}

void LoopMetrics::sample_posted_depth() const noexcept {
    for (std::size_t i = 0; i < pool_.size(); ++i) {
        metrics_.reactor(i).posted_queue_depth.set(pool_.reactor(i).posted_depth());
    }
}

}  // namespace pollux::framework
