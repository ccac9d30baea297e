// framework/src/coro/reactor_ops.cpp — internal: spawn and post_to (coro/reactor_ops.hpp).
#include <memory>
#include <utility>

#include "pollux/framework/coro/reactor_ops.hpp"

namespace pollux::coro {

namespace {

// A spawned root's end: report, then free the frame.
struct Detached {
    EndCallback on_end;
    static std::coroutine_handle<> end(void* ctx, detail::PromiseBase& p, bool finished) noexcept {
        std::unique_ptr<Detached> self(static_cast<Detached*>(ctx));
        p.self_.destroy();
        if (self && self->on_end) {
            self->on_end(finished ? std::error_code() : std::make_error_code(std::errc::operation_canceled));
        }
        return std::noop_coroutine();
    }
};

// The posted start of a spawned task. Destroyed unrun (the reactor refused the post or
// dropped it at its exit): the task is destroyed, and reported as cancelled.
struct Start {
    detail::PromiseBase* p;
    explicit Start(detail::PromiseBase* promise) noexcept : p(promise) {}
    Start(Start&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
    Start& operator=(Start&&) = delete;
    ~Start() {
        if (p != nullptr) detail::destroy_root(*p);
    }
    void operator()() noexcept { std::exchange(p, nullptr)->self_.resume(); }
};

// post_to's hop. t_refusing names the awaiter whose post is under way on this thread:
// a hop destroyed inside that post was refused (the task goes on, with an error); one
// destroyed anywhere else was dropped by an exiting reactor (the task is destroyed).
thread_local const void* t_refusing = nullptr;

}  // namespace

bool spawn(reactor::Reactor& reactor, Task<void> task, EndCallback on_end) {
    auto h = task.release();
    if (!h) return false;
    auto& p = h.promise();
    p.end_ = &Detached::end;
    p.end_ctx_ = on_end ? new Detached{std::move(on_end)} : nullptr;
    return reactor.post(Start(&p));
}

struct PostAwaiter::Hop {
    PostAwaiter* a;
    std::coroutine_handle<> h;
    detail::PromiseBase* p;
    Hop(PostAwaiter* awaiter, std::coroutine_handle<> handle, detail::PromiseBase* promise) noexcept
        : a(awaiter), h(handle), p(promise) {}
    Hop(Hop&& o) noexcept : a(std::exchange(o.a, nullptr)), h(o.h), p(o.p) {}
    Hop& operator=(Hop&&) = delete;
    ~Hop() {
        if (a == nullptr) return;
        if (t_refusing == a) {
            a->refused_ = true;
        } else {
            detail::destroy_root(*p);
        }
    }
    void operator()() noexcept {
        a = nullptr;
        h.resume();
    }
};

bool PostAwaiter::post(std::coroutine_handle<> h, detail::PromiseBase& p) noexcept {
    if (detail::pinned_to_connection(p)) {
        pinned_ = true;
        return false;
    }
    t_refusing = this;
    // After a successful post the task may already run on the target thread: `this`
    // is not touched again then.
    const bool posted = target_->post(Hop(this, h, &p));
    t_refusing = nullptr;
    return posted;
}

}  // namespace pollux::coro
