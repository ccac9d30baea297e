// pollux/core/event.hpp — public.
//
// One readiness event, as returned by `Poll::poll`. It is the kernel's epoll_event,
// read through mio's formulas. Only `is_readable` and `is_writable` are guaranteed;
// the error and closed flags are best-effort hints (no false positives, but false
// negatives are possible), so still handle errors and EOF in the read or write itself.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <iosfwd>

#include "pollux/core/token.hpp"

namespace pollux {

class Event {
public:
    // Builds an event from raw epoll flags; for tests and diagnostics.
    static constexpr Event from_raw(std::uint32_t epoll_flags, std::uint64_t data) noexcept {
        Event e;
        e.raw_.events = epoll_flags;
        e.raw_.data.u64 = data;
        return e;
    }

    Token token() const noexcept { return Token(static_cast<std::size_t>(raw_.data.u64)); }

    // EPOLLIN or EPOLLPRI: out-of-band data counts as readable.
    bool is_readable() const noexcept { return has(EPOLLIN) || has(EPOLLPRI); }
    // EPOLLOUT.
    bool is_writable() const noexcept { return has(EPOLLOUT); }
    // EPOLLERR: the source is in an error state (take_error() tells which).
    bool is_error() const noexcept { return has(EPOLLERR); }
    // EPOLLHUP, or EPOLLIN with EPOLLRDHUP: the peer shut down its write side
    // (or the read side was shut down locally).
    bool is_read_closed() const noexcept { return has(EPOLLHUP) || (has(EPOLLIN) && has(EPOLLRDHUP)); }
    // EPOLLHUP, or EPOLLOUT with EPOLLERR, or EPOLLERR alone (a pipe whose read end
    // closed). A local shutdown(Write) does not set it on Linux.
    bool is_write_closed() const noexcept {
        return has(EPOLLHUP) || (has(EPOLLOUT) && has(EPOLLERR)) || raw_.events == EPOLLERR;
    }
    // EPOLLPRI.
    bool is_priority() const noexcept { return has(EPOLLPRI); }

    // The raw epoll flags, for diagnostics.
    std::uint32_t raw_flags() const noexcept { return raw_.events; }

private:
    friend class Events;
    bool has(std::uint32_t flag) const noexcept { return (raw_.events & flag) != 0; }

    ::epoll_event raw_{};
};

// Prints `Event { token: Token(n), readable, ... }` listing the flags that are set.
std::ostream& operator<<(std::ostream& os, const Event& event);

}  // namespace pollux
