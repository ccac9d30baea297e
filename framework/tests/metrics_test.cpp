// Metrics: counters and gauges, sums across reactors, lock-free concurrent reads while
// reactors write (run under TSan), and the Prometheus text format.
#include "pollux/framework/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

namespace pollux::framework {
namespace {

TEST(Metrics, close_reasons_have_stable_names) {
    EXPECT_EQ(to_string(CloseReason::peer_closed), "peer_closed");
    EXPECT_EQ(to_string(CloseReason::reset), "reset");
    EXPECT_EQ(to_string(CloseReason::error), "error");
    EXPECT_EQ(to_string(CloseReason::idle_timeout), "idle_timeout");
    EXPECT_EQ(to_string(CloseReason::limit), "limit");
    EXPECT_EQ(to_string(CloseReason::server_stop), "server_stop");
    EXPECT_EQ(to_string(CloseReason::local_close), "local_close");
    EXPECT_EQ(to_string(CloseReason::linger_timeout), "linger_timeout");
    EXPECT_EQ(to_string(CloseReason::deadline), "deadline");
    EXPECT_EQ(to_string(static_cast<CloseReason>(200)), "unknown");
    EXPECT_EQ(static_cast<std::size_t>(CloseReason::deadline) + 1, kCloseReasonCount);
}

TEST(Metrics, counters_add_and_gauges_never_go_below_zero) {
    Counter c;
    c.add();
    c.add(41);
    EXPECT_EQ(c.load(), 42u);
    Gauge g;
    g.add(3);
    g.sub();
    EXPECT_EQ(g.load(), 2u);
    g.sub(10);
    EXPECT_EQ(g.load(), 0u);
    g.set(7);
    EXPECT_EQ(g.load(), 7u);
}

TEST(Metrics, blocks_are_128_byte_aligned_so_reactors_share_no_cache_line) {
    static_assert(alignof(ReactorMetrics) == 128);
    Metrics m(3);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&m.reactor(i)) % 128, 0u);
    }
}

void fill(ReactorMetrics& r, std::uint64_t k) {
    r.connections_open.set(k);
    r.connections_accepted.add(10 * k);
    r.connections_rejected.add(k);
    r.record_close(CloseReason::peer_closed);
    for (std::uint64_t i = 0; i < k; ++i) r.record_close(CloseReason::limit);
    r.bytes_in.add(1000 * k);
    r.bytes_out.add(2000 * k);
    r.emfile_events.add(k);
    r.loop_iterations.add(100 * k);
    r.posted_queue_depth.set(k + 1);
    r.timers.set(5 * k);
    r.datagrams_in.add(3 * k);
    r.datagram_bytes_in.add(300 * k);
    r.datagrams_truncated.add(k);
    r.datagrams_out.add(2 * k);
    r.datagram_bytes_out.add(200 * k);
    r.datagram_send_dropped.add(4 * k);
    r.datagram_send_errors.add(6 * k);
    r.datagram_recv_errors.add(7 * k);
    r.datagram_budget_yields.add(8 * k);
}

TEST(Metrics, total_and_snapshot_sum_the_reactors) {
    Metrics m(3);
    fill(m.reactor(0), 1);
    fill(m.reactor(1), 2);
    fill(m.reactor(2), 3);
    const MetricValues t = m.total();
    EXPECT_EQ(t.connections_open, 6u);
    EXPECT_EQ(t.connections_accepted, 60u);
    EXPECT_EQ(t.connections_rejected, 6u);
    EXPECT_EQ(t.closed(CloseReason::peer_closed), 3u);
    EXPECT_EQ(t.closed(CloseReason::limit), 6u);
    EXPECT_EQ(t.closed(CloseReason::reset), 0u);
    EXPECT_EQ(t.closed_total(), 9u);
    EXPECT_EQ(t.bytes_in, 6000u);
    EXPECT_EQ(t.bytes_out, 12000u);
    EXPECT_EQ(t.emfile_events, 6u);
    EXPECT_EQ(t.loop_iterations, 600u);
    EXPECT_EQ(t.posted_queue_depth, 9u);
    EXPECT_EQ(t.timers, 30u);
    EXPECT_EQ(t.datagrams_in, 18u);
    EXPECT_EQ(t.datagram_bytes_in, 1800u);
    EXPECT_EQ(t.datagrams_truncated, 6u);
    EXPECT_EQ(t.datagrams_out, 12u);
    EXPECT_EQ(t.datagram_bytes_out, 1200u);
    EXPECT_EQ(t.datagram_send_dropped, 24u);
    EXPECT_EQ(t.datagram_send_errors, 36u);
    EXPECT_EQ(t.datagram_recv_errors, 42u);
    EXPECT_EQ(t.datagram_budget_yields, 48u);
    const MetricsSnapshot s = m.snapshot();
    ASSERT_EQ(s.reactors.size(), 3u);
    EXPECT_EQ(s.reactors[1].bytes_in, 2000u);
    EXPECT_EQ(s.reactors[2].closed(CloseReason::limit), 3u);
    EXPECT_EQ(s.total.bytes_out, t.bytes_out);
    EXPECT_EQ(s.reactors[0].datagram_send_errors, 6u);
    EXPECT_EQ(s.reactors[2].datagrams_in, 9u);
}

