// pollux/reactor/balancer.hpp — public.
//
// Which reactor gets the next accepted connection: the policy half of the Acceptor
// (acceptor.hpp is the mechanism). Two pieces:
//
//   ConnectionCounts  live connections per reactor: one atomic counter per reactor,
//                     each on its own cache line. The Acceptor adds one when it hands a
//                     stream to reactor i; whoever owns the connection removes it when
//                     the connection closes (ReactorPool::connection_closed(i), or drop
//                     the ConnectionLease from ReactorPool::adopt_connection(i)).
//   Balancer          `pick(counts)` -> a reactor index. Two strategies ship:
//
//     RoundRobin         0, 1, 2, ..., n-1, 0, ... regardless of load (muduo, evpp, libhv
//                        default). N accepts over n reactors give each exactly N/n (+1).
//     LeastConnections   the reactor with the fewest live connections. Ties go to the
//                        first reactor after the previous pick (cyclically), so equal
//                        loads are dealt round-robin. Counting happens at hand-off, not
//                        when the target reactor gets round to the stream, so a burst
//                        accepted in one batch already sees its own effect.
//
// Threads. `pick` runs on the acceptor's loop thread only, one call at a time, so a
// Balancer needs no locking of its own. The counters are read with relaxed loads while
// other reactors change them: a pick is a good guess, not a snapshot of one instant.
// With SO_REUSEPORT (AcceptMode::reuseport) the kernel balances and no Balancer is used.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace pollux::reactor {

class ConnectionCounts {
public:
    // `reactors` counters, all zero.
    explicit ConnectionCounts(std::size_t reactors);

    ConnectionCounts(const ConnectionCounts&) = delete;
    ConnectionCounts& operator=(const ConnectionCounts&) = delete;

    std::size_t size() const noexcept { return size_; }

    // Live connections on reactor `i` (never negative: a surplus remove reads as 0).
    std::size_t get(std::size_t i) const noexcept {
        const std::int64_t n = slots_[i].value.load(std::memory_order_relaxed);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    // Sum over all reactors.
    std::size_t total() const noexcept;

    // Any thread. `i` must be < size().
    void add(std::size_t i) noexcept { slots_[i].value.fetch_add(1, std::memory_order_relaxed); }
    void remove(std::size_t i) noexcept { slots_[i].value.fetch_sub(1, std::memory_order_relaxed); }

private:
    struct alignas(64) Slot {
        std::atomic<std::int64_t> value{0};
    };

    std::unique_ptr<Slot[]> slots_;
    std::size_t size_;
};

class Balancer {
public:
    virtual ~Balancer() = default;
    // The reactor for the next connection, in [0, counts.size()). `counts.size()` >= 1.
    virtual std::size_t pick(const ConnectionCounts& counts) = 0;

protected:
    Balancer() = default;
    Balancer(const Balancer&) = default;
    Balancer& operator=(const Balancer&) = default;
};

class RoundRobin final : public Balancer {
public:
    std::size_t pick(const ConnectionCounts& counts) override;

private:
    std::size_t next_ = 0;
};

class LeastConnections final : public Balancer {
public:
    std::size_t pick(const ConnectionCounts& counts) override;

private:
    std::size_t last_ = static_cast<std::size_t>(-1);  // so the first scan starts at 0
};

}  // namespace pollux::reactor
