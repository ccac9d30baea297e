// core/src/sys/epoll.cpp — internal: epoll and eventfd syscalls.
#include "sys/epoll.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>


namespace pollux::sys {

Result<OwnedFd> epoll_create() {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return last_error();
    return OwnedFd(fd);
}

namespace {
Result<void> ctl(int epfd, int op, int fd, ::epoll_event* ev) {
    if (epfd < 0 || fd < 0) return error(std::errc::bad_file_descriptor);
    if (::epoll_ctl(epfd, op, fd, ev) < 0) return last_error();
    return {};
}
}  // namespace

Result<void> epoll_add(int epfd, int fd, Token token, Interest interest) {
    ::epoll_event ev{};
    ev.events = interest_to_epoll(interest);
    ev.data.u64 = token.value();
    return ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

Result<void> epoll_modify(int epfd, int fd, Token token, Interest interest) {
    ::epoll_event ev{};
    ev.events = interest_to_epoll(interest);
    ev.data.u64 = token.value();
    return ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

Result<void> epoll_remove(int epfd, int fd) { return ctl(epfd, EPOLL_CTL_DEL, fd, nullptr); }

Result<OwnedFd> eventfd_create() {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return last_error();
    return OwnedFd(fd);
}

Result<void> eventfd_signal(int fd) {
    if (fd < 0) return error(std::errc::bad_file_descriptor);
    const std::uint64_t one = 1;
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (::write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) return {};
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return last_error();
        // The counter is at its maximum: read it back to zero, then write again.
        // Resetting it keeps the fd readable-edge semantics: the write that follows is
        // a new edge, so the blocked poll still wakes.
        std::uint64_t drained = 0;
        if (::read(fd, &drained, sizeof drained) < 0 && errno != EAGAIN) return last_error();
    }
    return error(std::errc::resource_unavailable_try_again);
}

}  // namespace pollux::sys
