// core/src/poll.cpp
#include "pollux/core/poll.hpp"

#include <atomic>
#include <climits>

#include "sys/epoll.hpp"

namespace pollux {
namespace {

// Ids tell Polls apart for the IoSource association checks. Process-wide by nature;
// only ever incremented.
std::atomic<std::size_t> next_poll_id{1};

// None blocks (-1); zero stays 0; anything else rounds up to whole ms, saturating.
int timeout_to_ms(std::optional<std::chrono::nanoseconds> timeout) noexcept {
    if (!timeout) return -1;
    if (timeout->count() <= 0) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace

Result<Poll> Poll::create() {
    auto epoll = sys::epoll_create();
    if (!epoll) return std::unexpected(epoll.error());
    const std::size_t id = next_poll_id.fetch_add(1, std::memory_order_relaxed);
    return Poll(Registry(std::move(*epoll), id, std::make_shared<std::atomic<bool>>(false)));
}

Result<void> Poll::poll(Events& events, std::optional<std::chrono::nanoseconds> timeout) {
    events.clear();
    auto n = sys::epoll_wait(registry_.fd(), events.raw(), events.capacity(), timeout_to_ms(timeout));
    if (!n) return std::unexpected(n.error());
    events.size_ = *n;
    return {};
}

}  // namespace pollux
