// pollux/core/poll.hpp — public.
//
// `Poll` waits for readiness events on registered sources. It is mio's Poll on epoll.
//
//     auto poll = pollux::Poll::create().value();
//     auto events = pollux::Events::with_capacity(128);
//     poll.registry().register_source(socket, Token(1), Interest::READABLE);
//     for (;;) {
//         if (auto r = poll.poll(events, std::nullopt); !r) {
//             if (pollux::is_interrupted(r.error())) continue;
//             return r.error();
//         }
//         for (const pollux::Event& ev : events) { ... drain ev.token()'s source ... }
//     }
//
// The contracts a user must know:
//
// * Edge-triggered. An event says the readiness *changed*. After a readable event,
//   read until the call returns WouldBlock (`is_would_block`); after a writable event,
//   write until WouldBlock or until you have nothing left. If you stop early, no new
//   event is promised even if more data arrives.
// * Spurious events happen. An event is a hint: the operation may still return
//   WouldBlock. That is not an error; wait for the next event.
// * Only readable and writable are guaranteed. `is_error`, `is_read_closed` and
//   `is_write_closed` are hints; still handle EOF (read returns 0) and errors in I/O.
// * Tokens. A `Token` is your name for a registration; pollux stores it with the fd
//   and returns it untouched in every `Event`. pollux reserves no values. If tokens
//   are reused after a close, stale events can name the new owner: either keep tokens
//   unique or check a generation (the reactor layer does this for you).
// * Deregister before close. Closing the last fd for a file removes it from epoll, but
//   a dup'ed fd (fork, dup, SCM_RIGHTS) keeps the registration alive; deregister first.
// * `poll(events, timeout)`: no timeout blocks until an event; zero still makes the
//   syscall and returns what is ready; other timeouts round *up* to whole ms. At most
//   `events.capacity()` events come back; the rest arrive on the next call. A signal
//   returns `std::errc::interrupted` (EINTR) and is not retried for you. Timing out
//   returns success with `events` empty.
// * Threads. One thread polls a given Poll. Its `Registry` (and clones from
//   `try_clone`) may be used from any thread, even while `poll` blocks; a source that
//   is registered already-ready wakes the blocked poll. Use a `Waker` to wake it
//   deliberately.
// * Keep the Poll alive while its sources are in use. Every fd pollux creates is
//   CLOEXEC.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>

#include "pollux/core/detail/syscall.hpp"
#include "pollux/core/events.hpp"
#include "pollux/core/registry.hpp"
#include "pollux/core/result.hpp"

namespace pollux {

class Poll {
public:
    // epoll_create1(EPOLL_CLOEXEC).
    static Result<Poll> create();

    Poll() noexcept = default;  // an empty Poll; every call returns EBADF
    Poll(Poll&&) noexcept = default;
    Poll& operator=(Poll&&) noexcept = default;

    // Clears `events`, then waits until at least one event is ready or `timeout`
    // passes (see the header comment for the rounding rules). Inline: a reactor calls
    // it once per loop iteration, and it goes straight to the kernel.
    Result<void> poll(Events& events, std::optional<std::chrono::nanoseconds> timeout) {
        events.clear();
        if (registry_.fd() < 0) [[unlikely]] return error(std::errc::bad_file_descriptor);
        if (events.capacity() == 0) [[unlikely]] return error(std::errc::invalid_argument);
        const int max = events.capacity() > static_cast<std::size_t>(INT_MAX) ? INT_MAX
                                                                               : static_cast<int>(events.capacity());
        const long n = detail::sys_epoll_wait(registry_.fd(), events.raw(), max, timeout_ms(timeout));
        if (n < 0) [[unlikely]] return std::unexpected(errno_code(static_cast<int>(-n)));
        events.size_ = static_cast<std::size_t>(n);
        return {};
    }

    const Registry& registry() const noexcept { return registry_; }

    // The epoll fd, for diagnostics or nesting into another poller. Do not close it.
    int fd() const noexcept { return registry_.fd(); }

private:
    explicit Poll(Registry registry) noexcept : registry_(std::move(registry)) {}

    // None blocks (-1); zero stays 0; anything else rounds up to whole ms, saturating.
    static int timeout_ms(std::optional<std::chrono::nanoseconds> timeout) noexcept {
        if (!timeout) return -1;
        const std::int64_t ns = timeout->count();
        if (ns <= 0) return 0;
        const std::int64_t ms = (ns - 1) / 1'000'000 + 1;  // ceil, without overflow
        return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
    }

    Registry registry_;
};

}  // namespace pollux
