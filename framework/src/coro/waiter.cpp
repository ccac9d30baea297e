// framework/src/coro/waiter.cpp — internal: CancelSource, the Waiter's deadline timer and
// token, and destroy_root (coro/task.hpp, coro/cancel.hpp).
#include <cassert>
#include <new>
#include <utility>

#include "pollux/framework/coro/cancel.hpp"

namespace pollux::coro {

namespace detail {

namespace {
thread_local int t_tearing_down = 0;
}

bool tearing_down() noexcept { return t_tearing_down != 0; }

void destroy_root(PromiseBase& p) noexcept {
    PromiseBase* root = &p;
    while (root->parent_ != nullptr) root = root->parent_;
    if (root->end_ != nullptr) {
        (void)root->end_(root->end_ctx_, *root, false);  // the end function destroys the root
    } else {
        root->self_.destroy();
    }
}

}  // namespace detail

// ---- CancelSource ------------------------------------------------------------------------

CancelSource::~CancelSource() {
    while (head_ != nullptr) {
        detail::CancelNode* n = head_;
        head_ = n->next;
        n->source = nullptr;
        n->prev = n->next = nullptr;
    }
}

void CancelSource::link(detail::CancelNode& n) noexcept {
    n.source = this;
    n.prev = nullptr;
    n.next = head_;
    if (head_ != nullptr) head_->prev = &n;
    head_ = &n;
}

void CancelSource::unlink(detail::CancelNode& n) noexcept {
    CancelSource* s = n.source;
    if (s == nullptr) return;
    if (n.prev != nullptr) n.prev->next = n.next; else s->head_ = n.next;
    if (n.next != nullptr) n.next->prev = n.prev;
    n.source = nullptr;
    n.prev = n.next = nullptr;
}

void CancelSource::cancel() noexcept {
    cancelled_ = true;
    // Each fire unlinks its node and resumes its coroutine, which may link new nodes
    // (they see cancelled_ and complete at once) or unlink others.
    while (head_ != nullptr) {
        detail::CancelNode* n = head_;
        unlink(*n);
        n->fire(*n);
    }
}

// ---- Waiter ------------------------------------------------------------------------------

// The deadline's callback in the reactor's timer wheel. Linked both ways with its
// Waiter (the wheel may move it), so whichever dies first unhooks the other.
struct Waiter::TimerWake {
    Waiter* w;
    explicit TimerWake(Waiter* waiter) noexcept : w(waiter) { w->wake_ = this; }
    TimerWake(TimerWake&& o) noexcept : w(std::exchange(o.w, nullptr)) {
        if (w != nullptr) w->wake_ = this;
    }
    TimerWake& operator=(TimerWake&&) = delete;
    ~TimerWake() {
        if (w == nullptr) return;
        // Destroyed unrun while its Waiter still waits: the reactor (and its wheel) is
        // being destroyed. The task can never resume; destroy it.
        w->wake_ = nullptr;
        w->timer_.id = {};
        w->orphan();
    }
    void operator()() noexcept {
        Waiter* x = std::exchange(w, nullptr);
        if (x == nullptr) return;
        x->wake_ = nullptr;
        x->timer_.id = {};
        x->expire();
    }
};

void Waiter::arm(detail::PromiseBase* promise, AbandonFn abandon) noexcept {
    extras_ = true;
    promise_ = promise;
    abandon_ = abandon;
    wake_ = nullptr;
    reactor_ = nullptr;
    ::new (static_cast<void*>(&timer_.id)) reactor::TimerId();
    node_ = {};
    if (source_ != nullptr) {
        node_.owner = this;
        node_.fire = &Waiter::on_cancel;
        source_->link(node_);
    }
    if (after_ != std::chrono::milliseconds::max()) {
        reactor_ = reactor::Reactor::current();
        assert(reactor_ != nullptr && "a deadline needs a reactor thread");
        if (reactor_ != nullptr) timer_.id = reactor_->run_after_in_loop(after_, TimerWake(this));
    }
}

void Waiter::disarm() noexcept {
    pending_ = false;
    if (!extras_) return;
    extras_ = false;
    CancelSource::unlink(node_);
    if (wake_ != nullptr) {
        wake_->w = nullptr;
        wake_ = nullptr;
        // While a wheel is being destroyed its timers go with it: no cancel then.
        if (!detail::tearing_down() && reactor_ != nullptr) reactor_->cancel_timer_in_loop(timer_.id);
        timer_.id = {};
    }
}

void Waiter::expire() noexcept {
    on_abandon();
    settle(std::make_error_code(std::errc::timed_out)).resume();
}

void Waiter::on_cancel(detail::CancelNode& n) noexcept {
    auto* w = static_cast<Waiter*>(n.owner);
    w->on_abandon();
    w->settle(std::make_error_code(std::errc::operation_canceled)).resume();
}

void Waiter::orphan() noexcept {
    disarm();
    on_abandon();
    ++detail::t_tearing_down;
    detail::destroy_root(*promise_);
    --detail::t_tearing_down;
}

}  // namespace pollux::coro
