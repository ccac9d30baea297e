// pollux/reactor/reactor.hpp — public.
//
// A `Reactor` is one event loop on one thread: it owns a pollux::Poll, a Waker, a
// cross-thread task queue, a registration table and a TimerWheel. Each iteration (one
// round, see Fairness):
//
//     poll(timeout) -> dispatch events -> requeued registrations -> deferred
//          ^                                                            |
//          +-- deferred <- run posted tasks (budgeted) <- deferred <- fire timers
//
//     auto reactor = Reactor::create().value();
//     reactor->start();                                  // spawns the loop thread
//     reactor->post([&] {                                // from any thread
//         auto id = reactor->register_in_loop(stream, Interest::READABLE, handler);
//         reactor->run_after_in_loop(5s, [&] { ... });
//     });
//     reactor->stop();                                   // from any thread
//     reactor->join();
//
// Thread affinity. Everything ending in `_in_loop` must run on the loop thread (from a
// handler, a timer, a posted or deferred task); debug builds assert it. Before the loop
// starts, the thread that called `create` counts as the loop thread, so a reactor can be
// set up before `start()`. `post`, `stop`, `stats`, `phase`, `is_running`,
// `is_in_loop_thread` and the Producer are safe from any thread. `Reactor::current()` is the reactor whose loop runs on the
// calling thread (nullptr elsewhere).
//
// Registrations. `register_in_loop(src, interest, handler)` takes a slot in the
// RegistrationTable and registers `src` with the Poll under the slot's generation-
// checked token (registration_table.hpp). Dispatch looks each event's token up and
// drops it when the generation no longer matches, so:
//   * after `deregister_in_loop(src, id)` returns, `handler` gets no further call, even
//     for events already fetched in the current batch;
//   * a slot freed and reused in the same batch (the kernel even reusing the fd number)
//     never receives the previous owner's pending event.
// Deregister before closing a source (mio's rule). To destroy a handler or a source from
// inside a callback, deregister it and hand the destruction to `defer_in_loop`, which
// runs once the current batch has been dispatched. The Reactor never owns sources or
// handlers; keep both alive while registered. Do not register sources with your own
// tokens through `registry()`: the token space belongs to the table.
//
// Posting. `post(task)` from another thread enqueues on a moodycamel::ConcurrentQueue
// and wakes the loop through the Waker, coalesced: an atomic "notified" flag is set by
// each post, and only the post that turns it from false to true writes the eventfd. The
// loop clears the flag *before* it drains the queue, so a task enqueued during a drain
// either is seen by that drain or flips the flag and wakes the next one; nothing is
// lost, and at most one eventfd write happens per drained batch (stats: wakes_written
// <= batches_drained). A post from the loop thread itself goes to a loop-local list
// instead (no atomics, no eventfd write).
// Order: tasks from one thread run in the order they were posted (per-producer FIFO);
// tasks from different threads are not ordered (moodycamel is not linearizable). A
// `Producer` (make_producer) holds an explicit producer token: the same FIFO guarantee,
// cheaper per post; use one per hot posting thread. A post does not allocate when the
// task's capture fits in 24 bytes (see event_handler.hpp) and the queue has room: it
// holds blocks of 256 tasks (4 pre-allocated), allocates a block only when it grows past
// its high-water mark, and recycles blocks afterwards.
//
// Fairness: rounds. One iteration is one round:
//
//     poll -> events -> requeued registrations -> timers -> posted tasks -> poll ...
//
//   * A handler that stops short of WouldBlock (its budget ran out) calls
//     `requeue_in_loop(id)`; the registration gets a readable event in the *next*
//     round, after the events that poll returned. So every source that was ready
//     gets its turn before a busy one continues, and the poller runs between turns.
//   * A post from the loop thread goes to a loop-local list. The task phase first runs
//     the local posts made before it began (by handlers and timers of this round, or
//     by tasks of the previous one), then the cross-thread queue; what a task posts
//     meanwhile waits for the next round. So a task that re-posts itself runs once per
//     round, never in a loop inside one drain.
//   * At most `task_budget` cross-thread tasks and `timer_budget` timers run per round.
//   While any of these is pending the poll does not block (zero timeout).
//
// Timers. `run_after_in_loop`, `run_every_in_loop`, `cancel_timer_in_loop` drive the
// reactor's TimerWheel (timer_wheel.hpp: 1 ms ticks, never early, FIFO per tick). From
// another thread, post a task that calls them. The poll timeout is the time to the next
// timer (blocking when there is none). Delays saturate: `run_after_in_loop(
// milliseconds::max(), ...)` is a timer that never comes due, not an overflow.
//
// Lifecycle. `start()` spawns the loop thread and returns once the loop owns it; `run()`
// runs the loop on the calling thread instead. A reactor runs once. `stop()` (any
// thread, idempotent) lets the loop finish its current round, then it exits:
//   1. it refuses further cross-thread posts (`post` returns false from then on) and
//      waits for the posts already under way to finish enqueuing;
//   2. it runs every task accepted so far, plus deferred work, plus what those tasks
//      post from the loop thread -- the latter for at most kFinalRounds rounds, so a
//      task that keeps re-posting itself cannot hold the exit; what is left then is
//      destroyed unrun, on the loop thread (stats: tasks_dropped);
//   3. pending timers and requeued registrations are dropped without running.
// So a `post` that returned true runs, or (a self-renewing chain cut by step 2) is
// destroyed before the loop exits; never neither. `join()` waits for the thread
// `start()` spawned. The destructor stops and joins.
//
// Exceptions. One policy for every callback the reactor runs -- handlers, tasks,
// deferred work, timers: the calls are noexcept, so an exception escaping one calls
// std::terminate (the loop's state would otherwise be unknown). Catch inside.
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "pollux/core/events.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/poll.hpp"
#include "pollux/core/registry.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/source.hpp"
#include "pollux/core/waker.hpp"
#include "pollux/reactor/event_handler.hpp"
#include "pollux/reactor/registration_table.hpp"
#include "pollux/reactor/timer_wheel.hpp"

