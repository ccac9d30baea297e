// perf/net_bench.cpp — cost of the net layer's primitives on loopback (Google Benchmark).
//
// Reproduce (from the repository root, default build):
//     cmake --build build/default --target net_bench
//     build/default/perf/net_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Syscalls per datagram: run one benchmark for a fixed number of iterations (the
// environment variable makes the run deterministic: no iteration-count estimation) and
// count every syscall the process enters:
//     POLLUX_NET_BENCH_ITERATIONS=20000 perf stat -e raw_syscalls:sys_enter build/default/perf/net_bench --benchmark_filter='net/udp/one_by_one'
//   then divide by iterations x 32 datagrams (setup adds a few hundred syscalls).
//
// What each benchmark measures (everything runs on ONE thread, so the figures are the
// kernel's per-message cost without any wake-up; on loopback the send path delivers
// into the receiver's queue before the send returns, so the reader never waits):
//   * net/tcp/write_read_64: TcpStream::write of 64 B on the client, TcpStream::read of the
//     64 B on the accepted side. Connection accepted once in setup; TCP_NODELAY on.
//     2 syscalls per message.
//   * net/udp/one_by_one: 32 x send_to, then 32 x recv_from. 2 syscalls per datagram.
//   * net/udp/batch_32: one send_many of 32, then recv_many of 32 slots until all 32 are
//     in (normally one call). 2 syscalls per 32 datagrams.
// The UDP figures are per datagram (items_per_second, and `per_datagram` = seconds
// per datagram).
#include <poll.h>

#include <array>
#include <cstdlib>
#include <string>
#include <utility>

#include <benchmark/benchmark.h>

#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/net/udp_socket.hpp"

namespace {

using pollux::is_would_block;
using pollux::net::RecvSlot;
using pollux::net::SendSlot;
using pollux::net::SocketAddr;
using pollux::net::TcpListener;
using pollux::net::TcpStream;
using pollux::net::UdpSocket;

constexpr std::size_t kBatch = 32;
constexpr std::size_t kPayload = 64;

bool wait_fd(int fd, short events) {
    ::pollfd p{fd, events, 0};
    return ::poll(&p, 1, 2000) == 1;
}

void set_per_datagram(benchmark::State& state, std::size_t per_iteration) {
    const std::int64_t items = state.iterations() * static_cast<std::int64_t>(per_iteration);
    state.SetItemsProcessed(items);
    state.counters["per_datagram"] =
        benchmark::Counter(static_cast<double>(items), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void tcp_write_read_64(benchmark::State& state) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4());
    if (!listener) return state.SkipWithError("bind failed");
    auto client = TcpStream::connect(listener->local_addr().value());
    if (!client || !wait_fd(listener->fd(), POLLIN)) return state.SkipWithError("connect failed");
    auto server = listener->accept_stream();
    if (!server || !wait_fd(client->fd(), POLLOUT)) return state.SkipWithError("accept failed");
    (void)client->set_nodelay(true);
    (void)server->set_nodelay(true);

    std::array<std::byte, kPayload> out{};
    std::array<std::byte, kPayload> in{};
    for (auto _ : state) {
        if (client->write(out).value_or(0) != kPayload) return state.SkipWithError("short write");
        std::size_t got = 0;
        while (got < kPayload) {
            auto n = server->read(std::span(in).subspan(got));
            if (n && *n > 0) {
                got += *n;
            } else if (!n && is_would_block(n.error())) {
                wait_fd(server->fd(), POLLIN);
            } else {
                return state.SkipWithError("read failed");
            }
        }
        benchmark::DoNotOptimize(in.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kPayload));
}

struct UdpPair {
    UdpSocket tx = UdpSocket::bind(SocketAddr::loopback_v4()).value();
    UdpSocket rx = UdpSocket::bind(SocketAddr::loopback_v4()).value();
    SocketAddr to = rx.local_addr().value();
};

void udp_one_by_one(benchmark::State& state) {
    UdpPair p;
    std::array<std::byte, kPayload> out{};
    std::array<std::byte, kPayload> in{};
    for (auto _ : state) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            if (!p.tx.send_to(out, p.to)) return state.SkipWithError("send_to failed");
        }
        for (std::size_t got = 0; got < kBatch;) {
            auto m = p.rx.recv_from(in);
            if (m) {
                ++got;
            } else if (is_would_block(m.error())) {
                wait_fd(p.rx.fd(), POLLIN);
            } else {
                return state.SkipWithError("recv_from failed");
            }
        }
        benchmark::DoNotOptimize(in.data());
    }
    set_per_datagram(state, kBatch);
}

void udp_batch_32(benchmark::State& state) {
    UdpPair p;
    std::array<std::byte, kPayload> out{};
    std::array<std::array<std::byte, kPayload>, kBatch> in{};
    std::array<SendSlot, kBatch> send_slots{};
    std::array<RecvSlot, kBatch> recv_slots{};
    for (std::size_t i = 0; i < kBatch; ++i) {
        send_slots[i] = SendSlot{out, &p.to};
        recv_slots[i].buf = in[i];
    }
    for (auto _ : state) {
        for (std::size_t sent = 0; sent < kBatch;) {
            auto n = p.tx.send_many(std::span(send_slots).subspan(sent));
            if (!n) return state.SkipWithError("send_many failed");
            sent += *n;
        }
        for (std::size_t got = 0; got < kBatch;) {
            auto n = p.rx.recv_many(std::span(recv_slots).subspan(got));
            if (n) {
                got += *n;
            } else if (is_would_block(n.error())) {
                wait_fd(p.rx.fd(), POLLIN);
            } else {
                return state.SkipWithError("recv_many failed");
            }
        }
        benchmark::DoNotOptimize(in.data());
    }
    set_per_datagram(state, kBatch);
}

}  // namespace

int main(int argc, char** argv) {
    // POLLUX_NET_BENCH_ITERATIONS=N fixes the iteration count (for syscall counting).
    const char* fixed = std::getenv("POLLUX_NET_BENCH_ITERATIONS");
    const long iterations = fixed != nullptr ? std::strtol(fixed, nullptr, 10) : 0;
    for (auto [name, fn] : {std::pair{"net/tcp/write_read_64", &tcp_write_read_64},
                            std::pair{"net/udp/one_by_one", &udp_one_by_one}, std::pair{"net/udp/batch_32", &udp_batch_32}}) {
        auto* b = benchmark::RegisterBenchmark(name, fn);
        if (iterations > 0) b->Iterations(iterations);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