// One writer thread per block (as reactors do) and a reader snapshotting meanwhile.
// Under TSan this proves the reads are race-free; the final sums prove no lost counts.
TEST(Metrics, concurrent_single_writers_and_a_lock_free_reader) {
    constexpr std::uint64_t kAdds = 200000;
    Metrics m(2);
    std::atomic<bool> go{false};
    auto writer = [&](std::size_t i) {
        while (!go.load()) std::this_thread::yield();
        ReactorMetrics& r = m.reactor(i);
        for (std::uint64_t k = 0; k < kAdds; ++k) {
            r.bytes_in.add(2);
            r.loop_iterations.add();
            r.posted_queue_depth.set(k);
            if (k % 1000 == 0) r.record_close(CloseReason::reset);
        }
    };
    std::thread w0(writer, 0);
    std::thread w1(writer, 1);
    std::uint64_t last = 0;
    int snapshots = 0;
    bool monotonic = true;
    go.store(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        const MetricValues t = m.total();
        if (t.loop_iterations < last) monotonic = false;
        last = t.loop_iterations;
        ++snapshots;
        std::string text;
        if (snapshots % 64 == 0) m.render_prometheus(text);
        if (t.loop_iterations == 2 * kAdds) break;
    }
    w0.join();
    w1.join();
    EXPECT_TRUE(monotonic);
    EXPECT_GT(snapshots, 0);
    const MetricValues t = m.total();
    EXPECT_EQ(t.loop_iterations, 2 * kAdds);
    EXPECT_EQ(t.bytes_in, 4 * kAdds);
    EXPECT_EQ(t.closed(CloseReason::reset), 2 * (kAdds / 1000));
}

// Hand-written matchers for the two line shapes (std::regex in libstdc++ 12 trips
// -Wmaybe-uninitialized under the sanitizer builds):
//   ^# (HELP|TYPE) [a-z_]+ .+$        and        ^[a-z_]+(\{[^}]*\})? [0-9]+$
std::size_t name_length(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) ++i;
    return i;
}

bool match_comment(std::string_view line, std::string& kind, std::string& name) {
    if (!line.starts_with("# HELP ") && !line.starts_with("# TYPE ")) return false;
    kind = std::string(line.substr(2, 4));
    line.remove_prefix(7);
    const std::size_t n = name_length(line);
    if (n == 0 || line.size() < n + 2 || line[n] != ' ') return false;
    name = std::string(line.substr(0, n));
    return true;
}

