// framework/src/metrics.cpp — metric sums and the Prometheus text format.
#include "pollux/framework/metrics.hpp"

#include <charconv>
#include <numeric>

namespace pollux::framework {

std::string_view to_string(CloseReason r) noexcept {
    switch (r) {
        case CloseReason::peer_closed: return "peer_closed";
        case CloseReason::reset: return "reset";
        case CloseReason::error: return "error";
        case CloseReason::idle_timeout: return "idle_timeout";
        case CloseReason::linger_timeout: return "linger_timeout";
        case CloseReason::deadline: return "deadline";
        case CloseReason::limit: return "limit";
        case CloseReason::server_stop: return "server_stop";
        case CloseReason::local_close: return "local_close";
    }
    return "unknown";
}

std::uint64_t MetricValues::closed_total() const noexcept {
    return std::accumulate(connections_closed.begin(), connections_closed.end(), std::uint64_t{0});
}

MetricValues& MetricValues::operator+=(const MetricValues& o) noexcept {
    connections_open += o.connections_open;
    connections_accepted += o.connections_accepted;
    connections_rejected += o.connections_rejected;
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) connections_closed[i] += o.connections_closed[i];
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    emfile_events += o.emfile_events;
    output_dropped += o.output_dropped;
    output_dropped_bytes += o.output_dropped_bytes;
    loop_iterations += o.loop_iterations;
    posted_queue_depth += o.posted_queue_depth;
    timers += o.timers;
    datagrams_in += o.datagrams_in;
    datagram_bytes_in += o.datagram_bytes_in;
    datagrams_truncated += o.datagrams_truncated;
    datagrams_out += o.datagrams_out;
    datagram_bytes_out += o.datagram_bytes_out;
    datagram_send_dropped += o.datagram_send_dropped;
    datagram_send_errors += o.datagram_send_errors;
    datagram_recv_errors += o.datagram_recv_errors;
    datagram_budget_yields += o.datagram_budget_yields;
    return *this;
}

MetricValues ReactorMetrics::load() const noexcept {
    MetricValues v;
    v.connections_open = connections_open.load();
    v.connections_accepted = connections_accepted.load();
    v.connections_rejected = connections_rejected.load();
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) v.connections_closed[i] = connections_closed[i].load();
    v.bytes_in = bytes_in.load();
    v.bytes_out = bytes_out.load();
    v.emfile_events = emfile_events.load();
    v.output_dropped = output_dropped.load();
    v.output_dropped_bytes = output_dropped_bytes.load();
    v.loop_iterations = loop_iterations.load();
    v.posted_queue_depth = posted_queue_depth.load();
    v.timers = timers.load();
    v.datagrams_in = datagrams_in.load();
    v.datagram_bytes_in = datagram_bytes_in.load();
    v.datagrams_truncated = datagrams_truncated.load();
    v.datagrams_out = datagrams_out.load();
    v.datagram_bytes_out = datagram_bytes_out.load();
    v.datagram_send_dropped = datagram_send_dropped.load();
    v.datagram_send_errors = datagram_send_errors.load();
    v.datagram_recv_errors = datagram_recv_errors.load();
    v.datagram_budget_yields = datagram_budget_yields.load();
    return v;
}

Metrics::Metrics(std::size_t reactors)
    : count_(reactors), blocks_(std::make_unique<ReactorMetrics[]>(reactors)) {}

MetricValues Metrics::total() const noexcept {
    MetricValues sum;
    for (std::size_t i = 0; i < count_; ++i) sum += blocks_[i].load();
    return sum;
}

MetricsSnapshot Metrics::snapshot() const {
    MetricsSnapshot s;
    s.reactors.reserve(count_);
    for (std::size_t i = 0; i < count_; ++i) {
        s.reactors.push_back(blocks_[i].load());
        s.total += s.reactors.back();
    }
    return s;
}

