// core/src/sys/epoll.hpp — internal. The only place pollux talks to epoll and eventfd.
// A second selector (kqueue, io_uring) would sit beside this file.
#pragma once

#include <sys/epoll.h>

#include <climits>
#include <cstddef>
#include <cstdint>

#include "pollux/core/detail/syscall.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"

namespace pollux::sys {

// EPOLLET always; READABLE -> EPOLLIN|EPOLLRDHUP, WRITABLE -> EPOLLOUT, PRIORITY -> EPOLLPRI.
constexpr std::uint32_t interest_to_epoll(Interest interest) noexcept {
    std::uint32_t flags = EPOLLET;
    if (interest.is_readable()) flags |= EPOLLIN | EPOLLRDHUP;
    if (interest.is_writable()) flags |= EPOLLOUT;
    if (interest.is_priority()) flags |= EPOLLPRI;
    return flags;
}

Result<OwnedFd> epoll_create();
Result<void> epoll_add(int epfd, int fd, Token token, Interest interest);
Result<void> epoll_modify(int epfd, int fd, Token token, Interest interest);
Result<void> epoll_remove(int epfd, int fd);
// epoll_wait into `buf`; returns how many entries were filled. Inline: once per loop
// iteration, straight to the kernel, as the socket data path does.
inline Result<std::size_t> epoll_wait(int epfd, ::epoll_event* buf, std::size_t capacity, int timeout_ms) {
    if (epfd < 0) return error(std::errc::bad_file_descriptor);
    if (capacity == 0) return error(std::errc::invalid_argument);
    const int max = capacity > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(capacity);
    const long n = detail::sys_epoll_wait(epfd, buf, max, timeout_ms);
    if (n < 0) return std::unexpected(errno_code(static_cast<int>(-n)));
    return static_cast<std::size_t>(n);
}

Result<OwnedFd> eventfd_create();
// Adds 1 to the counter; on a full counter resets it and retries.
Result<void> eventfd_signal(int fd);

}  // namespace pollux::sys
