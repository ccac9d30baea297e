// pollux/framework/udp_server.hpp — public.
//
// `UdpServer` receives datagrams on every reactor of a pool and hands each one to a
// user callback, with a reply helper:
//
//     auto server = UdpServer::bind(SocketAddr::loopback_v4(9000), {.reactors = 4}).value();
//     server->on_datagram([](UdpContext& ctx, std::span<const std::byte> bytes, bool truncated) {
//         if (!truncated) (void)ctx.reply(bytes);            // echo
//     });
//     server->run_until_signal();       // or start() ... stop(); the destructor stops too
//
// Sockets. One UDP socket per reactor, all bound to the same address with SO_REUSEPORT
// (and SO_REUSEADDR off). The kernel spreads datagrams over the group by a hash of the
// sender's address and port, so one client flow always lands on the same reactor and
// many flows spread over all of them. Port 0 in the address picks a free port once; the
// other sockets join it (`local_addr`). A port already held by a socket WITHOUT
// SO_REUSEPORT makes `bind` fail with `std::errc::address_in_use`. Caveat of
// SO_REUSEPORT: another socket of the same user that sets it can join the group later
// and take a share of the datagrams.
//
//     datagram -> kernel reuseport hash -> socket i -> reactor i: recv_many (batch)
//              -> on_datagram(ctx, bytes, truncated) per datagram, in arrival order
//                   (ctx.reply copies into the send area)
//              -> send_many (one sendmmsg for the batch's replies)
//
// Receiving. Each reactor owns `batch` receive slots of `datagram_size` bytes and a
// send area of `send_area` bytes, allocated once by `bind` and reused for every
// batch (defaults: 16 x 64 KiB + 64 KiB, about 1 MiB per reactor). A readable event
// drains the socket with recv_many until WouldBlock, but at most `event_budget`
// datagrams per turn; past that the socket requeues itself (Reactor::requeue_in_loop)
// and continues in the next round, after the reactor's other ready sources, so a flood
// on one socket cannot starve its other registrations, timers and tasks.
//
// Oversize datagrams are never hidden. A datagram longer than `datagram_size` is cut
// by the kernel (the tail is lost); the callback receives the first `datagram_size`
// bytes with `truncated == true`, `ctx.full_size()` tells the length it had on the wire,
// and `metrics()` counts it (`datagrams_truncated`). With the default 65536 no UDP
// datagram is ever cut (the largest IPv4 / IPv6 payload is 65507 / 65527 bytes).
//
// The callback. Runs on the reactor thread that owns the socket (ctx.reactor()), never
// concurrently with itself on that reactor, but concurrently on DIFFERENT reactors: it
// must be safe to call from several threads at once. `bytes` and `ctx` are valid only
// during the call (the slot is reused by the next batch); copy what you keep. The
// callback must not block and must not call start()/stop(). Set it before start().
//
// Replies. `ctx.reply(bytes)` sends one datagram to the sender (`ctx.send_to` to any
// address) from the same socket. Replies are gathered per batch: the bytes and the
// destination are copied into the reactor's send area (`send_area` bytes, allocated
// once), and after the callback has run for every datagram of one recv_many batch the
// worker sends them all with sendmmsg (one syscall for up to 64). Order is kept: the
// datagrams leave in the order of the calls. A queued reply returns success: its fate
// is only known at the flush, and is counted there, never returned. A reply larger
// than the whole area, or any reply with `send_area == 0`, is sent at once with one
// sendto (after flushing what is queued, so the order still holds) and returns that
// send's result. A full area (bytes, or 64 datagrams) is flushed early, mid-batch.
// Nothing ever blocks or waits: when the socket's send buffer is full (WouldBlock) the
// datagrams that did not fit are dropped and counted in `datagram_send_dropped`; a
// datagram the kernel refuses (EMSGSIZE, wrong address family, ...) is counted in
// `datagram_send_errors` and skipped, and the rest of the batch still goes out. UDP is
// lossy anyway; a protocol that needs delivery retransmits. The flush runs at the end
// of every batch, so nothing is queued when a turn yields on its budget or when stop()
// closes the socket.
//
// Metrics. `metrics()` has one block per reactor (metrics.hpp); the server writes its
// datagram counters: datagrams_in, datagram_bytes_in, datagrams_truncated,
// datagrams_out, datagram_bytes_out, datagram_send_dropped, datagram_send_errors,
// datagram_recv_errors, datagram_budget_yields (Prometheus: pollux_udp_*_total). Like
// the stream servers it also fills the loop fields (the same LoopMetrics):
// loop_iterations (since start) and timers once a second and at stop (a 1 s timer per
// reactor while running), posted_queue_depth sampled by each metrics() call. The
// connection counters stay 0.
//
// Allocation. Nothing is allocated per datagram in steady state: the slots and the send
// area are reused, the context lives on the stack, and a budget requeue is an id in a
// list the reactor reuses.
//
// Lifecycle: the verbs of every pollux server (bind, start, stop, run_until_signal).
// `bind` binds every socket (datagrams sent before `start` queue in the
// kernel up to SO_RCVBUF). `start` registers each socket on its reactor (and first
// starts the pool when the server created it). `stop` deregisters and closes every
// socket on its own reactor thread and waits for that; once it returns no callback
// runs or is running, and the port is free. With a pool of its own, `stop` then stops
// the pool. With a borrowed pool (`bind(pool, ...)`), stop the server before the
// pool. start/stop may be called from any thread except the pool's own loop threads
// (they wait on those, so there they refuse); metrics/local_addr from any thread. start
// and stop each take effect once; a stopped server cannot be restarted. `metrics` stays
// readable after stop. `run_until_signal` is start(), a wait for SIGINT or SIGTERM
// (blocked in the calling thread meanwhile), stop(), as for the stream servers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/framework/callbacks.hpp"  // DatagramCallback
#include "pollux/framework/metrics.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/udp_socket.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

