// pollux/core/owned_fd.hpp — public.
//
// `OwnedFd` is the one RAII owner of a file descriptor in pollux: it closes its fd on
// destruction, moves but never copies, and a moved-from OwnedFd holds -1.
#pragma once

#include <utility>

#include "pollux/core/result.hpp"

namespace pollux {

class OwnedFd {
public:
    OwnedFd() noexcept = default;
    // Takes ownership of `fd` (which may be -1 for "none").
    explicit OwnedFd(int fd) noexcept : fd_(fd) {}
    OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    OwnedFd& operator=(OwnedFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    ~OwnedFd() { reset(); }

    int get() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return is_open(); }

    // Gives up ownership without closing; the caller now owns the returned fd.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    // Closes the current fd (if any) and owns `fd` instead.
    void reset(int fd = -1) noexcept;

    // A new CLOEXEC descriptor for the same open file description (F_DUPFD_CLOEXEC).
    Result<OwnedFd> try_clone() const;

private:
    int fd_ = -1;
};

}  // namespace pollux
