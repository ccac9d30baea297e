// pollux/core/source_fd.hpp — public.
//
// `SourceFd` registers a raw fd that pollux does not own: a timerfd, signalfd,
// inotify fd, or a socket owned by another library. It never closes the fd and makes
// no association checks (the kernel's EEXIST/ENOENT come back unchanged).
#pragma once

#include "pollux/core/interest.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

class Registry;

class SourceFd {
public:
    explicit SourceFd(int fd) noexcept : fd_(fd) {}

    int fd() const noexcept { return fd_; }

    Result<void> register_source(const Registry& registry, Token token, Interest interest);
    Result<void> reregister(const Registry& registry, Token token, Interest interest);
    Result<void> deregister(const Registry& registry);

private:
    int fd_;
};

}  // namespace pollux