namespace pollux::reactor {

class TaskQueue;  // internal: the moodycamel queue plus the notified flag

struct ReactorOptions {
    // Id within a pool; the loop thread is named "pollux-r<index>".
    std::size_t index = 0;
    // Pin the loop thread to this CPU (pthread_setaffinity_np). Failure is not fatal:
    // the loop runs unpinned and `affinity_error()` says why.
    std::optional<int> cpu;
    // Events fetched per poll.
    std::size_t event_capacity = 256;
    // Cross-thread tasks run per round before I/O is polled again.
    std::size_t task_budget = 1024;
    // Timers fired per iteration before I/O is polled again.
    std::size_t timer_budget = 256;
    // Slots of the TimerWheel (1 ms each); see timer_wheel.hpp.
    std::size_t timer_slots = TimerWheel::kDefaultSlots;
};

// Counters, each monotonic. Written by the loop (and by posters for wakes_written) with
// relaxed atomics; a snapshot from another thread is not one consistent instant.
struct ReactorStats {
    std::uint64_t loop_iterations = 0;
    std::uint64_t events_dispatched = 0;     // events delivered to a handler
    std::uint64_t stale_events_dropped = 0;  // events whose generation no longer matched
    std::uint64_t tasks_run = 0;             // posted tasks run
    std::uint64_t batches_drained = 0;       // drains that cleared the notified flag
    std::uint64_t wakes_written = 0;         // eventfd writes made by post/stop
    std::uint64_t timers_fired = 0;
    std::uint64_t requeued = 0;              // requeue_in_loop turns delivered
    std::uint64_t tasks_dropped = 0;         // destroyed unrun at exit (see Lifecycle)
};

class Reactor {
public:
    using Clock = TimerWheel::Clock;

    // Creates the Poll, the Waker, the queue and the timer wheel. The calling thread
    // is the loop thread until start()/run().
    static Result<std::unique_ptr<Reactor>> create(ReactorOptions options = {});

    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;
    // Stops and joins (see Lifecycle). Must not run on the loop thread.
    ~Reactor();

    // ---- Lifecycle (any thread) -----------------------------------------------------
    // Spawns the loop thread; returns once it runs. `std::errc::operation_not_permitted`
    // if the reactor was already started or run; a thread-creation failure as is.
    Result<void> start();
    // Runs the loop on the calling thread until stop(). Returns the error that ended
    // the loop (only a failing epoll_wait; EINTR is retried), or
    // `std::errc::operation_not_permitted` if already started or run.
    Result<void> run();
    // Asks the loop to exit after its current iteration and the remaining tasks.
    // Idempotent; safe from any thread, including the loop thread.
    void stop();
    // Waits for the loop thread spawned by start() and returns run()'s result. No-op
    // (success) without start(). Never call it from the loop thread. Afterwards the
    // joining thread counts as the loop thread, so it may deregister and destroy what
    // is left (`*_in_loop` calls) before destroying the Reactor. One joiner at a time.
    Result<void> join();

