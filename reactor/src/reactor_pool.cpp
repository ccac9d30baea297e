// reactor/src/reactor_pool.cpp
#include "pollux/reactor/reactor_pool.hpp"

#include <algorithm>
#include <cassert>
#include <semaphore>
#include <thread>
#include <utility>

#include "pollux/reactor/acceptor.hpp"

namespace pollux::reactor {

Result<std::unique_ptr<ReactorPool>> ReactorPool::create(ReactorPoolOptions options) {
    std::size_t n = 0;
    if (options.threads) {
        if (*options.threads == 0) return error(std::errc::invalid_argument);
        n = *options.threads;
    } else {
        n = std::max(1u, std::thread::hardware_concurrency());
    }
    const unsigned cpus_online = std::max(1u, std::thread::hardware_concurrency());

    std::vector<std::unique_ptr<Reactor>> reactors;
    reactors.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        ReactorOptions ro = options.reactor;
        ro.index = i;
        ro.cpu.reset();
        if (!options.cpus.empty()) {
            ro.cpu = options.cpus[i % options.cpus.size()];
        } else if (options.pin_threads) {
            ro.cpu = static_cast<int>(i % cpus_online);
        }
        auto r = Reactor::create(ro);
        if (!r) return std::unexpected(r.error());
        reactors.push_back(std::move(*r));
    }
    return std::unique_ptr<ReactorPool>(new ReactorPool(std::move(reactors)));
}

ReactorPool::ReactorPool(std::vector<std::unique_ptr<Reactor>> reactors)
    : reactors_(std::move(reactors)), counts_(reactors_.size()) {}

ReactorPool::~ReactorPool() {
    [[maybe_unused]] auto r = stop();
    assert((r || r.error() != std::errc::resource_deadlock_would_occur) && "~ReactorPool on a pool thread");
}

Result<void> ReactorPool::start() {
    std::lock_guard lock(stop_mutex_);
    if (state_.load(std::memory_order_acquire) != State::created) return error(std::errc::operation_not_permitted);
    for (std::size_t i = 0; i < reactors_.size(); ++i) {
        if (auto r = reactors_[i]->start(); !r) {
            for (std::size_t j = 0; j < i; ++j) reactors_[j]->stop();
            for (std::size_t j = 0; j < i; ++j) (void)reactors_[j]->join();
            std::lock_guard alock(acceptors_mutex_);
            state_.store(State::stopped, std::memory_order_release);
            return std::unexpected(r.error());
        }
    }
    started_.store(true, std::memory_order_release);
    state_.store(State::running, std::memory_order_release);
    return {};
}

Result<void> ReactorPool::stop(std::chrono::milliseconds grace) {
    if (current() != nullptr) return error(std::errc::resource_deadlock_would_occur);
    std::lock_guard lock(stop_mutex_);
    const State was = state_.load(std::memory_order_acquire);
    if (was == State::stopped) return stop_result_;
    const auto deadline = Clock::now() + grace;

    {
        std::lock_guard alock(acceptors_mutex_);  // no attach after this point
        state_.store(State::stopping, std::memory_order_release);
    }
    // 1. Stop accepting. The reactors still run, so each listener closes on its loop.
    stop_acceptors();

    // 2. Ask the connection owners to wind down, and wait for the drain.
    if (was == State::running) run_stop_hooks(deadline);

    // 3. Stop and join the loops.
    for (auto& r : reactors_) r->stop();
    stop_result_ = {};
    for (auto& r : reactors_) {
        if (auto j = r->join(); !j && stop_result_) stop_result_ = std::unexpected(j.error());
    }
    state_.store(State::stopped, std::memory_order_release);
    return stop_result_;
}

void ReactorPool::stop_acceptors() {
    // Held throughout: an Acceptor being destroyed meanwhile waits in detach() until its
    // stop() here has returned.
    std::lock_guard alock(acceptors_mutex_);
    for (StoppableAcceptor* a : acceptors_) a->stop();
}

