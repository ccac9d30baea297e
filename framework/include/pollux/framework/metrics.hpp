// pollux/framework/metrics.hpp — public.
//
// Server metrics: one `ReactorMetrics` block per reactor, written by that reactor's
// thread only, readable from any thread without locks; `Metrics` holds the blocks, sums
// them and renders them in the Prometheus text exposition format (version 0.0.4).
// `CloseReason`, the framework-wide reason a connection closed, lives here too. One
// block type serves both kinds of server: stream servers (TcpServer, UnixServer,
// TcpClient) write the connection and byte counters, UdpServer the datagram counters;
// the other kind's series render as 0.
//
//     Metrics metrics(pool.size());
//     // on reactor i:
//     ReactorMetrics& m = metrics.reactor(i);
//     m.connections_accepted.add();  m.bytes_in.add(n);  m.record_close(CloseReason::reset);
//     // anywhere, e.g. an HTTP /metrics handler:
//     std::string text;  metrics.render_prometheus(text);
//
// The contracts:
//
// * Single writer. Each block has one writer, its reactor thread. `Counter::add` is a
//   relaxed load plus a relaxed store, not an atomic read-modify-write: no lock prefix,
//   no contention. Two threads adding to the same block lose counts (never a data race,
//   but wrong totals); don't.
// * Readers. `load`, `total`, `snapshot` and `render_prometheus` may run on any thread
//   at any time. Each value is read atomically (relaxed), but values are not read at one
//   instant: a sum may mix older and newer values of different counters (e.g. accepted
//   may already count a connection that open does not yet). Every counter is monotonic.
// * Layout. Blocks are 128-byte aligned (two cache lines: the adjacent-line
//   prefetcher), so reactors never share a line.
// * Prometheus. Counters end in `_total`; gauges don't. Each metric has one series per
//   reactor (`reactor="0"`, ...) plus one aggregate series without the reactor label;
//   closes carry a `reason` label. Sum across reactors with `sum(x{reactor!=""})`, or
//   read the aggregate `x{reactor=""}` directly. `render_prometheus` appends to `out`.
//   Datagram families are named `pollux_udp_*` (e.g. `pollux_udp_datagrams_in_total`).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pollux::framework {

// Why a connection closed. Exactly one reason per connection.
// Reasons that mean the framework dropped output it had accepted say so in the comment;
// over TCP such a close ends in a reset the peer can see (Unix streams have none; the
// peer reads end of stream), and output_dropped counts it (docs/framework.md, "Closing").
enum class CloseReason : std::uint8_t {
    peer_closed,     // the peer closed (read EOF) and everything queued was delivered
    reset,           // ECONNRESET / EPIPE
    error,           // any other socket error
    idle_timeout,    // no traffic within the idle timeout
    limit,           // an input or output limit was exceeded (output cap: output dropped)
    server_stop,     // the server is stopping (grace ran out: output dropped)
    local_close,     // the application closed it
    linger_timeout,  // close() could not flush within linger_timeout: output dropped
    deadline,        // the connection's deadline passed (Connection::set_deadline)
};
inline constexpr std::size_t kCloseReasonCount = 9;

// "peer_closed", "reset", ... (the enumerator's name; "unknown" for other values).
std::string_view to_string(CloseReason r) noexcept;

// A monotonic counter with a single writer (see the contract above).
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// A value that goes up and down, with a single writer. `sub` never goes below zero.
class Gauge {
public:
    void set(std::uint64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
    void add(std::uint64_t n = 1) noexcept { set(load() + n); }
    void sub(std::uint64_t n = 1) noexcept {
        std::uint64_t v = load();
        set(v > n ? v - n : 0);
    }
    std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Plain values of one block, or a sum of blocks.
struct MetricValues {
    std::uint64_t connections_open = 0;      // gauge
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_rejected = 0;  // accepted and closed at once (max connections)
    std::array<std::uint64_t, kCloseReasonCount> connections_closed{};  // by CloseReason
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t emfile_events = 0;
    std::uint64_t output_dropped = 0;        // connections closed with unsent output (reset)
    std::uint64_t output_dropped_bytes = 0;  // the output they dropped
    std::uint64_t loop_iterations = 0;
    std::uint64_t posted_queue_depth = 0;    // gauge
    std::uint64_t timers = 0;                // gauge
    // Datagram servers (UdpServer); zero for stream servers.
    std::uint64_t datagrams_in = 0;           // delivered to the callback, truncated ones too
    std::uint64_t datagram_bytes_in = 0;      // bytes delivered (after truncation)
    std::uint64_t datagrams_truncated = 0;    // delivered cut: longer than the receive slot
    std::uint64_t datagrams_out = 0;          // replies the kernel accepted
    std::uint64_t datagram_bytes_out = 0;
    std::uint64_t datagram_send_dropped = 0;  // send buffer full (WouldBlock): dropped
    std::uint64_t datagram_send_errors = 0;   // any other send failure
    std::uint64_t datagram_recv_errors = 0;   // receive errors other than WouldBlock
    std::uint64_t datagram_budget_yields = 0; // turns that hit the event budget

    std::uint64_t closed(CloseReason r) const noexcept {
        return connections_closed[static_cast<std::size_t>(r)];
    }
    std::uint64_t closed_total() const noexcept;
    MetricValues& operator+=(const MetricValues& o) noexcept;
};

// One reactor's counters. Written by that reactor's thread only.
struct alignas(128) ReactorMetrics {
    Gauge connections_open;
    Counter connections_accepted;
    Counter connections_rejected;
    std::array<Counter, kCloseReasonCount> connections_closed;
    Counter bytes_in;
    Counter bytes_out;
    Counter emfile_events;
    Counter output_dropped;
    Counter output_dropped_bytes;
    Counter loop_iterations;
    Gauge posted_queue_depth;
    Gauge timers;
    Counter datagrams_in;
    Counter datagram_bytes_in;
    Counter datagrams_truncated;
    Counter datagrams_out;
    Counter datagram_bytes_out;
    Counter datagram_send_dropped;
    Counter datagram_send_errors;
    Counter datagram_recv_errors;
    Counter datagram_budget_yields;

    void record_close(CloseReason r) noexcept { connections_closed[static_cast<std::size_t>(r)].add(); }
    MetricValues load() const noexcept;
};

struct MetricsSnapshot {
    std::vector<MetricValues> reactors;
    MetricValues total;
};

class Metrics {
public:
    // `reactors` blocks, all zero.
    explicit Metrics(std::size_t reactors);

    std::size_t reactor_count() const noexcept { return count_; }
    // Block `i` (< reactor_count()). The writer side belongs to reactor i's thread.
    ReactorMetrics& reactor(std::size_t i) noexcept { return blocks_[i]; }
    const ReactorMetrics& reactor(std::size_t i) const noexcept { return blocks_[i]; }

    // Sum over all blocks. Any thread; no allocation.
    MetricValues total() const noexcept;
    // Per-block values and their sum. Any thread.
    MetricsSnapshot snapshot() const;
    // Appends the Prometheus text format of a snapshot to `out`. Any thread.
    void render_prometheus(std::string& out) const;

private:
    std::size_t count_;
    std::unique_ptr<ReactorMetrics[]> blocks_;
};

}  // namespace pollux::framework
