// pollux/framework/coro/task.hpp — public.
//
// `Task<T>` is the coroutine type of pollux's coroutine flavour (docs/coroutines.md):
//
//     pollux::coro::Task<int> answer() { co_return 42; }
//     pollux::coro::Task<void> run() {
//         int v = co_await answer();           // starts answer(), resumes here when done
//         co_await pollux::coro::sleep_for(10ms);
//     }
//
// * Lazy. Calling a coroutine function allocates its frame and runs nothing; the body
//   starts when the Task is awaited (or handed to spawn(), reactor_ops.hpp).
// * Move-only. The Task owns the frame: destroying a Task that was never awaited, or
//   whose await is over, destroys the frame. A Task is awaited at most once.
// * Symmetric transfer. Awaiting a Task jumps straight into it, and its end jumps
//   straight back into the awaiting coroutine: no reactor round is spent, nothing is
//   allocated beyond the frame itself, and in optimised builds (the jump is a tail
//   call) no stack grows however many awaits complete in a row. Unoptimised and
//   sanitizer builds may spend stack on each such await.
// * Threads. A task runs on the thread that resumes it: in pollux, always its reactor's
//   thread (a Stream's events, a timer, a posted hop; post_to() moves it to another).
// * Exceptions. One policy for everything pollux runs, callbacks and tasks alike: an
//   exception escaping a task's body calls std::terminate (the task's I/O state would
//   be unknown). Catch inside the task.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace pollux::coro {

template <class T = void>
class Task;

namespace detail {

// What every pollux coroutine frame holds besides the body's own locals: 32 bytes.
struct PromiseBase {
    // How a coroutine ends. Set for a root (spawn, a connection's task) and for a
    // when_all child; null for a plain awaited task, which jumps back to parent_.
    // `finished`: the body ran to its end (false: the task is being destroyed while
    // suspended, see destroy_root). Returns the coroutine to continue with.
    using EndFn = std::coroutine_handle<> (*)(void* ctx, PromiseBase& p, bool finished) noexcept;

    PromiseBase* parent_ = nullptr;  // the awaiting coroutine, null for a root
    std::coroutine_handle<> self_;
    EndFn end_ = nullptr;
    void* end_ctx_ = nullptr;

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            PromiseBase& p = h.promise();
            if (p.end_ != nullptr) return p.end_(p.end_ctx_, p, true);
            return p.parent_->self_;
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
};

// Destroys the whole task that `p` belongs to, from its root down: the root's end
// function (finished = false) destroys the root frame, whose Task locals destroy
// their children. For a wake-up that can never come (its reactor was destroyed).
void destroy_root(PromiseBase& p) noexcept;

// True if the task that `p` belongs to is a connection's task (stream.hpp): its root
// is resumed and destroyed by its connection's reactor, so it never leaves that thread.
bool pinned_to_connection(const PromiseBase& p) noexcept;

// True while destroy_root runs because a reactor's timer wheel is being destroyed:
// awaiters then unhook from their timers without cancelling them.
bool tearing_down() noexcept;

template <class T>
struct Promise : PromiseBase {
    alignas(T) unsigned char value_[sizeof(T)];
    bool has_value_ = false;

    Promise() noexcept = default;
    Promise(const Promise&) = delete;
    ~Promise() {
        if (has_value_) std::launder(reinterpret_cast<T*>(value_))->~T();
    }
    Task<T> get_return_object() noexcept;
    template <class U = T>
        requires std::is_constructible_v<T, U&&>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(value_)) T(std::forward<U>(v));
        has_value_ = true;
    }
    T take() noexcept { return std::move(*std::launder(reinterpret_cast<T*>(value_))); }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take() const noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::Promise<T>;
    using value_type = T;

    Task() noexcept = default;
    Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (h_) h_.destroy();
            h_ = std::exchange(other.h_, {});
        }
        return *this;
    }
    ~Task() {
        if (h_) h_.destroy();
    }

    // False for a default-constructed or moved-from Task.
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }

    // co_await task: runs it to its end (suspending where it suspends), then yields its
    // co_return value. The awaiting coroutine must be a pollux Task too.
    auto operator co_await() && noexcept { return Awaiter{h_}; }
    auto operator co_await() & noexcept { return Awaiter{h_}; }

    // The frame, still owned by this Task.
    std::coroutine_handle<promise_type> handle() const noexcept { return h_; }
    // Gives up ownership of the frame (spawn and the connection adapter take it).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

private:
    friend promise_type;
    explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}

    struct Awaiter {
        std::coroutine_handle<promise_type> h;
        bool await_ready() const noexcept { return !h || h.done(); }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) const noexcept {
            static_assert(std::is_base_of_v<detail::PromiseBase, P>, "co_await a pollux Task from a pollux Task");
            h.promise().parent_ = &caller.promise();
            return h;
        }
        T await_resume() const noexcept { return h.promise().take(); }
    };

    std::coroutine_handle<promise_type> h_;
};

namespace detail {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
    auto h = std::coroutine_handle<Promise<T>>::from_promise(*this);
    self_ = h;
    return Task<T>(h);
}

inline Task<void> Promise<void>::get_return_object() noexcept {
    auto h = std::coroutine_handle<Promise<void>>::from_promise(*this);
    self_ = h;
    return Task<void>(h);
}

}  // namespace detail

}  // namespace pollux::coro
