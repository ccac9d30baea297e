// pollux/framework/coro/reactor_ops.hpp — public.
//
// Tasks on reactors: start one, sleep, move to another reactor's thread.
//
//     coro::spawn(reactor, work(), [](std::error_code ec) { ... });  // any thread
//     co_await coro::sleep_for(50ms);                  // a reactor timer, then resumes
//     co_await coro::post_to(other);                   // the rest runs on `other`
//
// * spawn(reactor, task, on_end) posts the task's start to `reactor` (Reactor::post, from
//   any thread) and detaches it: the frame is freed when the task ends. on_end, if set,
//   runs on the thread the task ended on: with no error when the body ran to its end,
//   with std::errc::operation_canceled when the task was destroyed first (see below).
//   Returns false, calling on_end(operation_canceled), when the reactor is exiting.
// * A task whose wake-up can never come is destroyed where it is suspended (its locals'
//   destructors run, Task children included), never leaked: a start or a post_to hop
//   that the reactor drops unrun at its exit, a sleep or deadline timer still pending
//   when the reactor is destroyed. A task suspended on anything else (a Stream, a
//   CancelSource with no deadline) is ended by whoever owns that: the Stream's
//   connection, your cancel().
// * sleep_for(d, token): resumes after d (reactor timer, 1 ms resolution, never early)
//   with success, or with operation_canceled when the token is cancelled first. A zero
//   or negative d completes at once. Only on a reactor thread.
// * post_to(reactor): suspends and resumes on `reactor`'s thread (one Reactor::post;
//   to the same reactor it yields to the end of the current round). Fails without
//   suspending: with operation_canceled when that reactor is exiting, with
//   operation_not_permitted in a connection's task (stream.hpp: it stays on its
//   connection's reactor).
#pragma once

#include <chrono>
#include <coroutine>
#include <functional>
#include <system_error>

#include "pollux/core/result.hpp"
#include "pollux/framework/coro/cancel.hpp"
#include "pollux/framework/coro/task.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::coro {

using EndCallback = std::move_only_function<void(std::error_code)>;

bool spawn(reactor::Reactor& reactor, Task<void> task, EndCallback on_end = {});

class SleepAwaiter : public Waiter {
public:
    SleepAwaiter(std::chrono::milliseconds d, CancelToken token) noexcept
        : Waiter(Deadline(d < std::chrono::milliseconds::zero() ? std::chrono::milliseconds::zero() : d), token),
          zero_(d <= std::chrono::milliseconds::zero()) {}
    bool await_ready() noexcept { return cancelled_early() || zero_; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept { suspend(h); }
    Result<void> await_resume() const noexcept {
        const std::error_code ec = error();
        if (!ec || ec == std::errc::timed_out) return {};  // the timer is the sleep
        return std::unexpected(ec);
    }

private:
    bool zero_;
};

template <class Rep, class Period>
SleepAwaiter sleep_for(std::chrono::duration<Rep, Period> d, CancelToken token = {}) noexcept {
    return SleepAwaiter(std::chrono::ceil<std::chrono::milliseconds>(d), token);
}

class PostAwaiter {
public:
    explicit PostAwaiter(reactor::Reactor& target) noexcept : target_(&target) {}
    PostAwaiter(const PostAwaiter&) = delete;
    PostAwaiter& operator=(const PostAwaiter&) = delete;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        static_assert(std::is_base_of_v<detail::PromiseBase, P>, "pollux awaitables are awaited from pollux Tasks");
        return post(h, h.promise());
    }
    Result<void> await_resume() const noexcept {
        if (pinned_) return error(std::errc::operation_not_permitted);
        if (refused_) return error(std::errc::operation_canceled);
        return {};
    }

private:
    struct Hop;
    bool post(std::coroutine_handle<> h, detail::PromiseBase& p) noexcept;
    reactor::Reactor* target_;
    bool refused_ = false;
    bool pinned_ = false;
};

inline PostAwaiter post_to(reactor::Reactor& target) noexcept { return PostAwaiter(target); }

}  // namespace pollux::coro