namespace {

struct Family {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    std::uint64_t MetricValues::*field;
};

// Every metric except connections_closed (which has a reason label).
constexpr Family kFamilies[] = {
    {"pollux_connections_open", "gauge", "Connections currently open.", &MetricValues::connections_open},
    {"pollux_connections_accepted_total", "counter", "Connections accepted.",
     &MetricValues::connections_accepted},
    {"pollux_connections_rejected_total", "counter",
     "Connections accepted and closed at once because the server was at its connection limit.",
     &MetricValues::connections_rejected},
    {"pollux_bytes_in_total", "counter", "Bytes read from connections.", &MetricValues::bytes_in},
    {"pollux_bytes_out_total", "counter", "Bytes written to connections.", &MetricValues::bytes_out},
    {"pollux_emfile_events_total", "counter", "Accepts that failed for lack of file descriptors.",
     &MetricValues::emfile_events},
    {"pollux_output_dropped_total", "counter", "Connections closed with unsent output, each with a reset.",
     &MetricValues::output_dropped},
    {"pollux_output_dropped_bytes_total", "counter", "Accepted output dropped by those closes.",
     &MetricValues::output_dropped_bytes},
    {"pollux_loop_iterations_total", "counter", "Reactor loop iterations.", &MetricValues::loop_iterations},
    {"pollux_posted_queue_depth", "gauge", "Tasks posted to the reactor and not yet run.",
     &MetricValues::posted_queue_depth},
    {"pollux_timers", "gauge", "Timers pending on the reactor.", &MetricValues::timers},
    {"pollux_udp_datagrams_in_total", "counter",
     "Datagrams received and delivered to the callback, truncated ones included.", &MetricValues::datagrams_in},
    {"pollux_udp_bytes_in_total", "counter", "Datagram bytes delivered to the callback (after truncation).",
     &MetricValues::datagram_bytes_in},
    {"pollux_udp_truncated_total", "counter",
     "Datagrams delivered cut because they were longer than the receive slot.",
     &MetricValues::datagrams_truncated},
    {"pollux_udp_datagrams_out_total", "counter", "Datagrams the kernel accepted for sending.",
     &MetricValues::datagrams_out},
    {"pollux_udp_bytes_out_total", "counter", "Datagram bytes the kernel accepted for sending.",
     &MetricValues::datagram_bytes_out},
    {"pollux_udp_send_dropped_total", "counter", "Datagrams dropped because the socket send buffer was full.",
     &MetricValues::datagram_send_dropped},
    {"pollux_udp_send_errors_total", "counter", "Datagram sends that failed with an error other than a full buffer.",
     &MetricValues::datagram_send_errors},
    {"pollux_udp_recv_errors_total", "counter", "Datagram receives that failed with an error.",
     &MetricValues::datagram_recv_errors},
    {"pollux_udp_budget_yields_total", "counter",
     "Reactor turns that hit the datagram budget and yielded to other work.",
     &MetricValues::datagram_budget_yields},
};

constexpr std::string_view kClosedName = "pollux_connections_closed_total";

void put_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;  // 24 bytes always fit a uint64_t
    out.append(buf, end);
}

void put_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// name{reactor="i",reason="r"} v — either label may be absent (reactor < 0, reason empty).
void put_sample(std::string& out, std::string_view name, long reactor, std::string_view reason,
                std::uint64_t v) {
    out.append(name);
    if (reactor >= 0 || !reason.empty()) {
        out.push_back('{');
        if (reactor >= 0) {
            out.append("reactor=\"");
            put_number(out, static_cast<std::uint64_t>(reactor));
            out.push_back('"');
            if (!reason.empty()) out.push_back(',');
        }
        if (!reason.empty()) out.append("reason=\"").append(reason).append("\"");
        out.push_back('}');
    }
    out.push_back(' ');
    put_number(out, v);
    out.push_back('\n');
}

}  // namespace

void Metrics::render_prometheus(std::string& out) const {
    const MetricsSnapshot s = snapshot();
    for (const Family& f : kFamilies) {
        put_header(out, f.name, f.help, f.type);
        for (std::size_t i = 0; i < s.reactors.size(); ++i) {
            put_sample(out, f.name, static_cast<long>(i), {}, s.reactors[i].*f.field);
        }
        put_sample(out, f.name, -1, {}, s.total.*f.field);
    }
    put_header(out, kClosedName, "Connections closed, by reason.", "counter");
    for (std::size_t r = 0; r < kCloseReasonCount; ++r) {
        const std::string_view reason = to_string(static_cast<CloseReason>(r));
        for (std::size_t i = 0; i < s.reactors.size(); ++i) {
            put_sample(out, kClosedName, static_cast<long>(i), reason, s.reactors[i].connections_closed[r]);
        }
        put_sample(out, kClosedName, -1, reason, s.total.connections_closed[r]);
    }
}

}  // namespace pollux::framework