bool match_sample(std::string_view line, std::string& name, std::string& labels, std::uint64_t& value) {
    const std::size_t n = name_length(line);
    if (n == 0) return false;
    name = std::string(line.substr(0, n));
    line.remove_prefix(n);
    labels.clear();
    if (line.starts_with("{")) {
        const std::size_t close = line.find('}');
        if (close == std::string_view::npos) return false;
        labels = std::string(line.substr(1, close - 1));
        line.remove_prefix(close + 1);
    }
    if (!line.starts_with(" ") || line.size() < 2) return false;
    line.remove_prefix(1);
    value = 0;
    for (char c : line) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

TEST(Metrics, prometheus_line_matchers_reject_malformed_lines) {
    std::string a, b;
    std::uint64_t v = 0;
    EXPECT_TRUE(match_sample("x_total{reactor=\"0\"} 12", a, b, v));
    EXPECT_EQ(v, 12u);
    EXPECT_FALSE(match_sample("x_total{reactor=\"0\"} -1", a, b, v));
    EXPECT_FALSE(match_sample("x_total 1.5", a, b, v));
    EXPECT_FALSE(match_sample("X 1", a, b, v));
    EXPECT_FALSE(match_sample("x_total{a=\"b\" 1", a, b, v));
    EXPECT_TRUE(match_comment("# TYPE x_total counter", a, b));
    EXPECT_FALSE(match_comment("# TYPE x_total", a, b));
    EXPECT_FALSE(match_comment("#TYPE x counter", a, b));
}

TEST(Metrics, prometheus_output_is_valid_text_format_with_right_sums) {
    Metrics m(2);
    fill(m.reactor(0), 4);
    fill(m.reactor(1), 7);
    std::string out = "# prefix kept\n";
    m.render_prometheus(out);
    ASSERT_TRUE(out.starts_with("# prefix kept\n"));
    ASSERT_TRUE(out.ends_with("\n"));

    std::map<std::string, std::string> types;
    std::map<std::string, std::uint64_t> values;  // "name{labels}" -> value
    std::istringstream in(out.substr(std::string("# prefix kept\n").size()));
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        std::string kind, name, labels;
        std::uint64_t value = 0;
        if (match_comment(line, kind, name)) {
            if (kind == "TYPE") types[name] = line.substr(line.rfind(' ') + 1);
            continue;
        }
        ASSERT_TRUE(match_sample(line, name, labels, value)) << "bad line: " << line;
        ASSERT_TRUE(types.contains(name)) << "sample before its TYPE: " << line;
        values[name + "{" + labels + "}"] = value;
    }
    EXPECT_GT(lines, 40);
    for (const auto& [name, type] : types) {
        EXPECT_TRUE(type == "counter" || type == "gauge") << name;
        EXPECT_EQ(type == "counter", name.ends_with("_total")) << name;
    }
    EXPECT_EQ(types["pollux_connections_open"], "gauge");
    EXPECT_EQ(types["pollux_bytes_in_total"], "counter");

    EXPECT_EQ(values["pollux_bytes_in_total{reactor=\"0\"}"], 4000u);
    EXPECT_EQ(values["pollux_bytes_in_total{reactor=\"1\"}"], 7000u);
    EXPECT_EQ(values["pollux_bytes_in_total{}"], 11000u);
    EXPECT_EQ(values["pollux_connections_open{}"], 11u);
    EXPECT_EQ(values["pollux_timers{reactor=\"1\"}"], 35u);
    EXPECT_EQ(values["pollux_connections_closed_total{reactor=\"0\",reason=\"limit\"}"], 4u);
    EXPECT_EQ(values["pollux_connections_closed_total{reason=\"limit\"}"], 11u);
    EXPECT_EQ(values["pollux_connections_closed_total{reason=\"peer_closed\"}"], 2u);
    EXPECT_EQ(values["pollux_connections_closed_total{reason=\"server_stop\"}"], 0u);
    EXPECT_TRUE(values.contains("pollux_connections_closed_total{reactor=\"1\",reason=\"local_close\"}"));
    // The datagram families (fill(): k = 4 and 7).
    EXPECT_EQ(types["pollux_udp_datagrams_in_total"], "counter");
    EXPECT_EQ(values["pollux_udp_datagrams_in_total{reactor=\"0\"}"], 12u);
    EXPECT_EQ(values["pollux_udp_datagrams_in_total{}"], 33u);
    EXPECT_EQ(values["pollux_udp_bytes_in_total{}"], 3300u);
    EXPECT_EQ(values["pollux_udp_truncated_total{reactor=\"1\"}"], 7u);
    EXPECT_EQ(values["pollux_udp_datagrams_out_total{}"], 22u);
    EXPECT_EQ(values["pollux_udp_bytes_out_total{}"], 2200u);
    EXPECT_EQ(values["pollux_udp_send_dropped_total{}"], 44u);
    EXPECT_EQ(values["pollux_udp_send_errors_total{reactor=\"0\"}"], 24u);
    EXPECT_EQ(values["pollux_udp_recv_errors_total{}"], 77u);
    EXPECT_EQ(values["pollux_udp_budget_yields_total{reactor=\"1\"}"], 56u);

    // Every aggregate equals the sum of its per-reactor series.
    std::map<std::string, std::uint64_t> sums;
    for (const auto& [key, v] : values) {
        const auto brace = key.find('{');
        std::string labels = key.substr(brace + 1, key.size() - brace - 2);
        if (!labels.starts_with("reactor=")) continue;
        const auto comma = labels.find(',');
        const std::string rest = comma == std::string::npos ? "" : labels.substr(comma + 1);
        sums[key.substr(0, brace) + "{" + rest + "}"] += v;
    }
    std::size_t aggregates = 0;
    for (const auto& [key, v] : values) {
        if (key.find("reactor=") != std::string::npos) continue;
        ++aggregates;
        EXPECT_EQ(v, sums[key]) << key;
    }
    EXPECT_EQ(aggregates, 20u + kCloseReasonCount);
}

}  // namespace
}  // namespace pollux::framework
