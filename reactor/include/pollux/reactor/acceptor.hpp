// pollux/reactor/acceptor.hpp — public.
//
// An acceptor listens on one address for a ReactorPool and delivers every accepted
// connection to `on_connection(reactor, stream, peer)` on the thread of the reactor
// that will own it. One machine serves both stream listeners:
//
//     Acceptor      = BasicAcceptor<net::TcpListener>    TcpStream, SocketAddr
//     UnixAcceptor  = BasicAcceptor<net::UnixListener>   UnixStream, UnixSocketAddr
//
// What differs per listener is in ListenerTraits (how to bind, what to do with a new
// stream, what to clean up on stop) and in the `listen` options: TCP has the backlog
// and TCP_NODELAY; Unix the file mode, the stale-file policy, the backlog and whether
// stop() unlinks the socket file. Two modes:
//
// AcceptMode::single (default). One listener, registered on reactor
// `options.acceptor_reactor` (0 by default). On each readable event it calls accept4
// until WouldBlock (or the budget, below); for each stream the Balancer (balancer.hpp; RoundRobin unless
// `options.balancer` says otherwise) picks a target reactor, and the stream is handed
// over like this:
//
//     acceptor reactor (loop thread)                    target reactor i (loop thread)
//     -------------------------------                   ------------------------------
//     accept4 -> TcpStream, SocketAddr
//     TCP: set TCP_NODELAY (options.listen.nodelay)
//     i = balancer.pick(counts); counts.add(i)
//     i is this reactor? -> on_connection(...) now
//     else queue[i].enqueue({stream, peer}) --+
//          if pending[i].exchange(true)==false |        drain task:
//              reactor(i).post(drain task) ----+----->    pending[i] = false
//                  (eventfd write, unless i's          while queue[i].try_dequeue(x):
//                   drain is already pending)              on_connection(reactor i, x...)
//
// queue[i] is a moodycamel::ConcurrentQueue: only the acceptor thread enqueues (an
// implicit producer, whose blocks recycle through the queue's lock-free free list) and
// only reactor i dequeues (one consumer token).
// pending[i] coalesces wakes: one Reactor::post -- at most one eventfd write -- per batch
// of streams, however many connections the batch holds. The drain clears pending[i]
// before it dequeues, so a stream enqueued meanwhile either is seen by this drain or
// posts the next one. Nothing is allocated per connection: the queue recycles its
// blocks (32 streams each) and the drain task's capture is stored inline.
//
// Budget. One readable event accepts at most `options.accept_budget` connections; if
// the backlog holds more, the listener requeues itself (Reactor::requeue_in_loop) and
// continues in the next round, after the other ready sources. A connect storm
// therefore cannot hold the acceptor's reactor.
//
// AcceptMode::reuseport (TCP only). Every reactor owns a listener on the same address
// (TcpListener::bind_reuseport, SO_REUSEPORT); the kernel spreads connections by a hash
// of the 4-tuple, each reactor accepts its own and calls on_connection inline. There is
// no hand-off and no Balancer. Closing one listener resets connections queued on it
// (net.ipv4.tcp_migrate_req), which is why stop() closes them all together.
//
// Either way the target's ConnectionCounts entry goes up by one per stream; the owner of
// the connection reports the close (ReactorPool::connection_closed or ConnectionLease).
//
// Accept errors, each classified on the spot:
//   * per connection (ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENETUNREACH, EHOSTDOWN,
//     EHOSTUNREACH, ENONET, ENOPROTOOPT, EOPNOTSUPP, ETIMEDOUT): skip, count in
//     stats().connection_errors, keep accepting. EINTR: retry.
//   * out of fds (EMFILE, ENFILE): the libuv/muduo reserve-fd trick. Each listener keeps
//     one spare fd (/dev/null). It is closed, then every pending connection is accepted
//     and closed at once until WouldBlock (at most 4096: peers see a close rather than
//     rotting in the backlog), the spare is reopened, and the listener pauses for
//     `options.resource_pause` (100 ms). Counted in stats().emfile_events.
//   * out of memory (ENOBUFS, ENOMEM), or anything unexpected: pause, no shedding.
//   After a pause the listener retries accept by itself: edge-triggered readiness would
//   not announce a backlog that was already pending. Nothing ever spins on an error.
//   Each pause logs one warning (pollux/core/log.hpp) naming the listener's address,
//   the pause and the error, e.g. `accepting on 127.0.0.1:9000 paused for 100 ms: Too
//   many open files (shed 12 pending connections)`; at most one line per second per
//   listener, the next one counting the pauses it did not report.
//
// Stopping a Unix listener with `listen.unlink_on_stop` (default) removes its socket
// file first, while the socket is still ours (nobody else can have bound the path).
//
// Lifetime and threads. `start` binds and registers before it returns (bind errors such
// as EADDRINUSE come back from it) and attaches the acceptor to the pool, whose stop()
// stops it first. `stop()` (idempotent; also the destructor) deregisters and closes
// every listener on its own reactor and waits for that, so the port is free when it
// returns; streams accepted but not yet delivered are closed. Call `start`, `stop` and
// the destructor from outside the pool's loop threads -- in single mode the acceptor's
// own reactor thread is fine too. Before pool->start(), call them on the thread that
// created the pool. Destroy the Acceptor before its pool, and don't stop the pool's
// reactors behind the pool's back while an Acceptor runs on them. `on_connection` runs
// on several reactor threads at once (each call on the stream's own reactor), so it
// must be safe to call concurrently; it must not stop or destroy the Acceptor.
// `stats()` and `local_addr()` are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/net/unix_listener.hpp"
#include "pollux/net/unix_socket_addr.hpp"
#include "pollux/net/unix_stream.hpp"
#include "pollux/reactor/balancer.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::reactor {

