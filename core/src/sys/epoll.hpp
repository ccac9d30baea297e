// core/src/sys/epoll.hpp — internal. Where pollux talks to epoll and eventfd (the wait
// itself is Poll::poll, inline in poll.hpp, through pollux/core/detail/syscall.hpp).
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
Result<OwnedFd> eventfd_create();
// Adds 1 to the counter; on a full counter resets it and retries.
Result<void> eventfd_signal(int fd);

}  // namespace pollux::sys
