// core/tests/support/fd_flags.hpp — test helper: read an fd's FD_CLOEXEC and O_NONBLOCK
// bits, and tell whether an fd number is open at all.
#pragma once

#include <fcntl.h>

#include <cerrno>

namespace pollux::test {

inline bool is_cloexec(int fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

inline bool is_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

// False once the fd is closed: F_GETFD fails with EBADF.
inline bool is_open_fd(int fd) {
    errno = 0;
    return ::fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

}  // namespace pollux::test
