// pollux/core/waker.hpp — public.
//
// A `Waker` makes a blocked `Poll::poll` return, from any thread, with a readable
// event carrying the Waker's token. It is an eventfd registered edge-triggered and
// never drained: each `wake()` is a new edge, so several wakes before a poll give one
// event and a wake after a poll gives a new one.
//
// One Waker per Poll: creating a second while the first is alive returns
// `Errc::waker_exists` (mio panics in debug builds). Destroying the Waker frees the
// slot. Share one Waker between threads by reference or shared_ptr.
#pragma once

#include <atomic>
#include <memory>

#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

class Registry;

class Waker {
public:
    static Result<Waker> create(const Registry& registry, Token token);

    Waker(Waker&&) noexcept = default;
    Waker& operator=(Waker&&) noexcept;
    Waker(const Waker&) = delete;
    Waker& operator=(const Waker&) = delete;
    ~Waker();

    // Thread-safe. Never fails on a live Waker: when the eventfd counter is full it is
    // reset and the write retried. EBADF on a moved-from Waker.
    Result<void> wake() const;

    // The eventfd, for diagnostics and tests. Do not read, write or close it.
    int fd() const noexcept { return fd_.get(); }

private:
    Waker(OwnedFd fd, std::shared_ptr<std::atomic<bool>> has_waker) noexcept
        : fd_(std::move(fd)), has_waker_(std::move(has_waker)) {}
    void release_slot() noexcept;

    OwnedFd fd_;
    std::shared_ptr<std::atomic<bool>> has_waker_;  // the Poll's "a Waker is alive" flag
};

}  // namespace pollux