enum class AcceptMode {
    single,     // one listener on options.acceptor_reactor, hand-off to the others
    reuseport,  // one SO_REUSEPORT listener per reactor, no hand-off (TCP only)
};

// TCP listening options.
struct TcpListenOptions {
    // listen(2) backlog (capped by net.core.somaxconn).
    int backlog = net::TcpListener::kDefaultBacklog;
    // TCP_NODELAY on every accepted stream (a failure to set it is ignored: such a
    // stream is already broken and its owner will see the error on first use).
    bool nodelay = true;
};

// Unix listening options.
struct UnixListenOptions {
    // File mode, stale-file policy and backlog (unix_socket_addr.hpp).
    net::UnixBindOptions bind{};
    // stop() unlinks the socket file of a pathname address.
    bool unlink_on_stop = true;
};

// What the acceptor needs to know about a listener type (acceptor.cpp defines both).
template <class Listener>
struct ListenerTraits;

template <>
struct ListenerTraits<net::TcpListener> {
    using Stream = net::TcpStream;
    using Addr = net::SocketAddr;
    using ListenOptions = TcpListenOptions;
    static constexpr bool kReusePort = true;
};

template <>
struct ListenerTraits<net::UnixListener> {
    using Stream = net::UnixStream;
    using Addr = net::UnixSocketAddr;
    using ListenOptions = UnixListenOptions;
    static constexpr bool kReusePort = false;
};

template <class Listener>
struct BasicAcceptorOptions {
    // reuseport needs ListenerTraits<Listener>::kReusePort (std::errc::invalid_argument).
    AcceptMode mode = AcceptMode::single;
    // single mode: the reactor whose loop runs accept4.
    std::size_t acceptor_reactor = 0;
    // single mode: the strategy; null means RoundRobin. Used on the acceptor thread only.
    std::shared_ptr<Balancer> balancer{};
    typename ListenerTraits<Listener>::ListenOptions listen{};
    // How long a listener stops accepting after EMFILE/ENFILE/ENOBUFS/ENOMEM.
    std::chrono::milliseconds resource_pause{100};
    // Connections accepted per readable event before the listener yields (>= 1).
    std::size_t accept_budget = 64;
};

