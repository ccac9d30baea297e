// core/src/poll.cpp
#include "pollux/core/poll.hpp"

#include <atomic>

#include "sys/epoll.hpp"

namespace pollux {
namespace {

// Ids tell Polls apart for the IoSource association checks. Process-wide by nature;
// only ever incremented.
std::atomic<std::size_t> next_poll_id{1};

}  // namespace

Result<Poll> Poll::create() {
    auto epoll = sys::epoll_create();
    if (!epoll) return std::unexpected(epoll.error());
    const std::size_t id = next_poll_id.fetch_add(1, std::memory_order_relaxed);
    return Poll(Registry(std::move(*epoll), id, std::make_shared<std::atomic<bool>>(false)));
}

}  // namespace pollux
