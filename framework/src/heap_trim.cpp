// framework/src/heap_trim.cpp — internal.
#include "heap_trim.hpp"

#include <malloc.h>

// ASan and TSan replace malloc with an allocator of their own: glibc's heap is not the
// one in use, so there is nothing for malloc_trim to give back, and calling it there is
// not safe (an ASan run crashed inside glibc's mtrim, reading the zero page). Under them
// the bookkeeping runs and the trim is skipped.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLLUX_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POLLUX_SANITIZER_HEAP 1
#endif
#endif

namespace pollux::framework::detail {

namespace {
#ifdef POLLUX_SANITIZER_HEAP
constexpr bool kGlibcHeap = false;
#else
constexpr bool kGlibcHeap = true;
#endif
thread_local std::size_t t_released = 0;  // bytes freed to the heap since the last trim
thread_local std::size_t t_acquired = 0;  // bytes taken from the heap since the last check
}  // namespace

void note_heap_acquire(std::size_t bytes) noexcept { t_acquired += bytes; }
void note_heap_release(std::size_t bytes) noexcept { t_released += bytes; }

bool trim_heap_if_due() noexcept {
    const bool busy = t_acquired != 0;  // still allocating: the memory is in use
    t_acquired = 0;
    if (busy || t_released < kHeapTrimThreshold) return false;
    t_released = 0;
    if constexpr (!kGlibcHeap) return false;
    ::malloc_trim(0);
    return true;
}

}  // namespace pollux::framework::detail