// Monotonic counters, relaxed; safe to read from any thread.
struct AcceptorStats {
    std::uint64_t accepted = 0;           // streams handed to a reactor
    std::uint64_t connection_errors = 0;  // per-connection accept errors skipped
    std::uint64_t emfile_events = 0;      // EMFILE/ENFILE seen (each sheds and pauses)
    std::uint64_t pauses = 0;             // pauses for any resource or unexpected error
    std::uint64_t shed = 0;               // connections accepted and closed by the fd trick
    std::uint64_t dropped = 0;            // accepted, but closed undelivered (stop)
    std::uint64_t budget_yields = 0;      // events that ran out of accept_budget
};

template <class Listener>
class BasicAcceptor final : private StoppableAcceptor {
public:
    using Traits = ListenerTraits<Listener>;
    using Stream = typename Traits::Stream;
    using Addr = typename Traits::Addr;
    using Options = BasicAcceptorOptions<Listener>;
    // Receives each accepted connection on the loop thread of `reactor`, its new owner.
    using OnConnection = std::function<void(Reactor& reactor, Stream stream, Addr peer)>;

    // Binds `addr` (TCP port 0 picks a free port, shared by all listeners in reuseport
    // mode), opens the reserve fds, registers the listener(s) and attaches to `pool`.
    // Errors: the bind/listen/open/register error as is (EADDRINUSE, ...);
    // std::errc::invalid_argument for an acceptor_reactor out of range, a null
    // on_connection, or reuseport on a listener without it; std::errc::
    // operation_canceled if the pool is stopping/stopped; std::errc::
    // operation_not_permitted before pool->start() from another thread than the
    // pool's creator.
    static Result<std::unique_ptr<BasicAcceptor>> start(ReactorPool& pool, const Addr& addr,
                                                        OnConnection on_connection, Options options = {});

    BasicAcceptor(const BasicAcceptor&) = delete;
    BasicAcceptor& operator=(const BasicAcceptor&) = delete;
    // Detaches from the pool and stops.
    ~BasicAcceptor();

    // Stops accepting (see "Lifetime and threads"). Idempotent.
    void stop() override;

    // The bound address (with the port the kernel chose for TCP port 0).
    const Addr& local_addr() const noexcept { return local_addr_; }
    AcceptorStats stats() const noexcept;
    std::uint64_t emfile_events() const noexcept;

private:
    struct Listening;  // one listening socket + its EventHandler (acceptor.cpp)
    struct Shared;     // hand-off queues, on_connection, counters; kept alive by drain tasks

    BasicAcceptor(ReactorPool& pool, Options options, std::shared_ptr<Shared> shared);

    Result<void> open_listeners(const Addr& addr);
    Result<void> register_listeners();
    void close_listener(Listening& l) noexcept;

    // Loop thread of `l`.
    void accept_ready(Listening& l);
    void deliver(Listening& l, Stream stream, const Addr& peer);
    std::size_t shed(Listening& l);
    void pause(Listening& l, const std::error_code& why, std::size_t shed_count);

    ReactorPool& pool_;
    const Options options_;
    std::shared_ptr<Shared> shared_;
    std::vector<std::unique_ptr<Listening>> listeners_;
    Addr local_addr_;
    std::mutex mutex_;     // serialises start's registration with stop
    bool stopped_ = false; // guarded by mutex_
};

extern template class BasicAcceptor<net::TcpListener>;
extern template class BasicAcceptor<net::UnixListener>;

using Acceptor = BasicAcceptor<net::TcpListener>;
using AcceptorOptions = BasicAcceptorOptions<net::TcpListener>;
using OnConnection = Acceptor::OnConnection;
using UnixAcceptor = BasicAcceptor<net::UnixListener>;
using UnixAcceptorOptions = BasicAcceptorOptions<net::UnixListener>;

}  // namespace pollux::reactor
