// reactor/src/reactor.cpp
// moodycamel uses std::atomic_thread_fence, which GCC's TSan does not model and warns
// about (-Wtsan, an error under -Werror). The pragma must precede the first include of
// <atomic>, because the diagnostic is located in libstdc++'s atomic_base.h.
#if defined(__GNUC__) && !defined(__clang__) && defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "pollux/reactor/reactor.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "task_queue.hpp"

namespace pollux::reactor {

namespace {

// The reactor whose loop runs on this thread.
thread_local Reactor* t_current = nullptr;

// now + delay without overflow (milliseconds::max() in nanoseconds would wrap).
Reactor::Clock::time_point saturating_add(Reactor::Clock::time_point now, std::chrono::milliseconds delay) noexcept {
    if (delay > TimerWheel::kMaxDelay) delay = TimerWheel::kMaxDelay;
    return now + delay;
}

// The Waker's token: an index the table never hands out.
constexpr Token kWakerToken = to_token(RegistrationId{kReservedIndex, 0});

}  // namespace

// ---- Creation and lifecycle ----------------------------------------------------------

Result<std::unique_ptr<Reactor>> Reactor::create(ReactorOptions options) {
    options.event_capacity = std::max<std::size_t>(options.event_capacity, 1);
    options.task_budget = std::max<std::size_t>(options.task_budget, 1);
    options.timer_budget = std::max<std::size_t>(options.timer_budget, 1);
    auto poll = Poll::create();
    if (!poll) return std::unexpected(poll.error());
    auto waker = Waker::create(poll->registry(), kWakerToken);
    if (!waker) return std::unexpected(waker.error());
    auto tasks = std::make_unique<TaskQueue>();
    return std::unique_ptr<Reactor>(new Reactor(options, std::move(*poll), std::move(*waker), std::move(tasks)));
}

Reactor::Reactor(ReactorOptions options, Poll poll, Waker waker, std::unique_ptr<TaskQueue> tasks)
    : options_(options),
      poll_(std::move(poll)),
      waker_(std::move(waker)),
      events_(Events::with_capacity(options.event_capacity)),
      timers_(Clock::now(), options.timer_slots),
      tasks_(std::move(tasks)),
      owner_(std::this_thread::get_id()) {}

Reactor::~Reactor() {
    stop();
    if (thread_.joinable()) {
        assert(thread_.get_id() != std::this_thread::get_id() && "~Reactor on its own loop thread");
        thread_.join();
    }
}

Result<void> Reactor::start() {
    State expected = State::created;
    if (!state_.compare_exchange_strong(expected, State::running, std::memory_order_acq_rel))
        return error(std::errc::operation_not_permitted);
    try {
        thread_ = std::thread([this] {
            char name[16];
            std::snprintf(name, sizeof name, "pollux-r%zu", options_.index);
            ::pthread_setname_np(::pthread_self(), name);
            thread_result_ = run_on_this_thread();
        });
    } catch (const std::system_error& e) {
        state_.store(State::created, std::memory_order_release);
        return std::unexpected(e.code());
    }
    loop_started_.wait(false, std::memory_order_acquire);
    return {};
}

Result<void> Reactor::run() {
    State expected = State::created;
    if (!state_.compare_exchange_strong(expected, State::running, std::memory_order_acq_rel))
        return error(std::errc::operation_not_permitted);
    return run_on_this_thread();
}

Result<void> Reactor::run_on_this_thread() {
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    Reactor* const previous = std::exchange(t_current, this);
    pin_to_cpu();
    loop_started_.store(true, std::memory_order_release);
    loop_started_.notify_all();

    auto result = loop();

    t_current = previous;
    state_.store(State::finished, std::memory_order_release);
    return result;
}

void Reactor::stop() {
    stop_requested_.store(true, std::memory_order_release);
    notify();
}

Result<void> Reactor::join() {
    if (!thread_.joinable()) return {};
    if (thread_.get_id() == std::this_thread::get_id()) return error(std::errc::resource_deadlock_would_occur);
    thread_.join();
    // The loop thread is gone: the joiner may now tear down registrations in-loop style.
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    return thread_result_;
}

Reactor* Reactor::current() noexcept { return t_current; }

void Reactor::pin_to_cpu() {
    if (!options_.cpu) return;
    const int cpu = *options_.cpu;
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        affinity_errno_.store(EINVAL, std::memory_order_relaxed);
        return;
    }
    ::cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0)
        affinity_errno_.store(rc, std::memory_order_relaxed);
}

std::error_code Reactor::affinity_error() const noexcept {
    const int e = affinity_errno_.load(std::memory_order_relaxed);
    return e == 0 ? std::error_code() : errno_code(e);
}

