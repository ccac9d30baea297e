// reactor/src/task_queue.cpp
#include "task_queue.hpp"

#include <algorithm>

namespace pollux::reactor {

std::size_t TaskQueue::run(std::size_t budget) {
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

}  // namespace pollux::reactor
