// core/src/waker.cpp
#include "pollux/core/waker.hpp"

#include "pollux/core/interest.hpp"
#include "pollux/core/registry.hpp"
#include "sys/epoll.hpp"

namespace pollux {

Result<Waker> Waker::create(const Registry& registry, Token token) {
    if (!registry.has_waker_) return error(std::errc::bad_file_descriptor);
    if (registry.has_waker_->exchange(true, std::memory_order_acq_rel)) return error(Errc::waker_exists);
    auto fd = sys::eventfd_create();
    if (fd) {
        auto added = registry.add_fd(fd->get(), token, Interest::READABLE);
        if (added) return Waker(std::move(*fd), registry.has_waker_);
        fd = std::unexpected(added.error());
    }
    registry.has_waker_->store(false, std::memory_order_release);
    return std::unexpected(fd.error());
}

Waker& Waker::operator=(Waker&& other) noexcept {
    if (this != &other) {
        release_slot();
        fd_ = std::move(other.fd_);
        has_waker_ = std::move(other.has_waker_);
    }
    return *this;
}

Waker::~Waker() { release_slot(); }

void Waker::release_slot() noexcept {
    // Closing the eventfd removes it from the epoll set (pollux never dups it).
    fd_.reset();
    if (has_waker_) has_waker_->store(false, std::memory_order_release);
    has_waker_.reset();
}

Result<void> Waker::wake() const { return sys::eventfd_signal(fd_.get()); }

}  // namespace pollux
