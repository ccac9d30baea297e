// core/src/registry.cpp
#include "pollux/core/registry.hpp"

#include "sys/epoll.hpp"

namespace pollux {

Result<Registry> Registry::try_clone() const {
    auto copy = epoll_.try_clone();
    if (!copy) return std::unexpected(copy.error());
    return Registry(std::move(*copy), poll_id_, has_waker_);
}

Result<void> Registry::add_fd(int fd, Token token, Interest interest) const {
    return sys::epoll_add(epoll_.get(), fd, token, interest);
}

Result<void> Registry::modify_fd(int fd, Token token, Interest interest) const {
    return sys::epoll_modify(epoll_.get(), fd, token, interest);
}

Result<void> Registry::remove_fd(int fd) const { return sys::epoll_remove(epoll_.get(), fd); }

}  // namespace pollux
