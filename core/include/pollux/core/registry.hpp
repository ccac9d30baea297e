// pollux/core/registry.hpp — public.
//
// A `Registry` adds, changes and removes the sources a `Poll` watches. Obtain it from
// `Poll::registry()`, or an independent handle with `try_clone()`. All its methods are
// thread-safe and may run while another thread is blocked in `Poll::poll`.
//
// Spelling: `register` is a C++ keyword, so mio's trio is
//     register_source(source, token, interest)  — start watching (EPOLL_CTL_ADD)
//     reregister(source, token, interest)       — replace token AND interest (EPOLL_CTL_MOD)
//     deregister(source)                        — stop watching (EPOLL_CTL_DEL)
// Every registration is edge-triggered (EPOLLET).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/source.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

class Registry {
public:
    Registry() noexcept = default;  // an empty handle; every call returns EBADF
    // A moved-from Registry is empty: it keeps neither the fd nor the Poll's id, so its
    // calls fail with EBADF before touching any source's association.
    Registry(Registry&& other) noexcept
        : epoll_(std::move(other.epoll_)),
          poll_id_(std::exchange(other.poll_id_, 0)),
          has_waker_(std::move(other.has_waker_)) {}
    Registry& operator=(Registry&& other) noexcept {
        epoll_ = std::move(other.epoll_);
        poll_id_ = std::exchange(other.poll_id_, 0);
        has_waker_ = std::move(other.has_waker_);
        return *this;
    }

    // Starts delivering events for `interest` on `source`, tagged with `token`.
    // A source already registered (here or with another Poll) gets
    // `Errc::already_registered` / `Errc::registered_elsewhere`.
    template <Source S>
    Result<void> register_source(S& source, Token token, Interest interest) const {
        return source.register_source(*this, token, interest);
    }
    // Replaces the registration's token and interest completely. A source that is not
    // registered with this Poll gets `Errc::not_registered` / `Errc::registered_elsewhere`.
    template <Source S>
    Result<void> reregister(S& source, Token token, Interest interest) const {
        return source.reregister(*this, token, interest);
    }
    // Stops events for `source`. Once this returns, a later `poll` does not report it.
    // Deregister before closing a source whose fd may have been dup'ed.
    template <Source S>
    Result<void> deregister(S& source) const {
        return source.deregister(*this);
    }

    // A second handle to the same Poll (the epoll fd is dup'ed with CLOEXEC).
    Result<Registry> try_clone() const;

    // The epoll fd, for diagnostics. Do not close it.
    int fd() const noexcept { return epoll_.get(); }

    // ---- For `Source` implementations (IoSource, SourceFd, Waker) ----------------
    // The raw epoll_ctl operations on an fd the caller guarantees is open.
    Result<void> add_fd(int fd, Token token, Interest interest) const;
    Result<void> modify_fd(int fd, Token token, Interest interest) const;
    Result<void> remove_fd(int fd) const;
    // Identifies the Poll behind this handle; equal for clones, never 0.
    std::size_t poll_id() const noexcept { return poll_id_; }

private:
    friend class Poll;
    friend class Waker;
    Registry(OwnedFd epoll, std::size_t poll_id, std::shared_ptr<std::atomic<bool>> has_waker) noexcept
        : epoll_(std::move(epoll)), poll_id_(poll_id), has_waker_(std::move(has_waker)) {}

    OwnedFd epoll_;
    std::size_t poll_id_ = 0;
    // Shared by the Poll and all its clones: whether a Waker is alive on this Poll.
    std::shared_ptr<std::atomic<bool>> has_waker_;
};

}  // namespace pollux
