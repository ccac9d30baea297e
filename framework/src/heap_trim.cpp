// framework/src/heap_trim.cpp — internal.
#include "heap_trim.hpp"

#include <malloc.h>

namespace pollux::framework::detail {

namespace {
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
    ::malloc_trim(0);
    return true;
}

}  // namespace pollux::framework::detail
