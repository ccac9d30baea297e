// core/src/events.cpp
#include "pollux/core/events.hpp"

#include <type_traits>

namespace pollux {

// Event is the kernel's epoll_event with methods, so the buffer goes to epoll_wait
// as it is — no copy per poll.
static_assert(sizeof(Event) == sizeof(::epoll_event));
static_assert(std::is_standard_layout_v<Event>);

Events Events::with_capacity(std::size_t capacity) {
    Events events;
    if (capacity > 0) events.buf_ = std::make_unique<Event[]>(capacity);
    events.capacity_ = capacity;
    return events;
}

}  // namespace pollux
