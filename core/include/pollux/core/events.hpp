// pollux/core/events.hpp — public.
//
// The buffer `Poll::poll` fills. Its capacity is the most events one poll returns;
// readiness beyond it is kept by the kernel and comes on the next call. Allocated
// once; polling never allocates.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "pollux/core/event.hpp"

namespace pollux {

class Events {
public:
    // Room for `capacity` events. A capacity of 0 is allowed here, but polling into it
    // fails with `std::errc::invalid_argument`.
    static Events with_capacity(std::size_t capacity);

    Events() noexcept = default;
    Events(Events&& other) noexcept
        : buf_(std::move(other.buf_)),
          capacity_(std::exchange(other.capacity_, 0)),
          size_(std::exchange(other.size_, 0)) {}
    Events& operator=(Events&& other) noexcept {
        buf_ = std::move(other.buf_);
        capacity_ = std::exchange(other.capacity_, 0);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; }

    const Event* begin() const noexcept { return buf_.get(); }
    const Event* end() const noexcept { return buf_.get() + size_; }
    const Event& operator[](std::size_t i) const noexcept { return buf_[i]; }

private:
    friend class Poll;
    // Event is standard-layout with epoll_event as its only member, so the two are
    // pointer-interconvertible: the buffer goes to epoll_wait as it is.
    ::epoll_event* raw() noexcept { return buf_ ? &buf_[0].raw_ : nullptr; }

    std::unique_ptr<Event[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
};

}  // namespace pollux
