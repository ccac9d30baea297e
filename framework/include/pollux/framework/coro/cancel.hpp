// pollux/framework/coro/cancel.hpp — public.
//
// How a suspended await ends early: a Deadline or a CancelToken, accepted by every
// pollux awaitable (sleep_for, the Stream's reads and writes, post_to excepted):
//
//     CancelSource stop;                                   // owned by the caller
//     auto n = co_await s.read(buf, 30s, stop.token());    // deadline and token
//     ...elsewhere, on the same reactor thread:  stop.cancel();
//
// * Deadline. A duration measured from the moment the await suspends (an await that
//   completes without suspending never looks at it). When it passes, the await
//   resumes with std::errc::timed_out. The default is no deadline. It is a reactor
//   timer (1 ms resolution, never early), armed only while suspended.
// * CancelToken. Names a CancelSource. `cancel()` resumes every await suspended on one
//   of its tokens with std::errc::operation_canceled, one after the other, from inside
//   the call; an await that starts after cancel() completes at once with the same
//   error. A default token never cancels.
// * Threads. A CancelSource belongs to one reactor thread: cancel() it there, and use
//   its tokens only in tasks of that reactor (to cancel from elsewhere, Reactor::post a
//   task that calls cancel()). It must outlive every await using its tokens; destroying
//   it with awaits still registered detaches them (they then wait for their own event).
// * What ends is the wait, not the operation's effects: bytes a write_all queued stay
//   queued, bytes a read_exact copied stay copied (see stream.hpp).
#pragma once

#include <cassert>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <limits>
#include <system_error>
#include <type_traits>

#include "pollux/framework/coro/task.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::coro {

class CancelSource;

namespace detail {

// No default member initializers: a Waiter sets its node only when it registers one.
struct CancelNode {
    CancelSource* source;
    CancelNode* prev;
    CancelNode* next;
    void* owner;
    void (*fire)(CancelNode&) noexcept;
};

}  // namespace detail

class CancelToken {
public:
    CancelToken() noexcept = default;
    bool can_cancel() const noexcept { return source_ != nullptr; }
    bool cancelled() const noexcept;

private:
    friend class CancelSource;
    friend class Waiter;
    explicit CancelToken(CancelSource* s) noexcept : source_(s) {}
    CancelSource* source_ = nullptr;
};

class CancelSource {
public:
    CancelSource() noexcept = default;
    CancelSource(const CancelSource&) = delete;
    CancelSource& operator=(const CancelSource&) = delete;
    ~CancelSource();

    CancelToken token() noexcept { return CancelToken(this); }
    // Resumes every await registered on this source with operation_canceled; later
    // awaits with its tokens fail at once. Idempotent.
    void cancel() noexcept;
    bool cancelled() const noexcept { return cancelled_; }
    // Forgets a cancel(): later awaits wait again (awaits already resumed stay so).
    void reset() noexcept { cancelled_ = false; }

private:
    friend class Waiter;
    void link(detail::CancelNode& n) noexcept;
    static void unlink(detail::CancelNode& n) noexcept;

    detail::CancelNode* head_ = nullptr;
    bool cancelled_ = false;
};

inline bool CancelToken::cancelled() const noexcept { return source_ != nullptr && source_->cancelled(); }

// A duration from the moment an await suspends; default: none. Any std::chrono
// duration converts (rounded up to whole milliseconds).
struct Deadline {
    std::chrono::milliseconds after = std::chrono::milliseconds::max();

    constexpr Deadline() noexcept = default;
    template <class Rep, class Period>
    constexpr Deadline(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit on purpose
        : after(d >= std::chrono::duration<Rep, Period>::max() ? std::chrono::milliseconds::max()
                                                              : std::chrono::ceil<std::chrono::milliseconds>(d)) {}
    constexpr bool none() const noexcept { return after == std::chrono::milliseconds::max(); }
};

// The part every suspending pollux awaitable shares: the suspended coroutine, its
// deadline timer, its cancel registration and the error it resumes with. An awaitable
// derives from it, calls suspend(...) from await_suspend and settle(...) when its event
// comes; the AbandonFn it passes to suspend() unhooks the awaitable from its own event
// source when the deadline or the token ends the wait first.
//
// It is made and destroyed twice per echoed message in a read/write loop, so only what
// every await reads is set when it is made: "no error", "not pending" and whether a
// deadline or a token was given (then those too). Everything a deadline or a token
// needs is set by arm(), when such an await suspends.
class Waiter {
public:
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

protected:
    using AbandonFn = void (*)(Waiter&) noexcept;
    [[gnu::always_inline]] Waiter(Deadline deadline, CancelToken token) noexcept
        : after_(deadline.after), source_(token.source_), waits_(source_ != nullptr || !deadline.none()) {}
    // No deadline, no token. User-provided: `Waiter()` in a derived class's initialiser
    // list would otherwise zero the whole object first (value-initialisation).
    [[gnu::always_inline]] Waiter() noexcept {}
    [[gnu::always_inline]] ~Waiter() {
        if (pending_) disarm();
    }

