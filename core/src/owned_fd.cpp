// core/src/owned_fd.cpp
#include "pollux/core/owned_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace pollux {

void OwnedFd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
        // close(2) releases the fd even when it reports EINTR on Linux; never retry.
        ::close(fd_);
    }
    fd_ = fd;
}

Result<OwnedFd> OwnedFd::try_clone() const {
    if (fd_ < 0) return error(std::errc::bad_file_descriptor);
    const int copy = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return last_error();
    return OwnedFd(copy);
}

}  // namespace pollux