    // Where the loop is. exiting: stop() was seen and the loop is finishing its last
    // tasks (cross-thread posts are refused from here on); exited: run() returned.
    enum class Phase { created, running, exiting, exited };
    Phase phase() const noexcept {
        switch (state_.load(std::memory_order_acquire)) {
            case State::created: return Phase::created;
            case State::running: return Phase::running;
            case State::closing: return Phase::exiting;
            case State::finished: break;
        }
        return Phase::exited;
    }
    // True from start()/run() until the loop begins to exit (then posts are refused).
    bool is_running() const noexcept { return phase() == Phase::running; }

    bool is_in_loop_thread() const noexcept {
        return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
    }
    // The reactor whose loop runs on this thread, or nullptr.
    static Reactor* current() noexcept;

    std::size_t index() const noexcept { return options_.index; }
    const ReactorOptions& options() const noexcept { return options_; }
    // Why pinning to options().cpu failed (empty if it succeeded or was not asked).
    // Meaningful once start() returned / run() began.
    std::error_code affinity_error() const noexcept;
    ReactorStats stats() const noexcept;
    // Tasks posted from other threads and not yet run, approximately (moodycamel's
    // size_approx: exact when no thread is posting or draining at the moment). Any
    // thread; for metrics.
    std::size_t posted_depth() const noexcept;

    // ---- Cross-thread work (any thread) ----------------------------------------------
    // Queues `task` for the loop (see Posting). False once the loop has begun to exit,
    // or if the queue could not allocate; the task is then destroyed here, unrun. True:
    // the task will run (or, see Lifecycle, be destroyed unrun on the loop thread).
    bool post(Task task);

    // An explicit moodycamel producer: per-producer FIFO, cheaper than post(). Use it
    // from one thread at a time; it must not outlive its Reactor.
    class Producer {
    public:
        Producer(Producer&&) noexcept;
        Producer& operator=(Producer&&) noexcept;
        ~Producer();
        bool post(Task task);

    private:
        friend class Reactor;
        struct State;
        explicit Producer(Reactor& reactor);
        Reactor* reactor_;
        std::unique_ptr<State> state_;
    };
    Producer make_producer();

    // ---- Registrations (loop thread) -------------------------------------------------
    // Registers `src` for `interest`; events go to `handler.on_event`. On failure the
    // slot is released and the Registry's error returned.
    template <Source S>
    Result<RegistrationId> register_in_loop(S& src, Interest interest, EventHandler& handler) {
        assert(is_in_loop_thread());
        const RegistrationId id = table_.insert(handler);
        if (auto r = poll_.registry().register_source(src, to_token(id), interest); !r) {
            table_.remove(id);
            return std::unexpected(r.error());
        }
        return id;
    }
    // Changes the interest of a live registration. `Errc::not_registered` for a stale id.
    template <Source S>
    Result<void> reregister_in_loop(S& src, RegistrationId id, Interest interest) {
        assert(is_in_loop_thread());
        if (!table_.contains(id)) return error(Errc::not_registered);
        return poll_.registry().reregister(src, to_token(id), interest);
    }
    // Deregisters `src` from the Poll and frees the slot (its generation moves on), so
    // events of this batch still naming `id` are dropped. The slot is freed even when
    // the Poll's deregister fails (e.g. EBADF), whose error is then returned.
    // `Errc::not_registered` for a stale id (nothing happens).
    template <Source S>
    Result<void> deregister_in_loop(S& src, RegistrationId id) {
        assert(is_in_loop_thread());
        if (!table_.contains(id)) return error(Errc::not_registered);
        auto r = poll_.registry().deregister(src);
        table_.remove(id);
        return r;
    }
    // Points a live registration at another handler (events from now on go there).
    // False for a stale id.
    bool replace_handler_in_loop(RegistrationId id, EventHandler& handler) noexcept {
        assert(is_in_loop_thread());
        return table_.replace(id, handler);
    }
    bool is_registered_in_loop(RegistrationId id) const noexcept {
        assert(is_in_loop_thread());
        return table_.contains(id);
    }
    std::size_t registrations_in_loop() const noexcept {
        assert(is_in_loop_thread());
        return table_.size();
    }