class LoopMetrics;  // internal (framework/src/loop_metrics.hpp)

class UdpContext;
namespace detail {
struct UdpWorker;  // one reactor's socket, slots and counters (udp_server.cpp)
}  // namespace detail

struct UdpServerOptions {
    // Reactors of the pool the server creates (ignored by bind(pool, ...)).
    // nullopt: std::thread::hardware_concurrency(). 0 is rejected.
    std::optional<std::size_t> reactors{};
    // Datagrams per recv_many call, 1..UdpSocket::kMaxBatch.
    std::size_t batch = 16;
    // Bytes of each receive slot, >= 1. Longer datagrams arrive truncated.
    std::size_t datagram_size = 65536;
    // Datagrams received per turn of a reactor before yielding to its other work, >= 1.
    std::size_t event_budget = 256;
    // SO_RCVBUF request per socket; 0 keeps the kernel default (net.core.rmem_default).
    std::size_t socket_recv_buffer = 0;
    // Bytes of each reactor's send area, where the replies of one batch wait for their
    // sendmmsg (see "Replies"); 0 sends every reply at once with its own sendto. At
    // most 64 MiB.
    std::size_t send_area = 65536;
    // IPV6_V6ONLY for an IPv6 address (see net::UdpOptions); must be false for IPv4.
    bool only_v6 = false;
};

// What the callback gets besides the bytes: the sender, the reactor and the replies.
// Lives on the reactor's stack for one callback; do not keep it.
class UdpContext {
public:
    // The sender of this datagram.
    const net::SocketAddr& peer() const noexcept { return peer_; }
    // The datagram's length on the wire (> bytes.size() exactly when truncated).
    std::size_t full_size() const noexcept { return full_size_; }
    // The reactor running this callback and its index in the pool.
    reactor::Reactor& reactor() const noexcept { return reactor_; }
    std::size_t reactor_index() const noexcept { return reactor_.index(); }