    // True if the token was cancelled before the await began (the error is set).
    bool cancelled_early() noexcept {
        if (!waits_ || source_ == nullptr || !source_->cancelled_) return false;
        set_error(std::make_error_code(std::errc::operation_canceled));
        return true;
    }
    // True when the await has a deadline or a token.
    bool waits() const noexcept { return waits_; }
    // Records the suspended coroutine and arms the deadline and the token; `abandon`
    // (may be null) runs if one of them ends the wait. Must run on a reactor thread when
    // a deadline is set.
    template <class P>
    [[gnu::always_inline]] void suspend(std::coroutine_handle<P> h, AbandonFn abandon = nullptr) noexcept {
        static_assert(std::is_base_of_v<detail::PromiseBase, P>, "pollux awaitables are awaited from pollux Tasks");
        frame_ = h.address();
        pending_ = true;
        if (waits_) arm(&h.promise(), abandon);
    }
    // Disarms and returns the coroutine to resume (with the error set so far, if any).
    [[gnu::always_inline]] std::coroutine_handle<> settle() noexcept {
        if (extras_) {
            disarm();
            return std::coroutine_handle<>::from_address(frame_);
        }
        return settle_unarmed();
    }
    // settle() for a wait that is not armed().
    [[gnu::always_inline]] std::coroutine_handle<> settle_unarmed() noexcept {
        assert(!extras_);
        pending_ = false;
        return std::coroutine_handle<>::from_address(frame_);
    }
    std::coroutine_handle<> settle(std::error_code ec) noexcept {
        set_error(ec);
        return settle();
    }
    bool pending() const noexcept { return pending_; }
    // True when arm() set up a timer or a cancel registration (settle() then disarms).
    bool armed() const noexcept { return extras_; }
    // Armed waits only (arm() stored the function).
    void on_abandon() noexcept {
        if (abandon_ != nullptr) abandon_(*this);
    }

    // The outcome: success until set_error.
    void set_error(std::error_code ec) noexcept {
        code_ = ec.value();
        category_ = ec ? &ec.category() : nullptr;
    }
    bool failed() const noexcept { return category_ != nullptr; }
    std::error_code error() const noexcept {
        return category_ == nullptr ? std::error_code() : std::error_code(code_, *category_);
    }

private:
    struct TimerWake;
    void arm(detail::PromiseBase* promise, AbandonFn abandon) noexcept;
    void disarm() noexcept;
    void expire() noexcept;        // the deadline passed
    static void on_cancel(detail::CancelNode& n) noexcept;
    void orphan() noexcept;        // the timer was destroyed unrun: the reactor is gone

    // Set only when waits_ (a plain await stores neither).
    std::chrono::milliseconds after_;  // the deadline; max: none
    CancelSource* source_;             // the token's source; null: none
    const std::error_category* category_ = nullptr;  // null: no error
    int code_;                     // meaningful when category_ is set
    bool pending_ = false;
    bool extras_ = false;          // arm() set up a timer or a cancel registration
    bool waits_ = false;           // a deadline or a token was given
    void* frame_;                  // the suspended coroutine (a handle's address)
    // Set by arm():
    detail::PromiseBase* promise_;
    AbandonFn abandon_;
    reactor::Reactor* reactor_;
    // A union, so that making a Waiter leaves it alone (TimerId initialises its members).
    union TimerSlot {
        TimerSlot() noexcept {}
        reactor::TimerId id;
    } timer_;
    TimerWake* wake_;              // the callback in the reactor's timer wheel
    detail::CancelNode node_;
};

}  // namespace pollux::coro