ReactorStats Reactor::stats() const noexcept {
    constexpr auto r = std::memory_order_relaxed;
    return ReactorStats{
        .loop_iterations = loop_iterations_.load(r),
        .events_dispatched = events_dispatched_.load(r),
        .stale_events_dropped = stale_events_dropped_.load(r),
        .tasks_run = tasks_run_.load(r),
        .batches_drained = batches_drained_.load(r),
        .wakes_written = wakes_written_.load(r),
        .timers_fired = timers_fired_.load(r),
        .requeued = requeued_events_.load(r),
        .tasks_dropped = tasks_dropped_.load(r),
    };
}

std::size_t Reactor::posted_depth() const noexcept { return tasks_->size_approx(); }

// ---- The loop --------------------------------------------------------------------------

inline std::optional<std::chrono::nanoseconds> Reactor::poll_timeout(Clock::time_point now) {
    using std::chrono::nanoseconds;
    if (tasks_left_ || !requeued_.empty() || !local_tasks_.empty() || !deferred_.empty() || tasks_->notified() ||
        stop_requested_.load(std::memory_order_relaxed))
        return nanoseconds::zero();
    // Nanoseconds to the deadline; Poll::poll rounds up to whole ms, so the wait never
    // ends before the timer is due.
    const Clock::time_point deadline = timers_.next_deadline();
    if (deadline == Clock::time_point::max()) return std::nullopt;
    return deadline > now ? deadline - now : nanoseconds::zero();
}

Result<void> Reactor::loop() {
    Result<void> result;
    Clock::time_point now = Clock::now();
    for (;;) {
        if (auto r = poll_.poll(events_, poll_timeout(now)); !r && !is_interrupted(r.error())) {
            result = std::unexpected(r.error());
            break;
        }
        // This round's requeued registrations: those asked for before the poll. Asks
        // made from here on wait for the next round.
        if (!requeued_.empty()) requeue_round_.swap(requeued_);
        dispatch();
        if (!requeue_round_.empty()) dispatch_requeued();
        if (!deferred_.empty()) run_deferred();

        now = Clock::now();
        in_timers_ = true;
        const std::size_t fired = timers_.advance(now, options_.timer_budget);
        in_timers_ = false;
        if (fired != 0) bump(timers_fired_, fired);
        bool ran = !deferred_.empty();
        if (ran) run_deferred();

        if (tasks_left_ || !local_tasks_.empty() || tasks_->notified()) ran = run_tasks() || ran;
        if (!deferred_.empty()) {
            run_deferred();
            ran = true;
        }
        // The next poll timeout is measured from `now` unless callbacks ran since it
        // was read (the common busy iteration runs none): one clock read per iteration.
        if (fired != 0 || ran) now = Clock::now();

        bump(loop_iterations_, 1);
        if (stop_requested_.load(std::memory_order_acquire)) break;
    }
    finish_loop();
    return result;
}

void Reactor::dispatch() noexcept {
    std::uint64_t skipped = 0;
    std::uint64_t stale = 0;
    for (const Event& ev : events_) {
        EventHandler* handler = table_.lookup(to_registration_id(ev.token()));
        if (handler == nullptr) [[unlikely]] {
            // The waker's index is never allocated, so its event lands here too (the
            // notified flag says what to do). Anything else was freed (maybe reused)
            // earlier in this batch or since it was fetched.
            ++skipped;
            if (ev.token() != kWakerToken) ++stale;
            continue;
        }
        handler->on_event(ev);
    }
    if (events_.size() != skipped) bump(events_dispatched_, events_.size() - skipped);
    if (stale != 0) bump(stale_events_dropped_, stale);
}

void Reactor::dispatch_requeued() noexcept {
    std::uint64_t delivered = 0;
    for (const RegistrationId id : requeue_round_) {
        EventHandler* handler = table_.take_requeued(id);  // clears the mark first
        if (handler == nullptr) continue;  // deregistered since it asked
        handler->on_event(Event::from_raw(EPOLLIN, to_token(id).value()));
        ++delivered;
    }
    requeue_round_.clear();
    if (delivered != 0) bump(requeued_events_, delivered);
}

void Reactor::run_deferred() noexcept {
    if (deferred_.empty()) return;
    // One round: work deferred by these tasks runs at the next phase boundary.
    deferred_running_.swap(deferred_);
    for (Task& task : deferred_running_) task();
    deferred_running_.clear();
}

// Runs the tasks loop-thread posts queued before this call (those they post wait for
// the next round).
std::size_t Reactor::run_local_tasks() noexcept {
    if (local_tasks_.empty()) return 0;
    local_running_.swap(local_tasks_);
    for (Task& task : local_running_) {
        task();
        task = nullptr;  // free the capture now
    }
    const std::size_t ran = local_running_.size();
    local_running_.clear();
    return ran;
}

// Loop-thread posts queued before this phase first (what any task posts now waits for
// the next round), then up to task_budget cross-thread tasks.
bool Reactor::run_tasks() noexcept {
    std::size_t ran = run_local_tasks();
    const bool notified = tasks_->take_notified();  // clear *before* draining
    if (notified || tasks_left_) {
        if (notified) bump(batches_drained_, 1);
        const std::size_t remote = tasks_->run(options_.task_budget);
        tasks_left_ = remote == options_.task_budget;
        ran += remote;
    }
    if (ran != 0) bump(tasks_run_, ran);
    return ran != 0;
}

