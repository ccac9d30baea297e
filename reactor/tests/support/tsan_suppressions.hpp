// reactor/tests/support/tsan_suppressions.hpp — internal (tests).
//
// TSan does not model std::atomic_thread_fence. moodycamel's explicit producers reuse a
// block once every slot's "empty" flag is set, and order the consumer's last read of a
// slot before the producer's next write with a release/acquire *fence* pair, so TSan
// reports that reuse (the producer's move into a recycled slot vs the consumer's move
// out of it) as a race. These reports are about moodycamel's block recycling only and
// are suppressed; the reactor's own synchronization (the notified flag, the element
// hand-off through the queue's acquire/release index, the stop/finished states) stays
// checked. Implicit producers (Reactor::post) recycle blocks through an atomic free list
// and need no suppression. See docs/reactor.md, "ThreadSanitizer notes".
//
// It defines a function: include it from exactly ONE source file per test binary.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define POLLUX_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POLLUX_TEST_TSAN 1
#endif
#endif

#ifdef POLLUX_TEST_TSAN
extern "C" const char* __tsan_default_suppressions() {
    return "race:moodycamel::ConcurrentQueue*ExplicitProducer::enqueue\n"
           "race:moodycamel::ConcurrentQueue*ExplicitProducer::dequeue\n";
}
#endif
