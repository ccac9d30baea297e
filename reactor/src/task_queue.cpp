// reactor/src/task_queue.cpp
// moodycamel uses std::atomic_thread_fence, which GCC's TSan does not model and warns
// about (-Wtsan, an error under -Werror). The pragma must precede the first include of
// <atomic>, because the diagnostic is located in libstdc++'s atomic_base.h.
#if defined(__GNUC__) && !defined(__clang__) && defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "task_queue.hpp"

#include <algorithm>

namespace pollux::reactor {

std::size_t TaskQueue::run(std::size_t budget) noexcept {
    Task batch[kBatch];
    std::size_t ran = 0;
    while (ran < budget) {
        const std::size_t want = std::min(kBatch, budget - ran);
        const std::size_t n = queue_.try_dequeue_bulk(consumer_, batch, want);
        for (std::size_t i = 0; i < n; ++i) {
            batch[i]();
            batch[i] = nullptr;  // free the capture now, on the loop thread
        }
        ran += n;
        if (n < want) break;
    }
    return ran;
}

std::size_t TaskQueue::discard() noexcept {
    Task batch[kBatch];
    std::size_t dropped = 0;
    for (;;) {
        const std::size_t n = queue_.try_dequeue_bulk(consumer_, batch, kBatch);
        for (std::size_t i = 0; i < n; ++i) batch[i] = nullptr;
        dropped += n;
        if (n < kBatch) return dropped;
    }
}

}  // namespace pollux::reactor
