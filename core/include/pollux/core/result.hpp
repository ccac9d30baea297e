// pollux/core/result.hpp — public.
//
// Every fallible pollux call returns `Result<T>`, a `std::expected<T, std::error_code>`.
// No pollux I/O path throws. `WouldBlock` (EAGAIN) is an ordinary outcome of a
// non-blocking call, so test for it with `is_would_block()` and wait for the next event.
#pragma once

#include <cerrno>
#include <expected>
#include <system_error>

namespace pollux {

template <class T>
using Result = std::expected<T, std::error_code>;

// Errors pollux itself detects, before any syscall is made. Each compares equal to
// the nearest POSIX condition (see `make_error_code`), so code that only knows
// `std::errc` still understands them.
enum class Errc {
    already_registered = 1,  // source registered twice without a deregister (~ EEXIST)
    not_registered,          // reregister/deregister of an unregistered source (~ ENOENT)
    registered_elsewhere,    // the source is registered with another Poll (~ EEXIST)
    waker_exists,            // a second live Waker on one Poll (~ EEXIST)
};

const std::error_category& pollux_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), pollux_category()};
}

// The error for an errno value, in the system category.
inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

// `std::unexpected` carrying the current `errno`. Use right after a failed syscall.
inline std::unexpected<std::error_code> last_error() noexcept {
    return std::unexpected(errno_code(errno));
}

inline std::unexpected<std::error_code> error(std::errc e) noexcept {
    return std::unexpected(std::make_error_code(e));
}

inline std::unexpected<std::error_code> error(Errc e) noexcept {
    return std::unexpected(make_error_code(e));
}

// True for EAGAIN/EWOULDBLOCK: the operation would block; wait for readiness.
inline bool is_would_block(const std::error_code& ec) noexcept {
    return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

// True for EINTR: a signal interrupted the call. `Poll::poll` returns it; callers retry.
inline bool is_interrupted(const std::error_code& ec) noexcept {
    return ec == std::errc::interrupted;
}

template <class T>
bool is_would_block(const Result<T>& r) noexcept {
    return !r.has_value() && is_would_block(r.error());
}

}  // namespace pollux

template <>
struct std::is_error_code_enum<pollux::Errc> : std::true_type {};
