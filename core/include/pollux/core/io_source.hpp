// pollux/core/io_source.hpp — public.
//
// `IoSource` owns one non-blocking fd and makes it a registrable `Source`. Every pollux
// socket and pipe end wraps one. Do all I/O through `do_io`, so that a future selector
// that needs to re-arm after WouldBlock can hook in (on epoll it simply calls `f`).
//
// Association checks (mio's debug-only SelectorId, kept in every pollux build because
// it costs one atomic exchange per registration call, never per event):
//   register_source twice           -> Errc::already_registered
//   register with a second Poll     -> Errc::registered_elsewhere
//   reregister/deregister unknown   -> Errc::not_registered
//   reregister/deregister elsewhere -> Errc::registered_elsewhere
// After a deregister the source may be registered again, with any Poll.
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

class Registry;

class IoSource {
public:
    IoSource() noexcept = default;
    explicit IoSource(OwnedFd fd) noexcept : fd_(std::move(fd)) {}
    IoSource(IoSource&& other) noexcept
        : fd_(std::move(other.fd_)), poll_id_(other.poll_id_.exchange(0, std::memory_order_relaxed)) {}
    IoSource& operator=(IoSource&& other) noexcept {
        fd_ = std::move(other.fd_);
        poll_id_.store(other.poll_id_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
        return *this;
    }

    // Runs `f(fd)` and returns its result; EBADF when this source holds no fd
    // (moved-from or released). `f` must return a `Result<...>`.
    template <class F>
    auto do_io(F&& f) const -> std::invoke_result_t<F, int> {
        if (!fd_) return error(std::errc::bad_file_descriptor);
        return std::forward<F>(f)(fd_.get());
    }

    int fd() const noexcept { return fd_.get(); }
    bool is_open() const noexcept { return fd_.is_open(); }
    // Gives up the fd (mio's into_inner). Deregister first.
    OwnedFd release() noexcept {
        poll_id_.store(0, std::memory_order_relaxed);
        return std::move(fd_);
    }

    Result<void> register_source(const Registry& registry, Token token, Interest interest);
    Result<void> reregister(const Registry& registry, Token token, Interest interest);
    Result<void> deregister(const Registry& registry);

private:
    OwnedFd fd_;
    // Id of the Poll this source is registered with, 0 when none.
    std::atomic<std::size_t> poll_id_{0};
};

// The base of every type that owns one IoSource and is itself a `Source`: each pollux
// socket and pipe end. It gives them the same fd accessors and the same three
// registration members, forwarding to the IoSource (and so to its checks).
class IoSourceOwner {
public:
    // The fd, still owned by this object (-1 when empty). Do not close it.
    int fd() const noexcept { return io_.fd(); }
    // Gives the fd away; this object becomes empty. Deregister first.
    OwnedFd into_fd() noexcept { return io_.release(); }

    // Source: use through Registry::register_source / reregister / deregister.
    Result<void> register_source(const Registry& r, Token t, Interest i) { return io_.register_source(r, t, i); }
    Result<void> reregister(const Registry& r, Token t, Interest i) { return io_.reregister(r, t, i); }
    Result<void> deregister(const Registry& r) { return io_.deregister(r); }

protected:
    IoSourceOwner() noexcept = default;
    explicit IoSourceOwner(OwnedFd fd) noexcept : io_(std::move(fd)) {}
    IoSourceOwner(IoSourceOwner&&) noexcept = default;
    IoSourceOwner& operator=(IoSourceOwner&&) noexcept = default;
    ~IoSourceOwner() = default;

    IoSource io_;
};

}  // namespace pollux
