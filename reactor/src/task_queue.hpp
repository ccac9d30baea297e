// reactor/src/task_queue.hpp — internal.
//
// The reactor's cross-thread task queue: a moodycamel::ConcurrentQueue<Task> plus the
// "notified" flag of the wake-coalescing protocol (evpp's notified_, libuv's pending bit).
//
//   producer (any thread)                    consumer (loop thread)
//   ---------------------                    ----------------------
//   queue.enqueue(task)                      if (take_notified())      // flag := false
//   if (mark_notified())  // false -> true       run(budget)           // drain after clearing
//       waker.wake()
//
// Why no task is lost: both sides use acq_rel RMWs on the one flag, so they are totally
// ordered. If a producer's exchange comes after the consumer's clear, it reads false and
// wakes the loop, whose next drain finds the task. If it comes before, the consumer's
// clear reads from it (or from a later RMW in the same release sequence), so the enqueue
// happens-before the drain, and moodycamel's try_dequeue then sees it (its "may miss an
// element" caveat is about enqueues that are concurrent with the dequeue, not ones that
// happen-before it). A plain load as a fast path would need a seq_cst fence on each side
// (Dekker), which TSan cannot model; one exchange per post is the honest price.
#pragma once

#include <atomic>
#include <cstddef>

#include <concurrentqueue/concurrentqueue.h>

#include "pollux/reactor/event_handler.hpp"

namespace pollux::reactor {

// Bigger blocks than moodycamel's default 32: fewer block hand-offs (each a few atomic
// RMWs and, for implicit producers, a block-index insert) per task. 256 tasks of 40
// bytes = 10 KiB per block.
struct TaskQueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
    static constexpr std::size_t BLOCK_SIZE = 256;
    static constexpr std::size_t IMPLICIT_INITIAL_INDEX_SIZE = 64;
};

class TaskQueue {
public:
    using Queue = moodycamel::ConcurrentQueue<Task, TaskQueueTraits>;
    using ProducerToken = moodycamel::ProducerToken;

    // Pre-allocates kInitialBlocks blocks (40 KiB); more are allocated on demand and then
    // recycled.
    TaskQueue() : queue_(kInitialBlocks * TaskQueueTraits::BLOCK_SIZE), consumer_(queue_) {}

    // Any thread. False only if the queue could not allocate a block.
    bool push(Task&& task) { return queue_.enqueue(std::move(task)); }
    bool push(ProducerToken& token, Task&& task) { return queue_.enqueue(token, std::move(task)); }
    ProducerToken make_token() { return ProducerToken(queue_); }

    // Producer side, after push: true when this call turned the flag on, which makes the
    // caller responsible for waking the loop.
    bool mark_notified() noexcept { return !notified_.exchange(true, std::memory_order_acq_rel); }

    // Loop side: clears the flag; true if it was set. Call before draining.
    bool take_notified() noexcept { return notified_.exchange(false, std::memory_order_acq_rel); }
    // Loop side: whether a drain is owed (used to pick a zero poll timeout).
    bool notified() const noexcept { return notified_.load(std::memory_order_acquire); }

    // Any thread: tasks queued and not yet dequeued (approximate under concurrency).
    std::size_t size_approx() const noexcept { return queue_.size_approx(); }

    // Loop side: dequeues and runs up to `budget` tasks, destroying each right after it
    // runs. Returns how many ran. noexcept: a throwing task terminates (reactor.hpp,
    // Exceptions).
    std::size_t run(std::size_t budget) noexcept;
    // Loop side: dequeues and destroys every queued task, unrun. Returns how many.
    std::size_t discard() noexcept;

private:
    static constexpr std::size_t kBatch = 32;
    static constexpr std::size_t kInitialBlocks = 4;

    Queue queue_;
    moodycamel::ConsumerToken consumer_;             // loop thread only
    alignas(64) std::atomic<bool> notified_{false};  // shared by producers and the loop
};

}  // namespace pollux::reactor