    // Delivers a readable event to the registration `id` in the next round, after the
    // events of the next poll (see Fairness). For a handler whose budget ran out before
    // WouldBlock: edge-triggered epoll would not report the rest again. Dropped if the
    // registration is gone by then (generation check), so it is safe to call and then
    // deregister. At most one requeue is pending per registration: a call while one is
    // pending does nothing (false), so a source gets at most one requeued turn per
    // round. No allocation once the list has grown.
    bool requeue_in_loop(RegistrationId id) {
        assert(is_in_loop_thread());
        if (!table_.mark_requeued(id)) return false;
        requeued_.push_back(id);
        return true;
    }

    // Runs `task` after the current batch's dispatch (or, outside dispatch, at the end
    // of the current loop phase), before the loop polls again. For deferred destruction.
    void defer_in_loop(Task task);

    // ---- Timers (loop thread) ---------------------------------------------------------
    TimerId run_at_in_loop(Clock::time_point deadline, Task task);
    TimerId run_after_in_loop(std::chrono::milliseconds delay, Task task);
    TimerId run_every_in_loop(std::chrono::milliseconds period, Task task);
    // False if `id` names no pending timer (fired, cancelled, or never started).
    bool cancel_timer_in_loop(TimerId id) noexcept;
    // Pending timers.
    std::size_t timers_in_loop() const noexcept;

    // The Poll's registry (thread-safe), e.g. for try_clone(). See "Registrations".
    const Registry& registry() const noexcept { return poll_.registry(); }

private:
    enum class State : int { created, running, closing, finished };
    // Rounds of loop-thread posts the exit still runs (see Lifecycle).
    static constexpr std::size_t kFinalRounds = 64;

    Reactor(ReactorOptions options, Poll poll, Waker waker, std::unique_ptr<TaskQueue> tasks);

    Result<void> loop();
    std::optional<std::chrono::nanoseconds> poll_timeout(Clock::time_point now);
    void dispatch() noexcept;
    void dispatch_requeued() noexcept;
    void run_deferred() noexcept;
    bool run_tasks() noexcept;  // one round's task phase; true if any ran
    std::size_t run_local_tasks() noexcept;
    void finish_loop() noexcept;
    void notify();  // the post side of the wake-coalescing protocol
    bool push_remote(Task&& task, void* token);
    Result<void> run_on_this_thread();
    void pin_to_cpu();
    void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    const ReactorOptions options_;
    Poll poll_;
    Waker waker_;
    Events events_;
    RegistrationTable table_;                  // loop thread
    TimerWheel timers_;                        // loop thread
    std::vector<Task> deferred_;               // loop thread
    std::vector<Task> deferred_running_;       // loop thread
    std::vector<Task> local_tasks_;            // loop thread: posts from the loop itself
    std::vector<Task> local_running_;          // loop thread
    std::vector<RegistrationId> requeued_;     // loop thread: for the next round
    std::vector<RegistrationId> requeue_round_;  // loop thread: this round's
    std::unique_ptr<TaskQueue> tasks_;         // shared: producers push, loop drains
    bool tasks_left_ = false;                  // loop thread: last drain hit the budget
    bool in_timers_ = false;                   // loop thread: inside timers_.advance

    std::atomic<std::thread::id> owner_;       // the loop thread (creator before start)
    std::atomic<State> state_{State::created};
    // Cross-thread posts between their state check and the end of their enqueue. The
    // exit (closing) waits for 0, so no accepted post lands after the final drain.
    std::atomic<std::uint32_t> posters_{0};
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> loop_started_{false};   // start() waits for it
    std::atomic<int> affinity_errno_{0};
    std::thread thread_;                       // spawned by start(); joined by join()
    Result<void> thread_result_;               // written by the thread, read after join

    // Stats (relaxed). wakes_written is bumped by any poster; the rest by the loop.
    std::atomic<std::uint64_t> loop_iterations_{0};
    std::atomic<std::uint64_t> events_dispatched_{0};
    std::atomic<std::uint64_t> stale_events_dropped_{0};
    std::atomic<std::uint64_t> tasks_run_{0};
    std::atomic<std::uint64_t> batches_drained_{0};
    std::atomic<std::uint64_t> wakes_written_{0};
    std::atomic<std::uint64_t> timers_fired_{0};
    std::atomic<std::uint64_t> requeued_events_{0};
    std::atomic<std::uint64_t> tasks_dropped_{0};
};

}  // namespace pollux::reactor
