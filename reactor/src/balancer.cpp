// reactor/src/balancer.cpp
#include "pollux/reactor/balancer.hpp"

#include <cassert>

namespace pollux::reactor {

ConnectionCounts::ConnectionCounts(std::size_t reactors)
    : slots_(std::make_unique<Slot[]>(reactors)), size_(reactors) {}

std::size_t ConnectionCounts::total() const noexcept {
    std::size_t sum = 0;
    for (std::size_t i = 0; i < size_; ++i) sum += get(i);
    return sum;
}

std::size_t RoundRobin::pick(const ConnectionCounts& counts) {
    assert(counts.size() != 0);
    if (next_ >= counts.size()) next_ = 0;
    return next_++;
}

std::size_t LeastConnections::pick(const ConnectionCounts& counts) {
    const std::size_t n = counts.size();
    assert(n != 0);
    // Scan cyclically from the reactor after the previous pick; the first minimum wins,
    // so equal loads rotate.
    std::size_t best = (last_ + 1) % n;
    std::size_t best_load = counts.get(best);
    for (std::size_t step = 1; step < n && best_load != 0; ++step) {
        const std::size_t i = (last_ + 1 + step) % n;
        const std::size_t load = counts.get(i);
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    last_ = best;
    return best;
}

}  // namespace pollux::reactor
