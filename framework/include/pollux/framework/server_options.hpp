// pollux/framework/server_options.hpp — public.
//
// Limits, timeouts and policies, in one place with their defaults (after nginx and the
// reliability catalogue, docs/framework.md has the table):
//
//     TcpServerOptions opts;                 // every field has a sensible default
//     opts.reactors = 4;
//     opts.connection.idle_timeout = 30s;
//     TcpServer server(addr, opts);
//
// `ConnectionOptions` applies to every connection (servers and clients); the rest is the
// server's. A zero duration or size switches the limit off where noted.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/balancer.hpp"

namespace pollux::framework {

struct ConnectionOptions {
    // No byte in or out for this long -> on_timeout (default: close, idle_timeout).
    // Zero: no idle timeout. Checked lazily, without a clock read or a timer per
    // message: traffic only sets a flag, and a timer checks it every idle_timeout / 4,
    // so the timeout fires between 1 and 1.25 idle_timeout after the last activity.
    std::chrono::milliseconds idle_timeout{60'000};
    // Unconsumed input above this closes the connection with CloseReason::limit.
    std::size_t max_input = 1024 * 1024;
    // Output queue size at which on_high_water fires (once per crossing). Zero: never.
    std::size_t high_water_mark = 1024 * 1024;
    // A send that would take the output queue above this closes with CloseReason::limit
    // (the queue is dropped: a peer that does not read would never get it anyway).
    std::size_t max_output = 8 * 1024 * 1024;
    // How long close() may take: flushing the output plus reading and discarding input
    // until the peer's EOF. Then the fd is closed regardless.
    std::chrono::milliseconds linger_timeout{5'000};
    // Bytes read per readiness event before the connection yields to the others (it is
    // re-queued on its reactor and continues in the same loop iteration's task phase).
    std::size_t read_budget = 256 * 1024;
};

struct TcpServerOptions {
    // Reactor threads. nullopt: std::thread::hardware_concurrency() (1 when unknown).
    std::optional<std::size_t> reactors{};
    // single: one listener, the balancer hands connections out; reuseport: one
    // SO_REUSEPORT listener per reactor, the kernel spreads them.
    reactor::AcceptMode accept_mode = reactor::AcceptMode::single;
    // single mode: null = RoundRobin (see balancer.hpp; LeastConnections also ships).
    std::shared_ptr<reactor::Balancer> balancer{};
    int backlog = net::TcpListener::kDefaultBacklog;
    // TCP_NODELAY on every accepted connection.
    bool nodelay = true;
    // Open connections, all reactors together. A connection accepted above it is closed
    // at once and counted in connections_rejected (no handler sees it). Zero: no limit.
    std::size_t max_connections = 10'000;
    ConnectionOptions connection{};
};

}  // namespace pollux::framework