void ReactorPool::run_stop_hooks(Clock::time_point deadline) {
    bool any = false;
    {
        std::lock_guard hlock(hooks_mutex_);
        any = !hooks_.empty();
    }
    if (!any) return;
    // hooks_ no longer changes (on_stop ignores late hooks) and outlives the tasks: the
    // loops are joined before this pool is destroyed.
    for (auto& r : reactors_) {
        r->post([this, deadline, reactor = r.get()] {
            for (auto& hook : hooks_) hook(*reactor, deadline);
        });
    }
    wait_for_drain(deadline);
}

namespace {
// Re-check period for counts removed without connection_closed (not signalled).
constexpr std::chrono::milliseconds kDrainRecheck{100};
}  // namespace

// The stopping thread. Sleeps until the connection counts reach 0 or `deadline`.
void ReactorPool::wait_for_drain(Clock::time_point deadline) {
    draining_.exchange(1, std::memory_order_acq_rel);  // pairs with connection_closed
    std::unique_lock lock(drain_mutex_);
    while (counts_.total() != 0) {
        const auto now = Clock::now();
        if (now >= deadline) break;
        // The predicate is read under drain_mutex_, and a closer locks it before it
        // notifies: a wake-up between the check and the sleep cannot be missed.
        drain_cv_.wait_until(lock, std::min(deadline, now + kDrainRecheck));
    }
    draining_.store(0, std::memory_order_relaxed);
}

// A closer brought a reactor's count to 0 while stop() waits.
void ReactorPool::wake_drain_waiter() noexcept {
    { std::lock_guard lock(drain_mutex_); }
    drain_cv_.notify_all();
}

void ReactorPool::on_stop(StopHook hook) {
    std::lock_guard hlock(hooks_mutex_);
    const State s = state_.load(std::memory_order_acquire);
    if (s == State::stopping || s == State::stopped) return;
    hooks_.push_back(std::move(hook));
}

Reactor* ReactorPool::current() const noexcept {
    Reactor* cur = Reactor::current();
    if (cur == nullptr) return nullptr;
    const std::size_t i = cur->index();
    return i < reactors_.size() && reactors_[i].get() == cur ? cur : nullptr;
}

bool ReactorPool::post(std::size_t i, Task task) {
    if (i >= reactors_.size()) return false;
    return reactors_[i]->post(std::move(task));
}

Result<void> ReactorPool::run_and_wait(std::size_t i, std::move_only_function<void()> fn) {
    if (i >= reactors_.size()) return error(std::errc::invalid_argument);
    Reactor& r = *reactors_[i];
    if (r.is_in_loop_thread()) {
        fn();
        return {};
    }
    // Never started: no loop would run the task (the creating thread was handled above).
    if (!started_.load(std::memory_order_acquire)) return error(std::errc::operation_not_permitted);
    // The task reports either way: run (ran = true) or destroyed unrun by the loop's
    // exit (Reactor: an accepted post runs or is destroyed before the loop exits), so
    // this wait always ends.
    struct Waiter {
        std::binary_semaphore done{0};
        bool ran = false;  // written before the release, read after the acquire
    } waiter;
    struct Job {
        std::move_only_function<void()>* fn;
        Waiter* w;
        bool armed = true;
        Job(std::move_only_function<void()>* f, Waiter* wt) noexcept : fn(f), w(wt) {}
        Job(Job&& o) noexcept : fn(o.fn), w(o.w), armed(std::exchange(o.armed, false)) {}
        Job& operator=(Job&&) = delete;
        ~Job() {
            if (armed) w->done.release();
        }
        void operator()() {
            (*fn)();
            w->ran = true;
            armed = false;
            w->done.release();
        }
    };
    if (!r.post(Job(&fn, &waiter))) return error(std::errc::operation_canceled);
    waiter.done.acquire();
    if (!waiter.ran) return error(std::errc::operation_canceled);
    return {};
}

Result<void> ReactorPool::attach(StoppableAcceptor& acceptor) {
    std::lock_guard alock(acceptors_mutex_);
    const State s = state_.load(std::memory_order_acquire);
    if (s == State::stopping || s == State::stopped) return error(std::errc::operation_canceled);
    acceptors_.push_back(&acceptor);
    return {};
}

void ReactorPool::detach(StoppableAcceptor& acceptor) noexcept {
    std::lock_guard alock(acceptors_mutex_);
    std::erase(acceptors_, &acceptor);
}

}  // namespace pollux::reactor
