// pollux/reactor/reactor_pool.hpp — public.
//
// A `ReactorPool` is N Reactors, one loop thread each ("one loop per thread", muduo's
// EventLoopThreadPool), plus what they share: the live-connection counts the balancers
// read (balancer.hpp), the Acceptors attached to the pool (acceptor.hpp), and the stop
// hooks that tell connection owners to wind down.
//
//     auto pool = ReactorPool::create({.threads = 4}).value();
//     pool->on_stop([](Reactor& r, ReactorPool::Clock::time_point deadline) {
//         /* on r's thread: ask r's connections to close by `deadline` */
//     });
//     auto acceptor = Acceptor::start(*pool, addr, on_connection).value();
//     pool->start();
//     ...
//     pool->stop(2s);        // graceful; the destructor does the same with the default
//
// Threads. `create` builds every reactor on the calling thread; until `start()` that
// thread counts as each reactor's loop thread (reactor.hpp), so set-up code may call
// `_in_loop` methods, and `run_and_wait` runs inline. `start`, `stop`, `post`,
// `post_all`, `run_and_wait`, `on_stop`, `current` and the connection accounting are
// safe from any thread; `stop` and the destructor must not run on one of the pool's
// own loop threads (they join them).
//
// Graceful stop. `stop(grace)` sets deadline = now + grace and then:
//
//     1. stops every attached Acceptor: each listener is deregistered and closed on
//        its own reactor (so the port is free when stop returns); streams accepted
//        but not yet delivered are closed, never handed to on_connection;
//     2. (only if the pool was started) posts one task per reactor that runs every
//        `on_stop` hook there, on that reactor's thread, with the deadline; then, if
//        any hook is registered, blocks on a condition variable until every reactor
//        is drained -- its live connection count (`connections(i)`) is 0 -- or the
//        deadline passes. `connection_closed(i)` and the pool's leases wake the wait
//        when they bring reactor i's count to 0; a count removed behind the pool's back
//        (`counts().remove`, e.g. the Acceptor dropping an undelivered stream) is not
//        signalled and is seen at the next wake-up or re-check (every 100 ms);
//     3. stops every reactor (each first runs the tasks already posted to it, see
//        Reactor::stop) and joins the threads.
//
// "Drained" relies on the connection owners reporting closes through
// `connection_closed(i)` or a `ConnectionLease`; without hooks nobody was asked to
// close anything and step 2 does not wait. Connections still open after step 3 belong
// to whoever holds them (their reactors no longer run: close them from any thread).
// A stopped pool cannot be restarted.
//
// Connection accounting. Every stream an Acceptor hands to reactor i counts as one live
// connection of i (ConnectionCounts::add). The owner of the connection reports its close
// exactly once: `connection_closed(i)`, or hold `adopt_connection(i)`'s lease and drop
// it. LeastConnections balancing and the drain wait in stop() read these counts.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/reactor/balancer.hpp"
#include "pollux/reactor/event_handler.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::reactor {

template <class Listener>
class BasicAcceptor;

// What the pool knows of an attached acceptor (acceptor.hpp): that it can be stopped.
class StoppableAcceptor {
public:
    virtual void stop() = 0;

protected:
    StoppableAcceptor() = default;
    ~StoppableAcceptor() = default;
    StoppableAcceptor(const StoppableAcceptor&) = default;
    StoppableAcceptor& operator=(const StoppableAcceptor&) = default;
};

struct ReactorPoolOptions {
    // Number of reactors. nullopt: std::thread::hardware_concurrency() (1 when unknown).
    // An explicit 0 is rejected by create() with std::errc::invalid_argument.
    std::optional<std::size_t> threads{};
    // Pin reactor i to CPU i % hardware_concurrency(). Ignored when `cpus` is set.
    bool pin_threads = false;
    // Pin reactor i to CPU cpus[i % cpus.size()]. A failed pin is not fatal (see
    // Reactor::affinity_error).
    std::vector<int> cpus{};
    // Settings for every reactor; `index` and `cpu` are filled in per reactor.
    ReactorOptions reactor{};
};

