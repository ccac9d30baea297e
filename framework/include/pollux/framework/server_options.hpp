// pollux/framework/server_options.hpp — public.
//
// Limits, timeouts and policies, in one place with their defaults (after nginx and the
// reliability catalogue, docs/framework.md has the table):
//
//     TcpServerOptions opts;                 // every field has a sensible default
//     opts.reactors = 4;
//     opts.connection.idle_timeout = 30s;
//     auto server = TcpServer::bind(addr, opts);
//
// `ConnectionOptions` applies to every connection (servers and clients);
// `StreamServerOptions` (TcpServerOptions, UnixServerOptions) is the server's. A zero
// duration or size switches the limit off where noted.
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
    // Any byte counts as activity; for an absolute bound (a trickling peer) arm a
    // deadline (Connection::set_deadline).
    std::chrono::milliseconds idle_timeout{60'000};
    // Unconsumed input above this closes the connection with CloseReason::limit.
    // Closes for either limit are logged as warnings (pollux/core/log.hpp), at most one
    // line per second per reactor, the next line counting those it did not report.
    std::size_t max_input = 1024 * 1024;
    // Output queue size at which on_high_water fires (once per crossing). Zero: never.
    std::size_t high_water_mark = 1024 * 1024;
    // A send that would take the output queue above this closes with CloseReason::limit:
    // the queue is dropped and the peer gets a reset (it would never read it anyway).
    std::size_t max_output = 8 * 1024 * 1024;
    // How long close() may take: flushing the output plus reading and discarding input
    // until the peer's EOF. If the output has not been flushed by then it is dropped
    // and the peer gets a reset (CloseReason::linger_timeout); if only the peer's EOF
    // is missing the fd is simply closed.
    std::chrono::milliseconds linger_timeout{5'000};
    // Bytes read per turn before the connection yields: it is requeued on its reactor
    // and continues in the next round, after every other connection that was ready.
    std::size_t read_budget = 256 * 1024;
};

// Options of a stream server (stream_server.hpp): TcpServerOptions and UnixServerOptions.
template <class Listener>
struct StreamServerOptions {
    // Reactor threads. nullopt: std::thread::hardware_concurrency() (1 when unknown).
    std::optional<std::size_t> reactors{};
    // Pin reactor i to CPU i % hardware_concurrency() (a failed pin is not fatal).
    bool pin_threads = false;
    // single: one listener, the balancer hands connections out; reuseport (TCP only):
    // one SO_REUSEPORT listener per reactor, the kernel spreads them.
    reactor::AcceptMode accept_mode = reactor::AcceptMode::single;
    // single mode: null = RoundRobin (see balancer.hpp; LeastConnections also ships).
    std::shared_ptr<reactor::Balancer> balancer{};
    // TCP: backlog, TCP_NODELAY. Unix: file mode, stale-file policy, backlog, unlink on
    // stop (acceptor.hpp).
    typename reactor::ListenerTraits<Listener>::ListenOptions listen{};
    // Accepting pauses this long after EMFILE/ENFILE/ENOBUFS/ENOMEM.
    std::chrono::milliseconds resource_pause{100};
    // Connections accepted per readable event before the acceptor yields.
    std::size_t accept_budget = 64;
    // Open connections, all reactors together. A connection accepted above it is closed
    // at once and counted in connections_rejected (no handler sees it). Zero: no limit.
    std::size_t max_connections = 10'000;
    ConnectionOptions connection{};
};

using TcpServerOptions = StreamServerOptions<net::TcpListener>;
using UnixServerOptions = StreamServerOptions<net::UnixListener>;

}  // namespace pollux::framework