// Stopping (see Lifecycle in reactor.hpp).
void Reactor::finish_loop() noexcept {
    // 1. Refuse new cross-thread posts, then let the ones under way finish: their
    //    increment of posters_ and our store are both seq_cst, so either a poster sees
    //    `closing` and backs out, or we see it counted and wait for its enqueue.
    state_.store(State::closing, std::memory_order_seq_cst);
    while (posters_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();

    // 2. Everything accepted so far runs; loop-thread posts for at most kFinalRounds
    //    rounds once the cross-thread queue is empty.
    std::size_t local_rounds = 0;
    for (;;) {
        if (tasks_->take_notified()) bump(batches_drained_, 1);
        const std::size_t remote = tasks_->run(options_.task_budget);
        std::size_t ran = remote;
        if (remote == 0) {
            if (local_tasks_.empty() && deferred_.empty()) break;
            if (++local_rounds > kFinalRounds) break;
        }
        ran += run_local_tasks();
        if (ran != 0) bump(tasks_run_, ran);
        run_deferred();
    }
    // 3. What a self-renewing chain left behind dies here, unrun, on the loop thread.
    std::size_t dropped = local_tasks_.size() + deferred_.size();
    local_tasks_.clear();
    deferred_.clear();
    dropped += tasks_->discard();
    if (dropped != 0) bump(tasks_dropped_, dropped);
    requeued_.clear();
    tasks_left_ = false;
}

// ---- Posting ---------------------------------------------------------------------------

void Reactor::notify() {
    if (!tasks_->mark_notified()) return;  // already on: its setter owns the wake
    if (t_current == this) return;         // the loop checks the flag before it polls
    if (waker_.wake()) wakes_written_.fetch_add(1, std::memory_order_relaxed);
}

// Cross-thread push, guarded against the exit (finish_loop step 1). `token` is a
// ProducerToken, or null for the implicit producer.
bool Reactor::push_remote(Task&& task, void* token) {
    posters_.fetch_add(1, std::memory_order_seq_cst);
    bool ok = false;
    const State s = state_.load(std::memory_order_seq_cst);
    if (s == State::created || s == State::running) {
        ok = token != nullptr ? tasks_->push(*static_cast<TaskQueue::ProducerToken*>(token), std::move(task))
                              : tasks_->push(std::move(task));
        if (ok) notify();
    }
    posters_.fetch_sub(1, std::memory_order_release);
    return ok;
}

bool Reactor::post(Task task) {
    if (t_current == this) {  // the loop itself: next round, no atomics
        local_tasks_.push_back(std::move(task));
        return true;
    }
    return push_remote(std::move(task), nullptr);
}

struct Reactor::Producer::State {
    TaskQueue::ProducerToken token;
};

Reactor::Producer::Producer(Reactor& reactor)
    : reactor_(&reactor), state_(std::make_unique<State>(State{reactor.tasks_->make_token()})) {}
Reactor::Producer::Producer(Producer&&) noexcept = default;
Reactor::Producer& Reactor::Producer::operator=(Producer&&) noexcept = default;
Reactor::Producer::~Producer() = default;

bool Reactor::Producer::post(Task task) {
    if (!state_) return false;  // moved-from
    Reactor& r = *reactor_;
    if (t_current == &r) return r.post(std::move(task));
    return r.push_remote(std::move(task), &state_->token);
}

Reactor::Producer Reactor::make_producer() { return Producer(*this); }

// ---- Deferred work and timers -----------------------------------------------------------

void Reactor::defer_in_loop(Task task) {
    assert(is_in_loop_thread());
    deferred_.push_back(std::move(task));
}

TimerId Reactor::run_at_in_loop(Clock::time_point deadline, Task task) {
    assert(is_in_loop_thread());
    return timers_.run_at(deadline, std::move(task));
}

TimerId Reactor::run_after_in_loop(std::chrono::milliseconds delay, Task task) {
    assert(is_in_loop_thread());
    // Relative to the real clock, not the wheel's cached time (which lags by up to one
    // iteration): a deadline is never early. Saturating: the wheel clamps far delays.
    return timers_.run_at(saturating_add(Clock::now(), delay), std::move(task));
}

TimerId Reactor::run_every_in_loop(std::chrono::milliseconds period, Task task) {
    assert(is_in_loop_thread());
    // run_every counts from the wheel's time; bring it up to date first (the wheel
    // forbids advance() from inside its own callbacks, where it is current anyway).
    if (!in_timers_) timers_.advance(Clock::now(), 0);
    return timers_.run_every(period, std::move(task));
}

bool Reactor::cancel_timer_in_loop(TimerId id) noexcept {
    assert(is_in_loop_thread());
    return timers_.cancel(id);
}

std::size_t Reactor::timers_in_loop() const noexcept {
    assert(is_in_loop_thread());
    return timers_.size();
}

}  // namespace pollux::reactor