class ReactorPool;

// Moves a connection's count with it: decrements ConnectionCounts[i] when dropped or
// reset(). Get one from ReactorPool::adopt_connection(i), store it with the connection;
// such a lease reports through ReactorPool::connection_closed (it wakes stop()'s drain
// wait). A lease made directly on a ConnectionCounts only decrements the counter.
class ConnectionLease {
public:
    ConnectionLease() noexcept = default;
    ConnectionLease(ConnectionCounts& counts, std::size_t index) noexcept : counts_(&counts), index_(index) {}
    ConnectionLease(ConnectionLease&& other) noexcept
        : counts_(std::exchange(other.counts_, nullptr)), pool_(std::exchange(other.pool_, nullptr)),
          index_(other.index_) {}
    ConnectionLease& operator=(ConnectionLease&& other) noexcept {
        if (this != &other) {
            reset();
            counts_ = std::exchange(other.counts_, nullptr);
            pool_ = std::exchange(other.pool_, nullptr);
            index_ = other.index_;
        }
        return *this;
    }
    ConnectionLease(const ConnectionLease&) = delete;
    ConnectionLease& operator=(const ConnectionLease&) = delete;
    ~ConnectionLease() { reset(); }

    // Reports the close now (idempotent).
    inline void reset() noexcept;
    bool active() const noexcept { return counts_ != nullptr; }
    std::size_t index() const noexcept { return index_; }

private:
    friend class ReactorPool;
    ConnectionLease(ConnectionCounts& counts, ReactorPool& pool, std::size_t index) noexcept
        : counts_(&counts), pool_(&pool), index_(index) {}

    ConnectionCounts* counts_ = nullptr;  // non-null while active
    ReactorPool* pool_ = nullptr;         // set for leases from adopt_connection
    std::size_t index_ = 0;
};

class ReactorPool {
public:
    using Clock = std::chrono::steady_clock;
    // Runs during stop() on each reactor's thread; see "Graceful stop".
    using StopHook = std::function<void(Reactor&, Clock::time_point deadline)>;

    static constexpr std::chrono::milliseconds kDefaultStopGrace{5000};

    // Creates the reactors (not started). std::errc::invalid_argument for threads == 0;
    // otherwise the first error of Reactor::create.
    static Result<std::unique_ptr<ReactorPool>> create(ReactorPoolOptions options = {});

    ReactorPool(const ReactorPool&) = delete;
    ReactorPool& operator=(const ReactorPool&) = delete;
    // stop(kDefaultStopGrace). Must not run on one of the pool's loop threads.
    ~ReactorPool();

    // Starts every loop thread. If one fails, the ones started are stopped and joined
    // and its error is returned. std::errc::operation_not_permitted if the pool was
    // already started or stopped.
    Result<void> start();
    // Graceful stop, then join (see "Graceful stop"); idempotent, and a second caller
    // waits for the first to finish. Returns the first error a loop ended with, or
    // std::errc::resource_deadlock_would_occur when called on a pool thread.
    Result<void> stop(std::chrono::milliseconds grace = kDefaultStopGrace);
    // True between a successful start() and the beginning of stop().
    bool is_running() const noexcept { return state_.load(std::memory_order_acquire) == State::running; }

    std::size_t size() const noexcept { return reactors_.size(); }
    // Reactor `i` (< size()).
    Reactor& reactor(std::size_t i) noexcept { return *reactors_[i]; }
    const Reactor& reactor(std::size_t i) const noexcept { return *reactors_[i]; }
    // The pool's reactor whose loop runs on the calling thread, or nullptr.
    Reactor* current() const noexcept;

