// framework/src/heap_trim.hpp — internal.
//
// Giving memory back after a burst. Chunks freed beyond a pool's cache go back to
// malloc, which keeps them in the freeing thread's arena: after 100 slow consumers were
// cut at 8 MiB each, RSS would stay near its peak with no connection open. So every
// allocation and release of buffer storage is counted per thread, and a reactor's
// once-a-second refresh calls malloc_trim(0) when its thread has released at least
// kHeapTrimThreshold bytes since the last trim AND allocated none since the previous
// refresh: the burst is over. Trimming while the load goes on would hand back pages the
// next allocation faults in again (measured: a quarter of the server's CPU in page
// faults with 200 flooding clients). malloc_trim walks every arena and returns whole
// free pages with MADV_DONTNEED; it is never on a per-message path.
#pragma once

#include <cstddef>

namespace pollux::framework::detail {

inline constexpr std::size_t kHeapTrimThreshold = std::size_t{4} << 20;

// Any thread: `bytes` of buffer storage were just taken from / given back to the heap.
void note_heap_acquire(std::size_t bytes) noexcept;
void note_heap_release(std::size_t bytes) noexcept;
// Once a second per reactor thread: trims if this thread released at least
// kHeapTrimThreshold bytes since its last trim and allocated nothing since the last
// call. True if it trimmed. Never trims under ASan or TSan (their allocator is not
// glibc's).
bool trim_heap_if_due() noexcept;

}  // namespace pollux::framework::detail
