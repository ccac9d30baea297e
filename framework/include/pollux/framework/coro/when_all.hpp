// pollux/framework/coro/when_all.hpp — public.
//
// `co_await when_all(a(), b(), c())` runs a small fixed set of tasks concurrently on the
// current thread and resumes when every one has ended, with a std::tuple of their
// results (std::monostate for a Task<void>):
//
//     auto [x, y] = co_await coro::when_all(fetch(1), fetch(2));   // Result<...> each
//
// * The tasks start in order, each running until its first suspension; the awaiting
//   task resumes once after the last one ends, on the thread that ended it.
// * A failure is a value like any other (tasks return Result<T>): one task failing
//   neither stops nor hides the others; every result comes back. To stop the rest
//   early, give them a CancelToken and cancel() it from the failing one.
// * Destroying the awaiting task while they run destroys them too (Task ownership).
// * Cost: nothing beyond the tasks' own frames.
#pragma once

#include <coroutine>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "pollux/framework/coro/task.hpp"

namespace pollux::coro {

namespace detail {

template <class T>
using WhenAllValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class... Ts>
class WhenAllAwaiter {
public:
    explicit WhenAllAwaiter(Task<Ts>&&... tasks) noexcept : tasks_(std::move(tasks)...) {}
    WhenAllAwaiter(const WhenAllAwaiter&) = delete;
    WhenAllAwaiter& operator=(const WhenAllAwaiter&) = delete;

    bool await_ready() const noexcept { return sizeof...(Ts) == 0; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
        static_assert(std::is_base_of_v<PromiseBase, P>, "co_await when_all from a pollux Task");
        caller_ = caller;
        remaining_ = sizeof...(Ts) + 1;  // +1: none may resume the caller while we start them
        std::apply([&](auto&... t) { (start(t, caller.promise()), ...); }, tasks_);
        if (--remaining_ == 0) return caller;
        return std::noop_coroutine();
    }
    std::tuple<WhenAllValue<Ts>...> await_resume() noexcept {
        return std::apply([](auto&... t) { return std::tuple<WhenAllValue<Ts>...>(take(t)...); }, tasks_);
    }

private:
    template <class T>
    void start(Task<T>& t, PromiseBase& parent) noexcept {
        auto h = t.handle();
        h.promise().parent_ = &parent;
        h.promise().end_ = &WhenAllAwaiter::child_end;
        h.promise().end_ctx_ = this;
        h.resume();
    }
    static std::coroutine_handle<> child_end(void* ctx, PromiseBase&, bool finished) noexcept {
        auto* self = static_cast<WhenAllAwaiter*>(ctx);
        if (!finished) return std::noop_coroutine();  // never a root: not reached
        if (--self->remaining_ == 0) return self->caller_;
        return std::noop_coroutine();
    }
    template <class T>
    static WhenAllValue<T> take(Task<T>& t) noexcept {
        if constexpr (std::is_void_v<T>) {
            return {};
        } else {
            return t.handle().promise().take();
        }
    }

    std::tuple<Task<Ts>...> tasks_;
    std::coroutine_handle<> caller_;
    std::size_t remaining_ = 0;
};

}  // namespace detail

template <class... Ts>
detail::WhenAllAwaiter<Ts...> when_all(Task<Ts>&&... tasks) noexcept {
    return detail::WhenAllAwaiter<Ts...>(std::move(tasks)...);
}

}  // namespace pollux::coro