    // Queues `task` on reactor i (Reactor::post). False for i >= size() or once that
    // loop has exited.
    bool post(std::size_t i, Task task);
    // Posts a copy of `f` to every reactor; returns how many accepted it.
    template <class F>
        requires std::copy_constructible<F> && std::invocable<F&>
    std::size_t post_all(const F& f) {
        std::size_t posted = 0;
        for (auto& r : reactors_) posted += r->post(Task(f)) ? 1 : 0;
        return posted;
    }
    // Runs `fn` on reactor i's loop thread and waits for it: inline when called on that
    // thread (before start(): the creating thread; after stop(): the thread that joined
    // the loops, see Reactor::join), otherwise by post. Errors:
    // std::errc::invalid_argument for a bad index; std::errc::operation_not_permitted
    // before start() from another thread (nothing would run it); std::errc::
    // operation_canceled when the loop exits without running it (a post that races the
    // exit is either refused or destroyed unrun, and both end the wait). Do not wait
    // on a reactor that is itself waiting on you.
    Result<void> run_and_wait(std::size_t i, std::move_only_function<void()> fn);

    // Registers a stop hook; hooks run in registration order. Hooks registered after
    // stop() began are ignored.
    void on_stop(StopHook hook);

    // ---- Connection accounting (any thread) ----------------------------------------
    ConnectionCounts& counts() noexcept { return counts_; }
    const ConnectionCounts& counts() const noexcept { return counts_; }
    std::size_t connections(std::size_t i) const noexcept { return counts_.get(i); }
    // Reports that one connection handed to reactor i has closed. While stop() waits
    // for the drain, the report that brings reactor i to 0 wakes it.
    void connection_closed(std::size_t i) noexcept {
        counts_.remove(i);
        if (counts_.get(i) != 0) return;  // only the close that empties a reactor can drain
        // A read-modify-write on draining_, ordered with the waiter's exchange: either it
        // reads 1 (the waiter is there: wake it), or it comes first and the waiter's
        // acquire makes this decrement visible to its check. No lost wake-up.
        if (draining_.fetch_or(0, std::memory_order_acq_rel) != 0) wake_drain_waiter();
    }
    // Wraps that report in RAII: the returned lease calls connection_closed(i) when it
    // is dropped. Call once per handed-off connection, instead of connection_closed.
    ConnectionLease adopt_connection(std::size_t i) noexcept { return ConnectionLease(counts_, *this, i); }

private:
    template <class Listener>
    friend class BasicAcceptor;
    enum class State : int { created, running, stopping, stopped };

    explicit ReactorPool(std::vector<std::unique_ptr<Reactor>> reactors);

    // Acceptor registration (acceptor.hpp). attach fails with operation_canceled once
    // stop() has begun.
    Result<void> attach(StoppableAcceptor& acceptor);
    void detach(StoppableAcceptor& acceptor) noexcept;

    void stop_acceptors();
    void run_stop_hooks(Clock::time_point deadline);
    void wait_for_drain(Clock::time_point deadline);
    void wake_drain_waiter() noexcept;

    std::vector<std::unique_ptr<Reactor>> reactors_;
    ConnectionCounts counts_;                  // shared: atomics
    std::atomic<State> state_{State::created};
    std::atomic<bool> started_{false};         // start() succeeded once (never reset)
    std::mutex stop_mutex_;                    // serialises start/stop
    std::mutex hooks_mutex_;                   // guards hooks_
    std::vector<StopHook> hooks_;
    std::mutex acceptors_mutex_;               // guards acceptors_ and the move to stopping
    std::vector<StoppableAcceptor*> acceptors_;
    Result<void> stop_result_;                 // guarded by stop_mutex_
    // The drain wait of stop(): the stopping thread sleeps on drain_cv_; the close that
    // empties a reactor notifies it while draining_ is 1. Other closes cost nothing.
    std::atomic<std::uint32_t> draining_{0};   // 0/1, set by the stopping thread
    std::mutex drain_mutex_;
    std::condition_variable drain_cv_;
};

inline void ConnectionLease::reset() noexcept {
    if (counts_ == nullptr) return;
    ConnectionCounts* counts = std::exchange(counts_, nullptr);
    if (ReactorPool* pool = std::exchange(pool_, nullptr)) {
        pool->connection_closed(index_);
    } else {
        counts->remove(index_);
    }
}

}  // namespace pollux::reactor