    // One datagram to peer() (see "Replies"): queued for the end of the batch (then
    // success) or sent at once when larger than the send area. Never blocks.
    Result<void> reply(std::span<const std::byte> bytes) const { return send_to(bytes, peer_); }
    // One datagram to `to` from this reactor's socket. Same rules as reply.
    Result<void> send_to(std::span<const std::byte> bytes, const net::SocketAddr& to) const;

private:
    friend struct detail::UdpWorker;
    UdpContext(reactor::Reactor& r, detail::UdpWorker& worker, const net::SocketAddr& peer,
               std::size_t full_size) noexcept
        : reactor_(r), worker_(worker), peer_(peer), full_size_(full_size) {}

    reactor::Reactor& reactor_;
    detail::UdpWorker& worker_;
    const net::SocketAddr& peer_;
    std::size_t full_size_;
};

class UdpServer {
public:
    // Creates a pool of `options.reactors` reactors (not started) and binds one socket
    // per reactor. Errors: std::errc::invalid_argument for bad options; the bind error
    // (e.g. std::errc::address_in_use); ReactorPool::create's error.
    static Result<std::unique_ptr<UdpServer>> bind(const net::SocketAddr& addr, UdpServerOptions options = {});
    // Same on a borrowed pool, one socket per pool reactor. The pool must outlive the
    // server; stop the server before the pool. start() needs the pool started, or must
    // be called on the thread that created the pool (before its start).
    static Result<std::unique_ptr<UdpServer>> bind(reactor::ReactorPool& pool, const net::SocketAddr& addr,
                                                   UdpServerOptions options = {});

    UdpServer(const UdpServer&) = delete;
    UdpServer& operator=(const UdpServer&) = delete;
    // stop(). Must not run on one of the pool's loop threads.
    ~UdpServer();

    // Sets the callback. Before start() only (then std::errc::operation_not_permitted).
    Result<void> on_datagram(DatagramCallback callback);

    // Registers the sockets (starting the own pool first). Errors:
    // std::errc::invalid_argument without a callback; operation_not_permitted when
    // already started or stopped; the pool's or registry's error (the server is then
    // stopped).
    Result<void> start();
    // See "Lifecycle". Idempotent; returns the own pool's stop result.
    // start() and stop() return std::errc::resource_deadlock_would_occur (doing nothing)
    // on one of the pool's loop threads, e.g. from the callback.
    Result<void> stop();
    // start(), wait for SIGINT or SIGTERM, stop(); restores the signal mask.
    Result<void> run_until_signal();

    // The bound address (the real port when created with port 0).
    const net::SocketAddr& local_addr() const noexcept { return local_addr_; }
    std::size_t reactor_count() const noexcept { return workers_.size(); }
    reactor::ReactorPool& pool() noexcept { return *pool_; }

    // One metrics block per reactor (block i belongs to reactor i), written by that
    // reactor (see "Metrics"). Any thread may read it, e.g.
    // `metrics().total().datagrams_in` or `metrics().render_prometheus(text)`; values
    // are read one by one, not at one instant. A reply can reach its peer before
    // `datagrams_out` counts it; after stop() every count is final. Each call first
    // samples posted_queue_depth: call metrics() again for a fresh value.
    Metrics& metrics() noexcept;
    const Metrics& metrics() const noexcept;

private:
    enum class State : int { created, running, stopped };

    UdpServer(std::unique_ptr<reactor::ReactorPool> own_pool, reactor::ReactorPool& pool,
              UdpServerOptions options) noexcept;
    static Result<std::unique_ptr<UdpServer>> bind_all(std::unique_ptr<UdpServer> server,
                                                       const net::SocketAddr& addr);

    std::unique_ptr<reactor::ReactorPool> own_pool_;  // null for a borrowed pool
    reactor::ReactorPool* pool_;
    const UdpServerOptions options_;
    DatagramCallback callback_;                       // set before start, then read-only
    net::SocketAddr local_addr_;
    Metrics metrics_;                                 // block i: written by reactor i only
    std::vector<std::shared_ptr<detail::UdpWorker>> workers_;  // worker i belongs to reactor i
    std::unique_ptr<LoopMetrics> loop_metrics_;       // fills the loop fields of metrics_
    std::mutex lifecycle_mutex_;                      // serializes start/stop
    State state_ = State::created;                    // guarded by lifecycle_mutex_
};

}  // namespace pollux::framework
