// pollux/framework/buffer_pool.hpp — public.
//
// `BufferPool` is a reactor's cache of fixed-size storage chunks. `Buffer` (input) and
// `OutputQueue` (output) take their storage from it on demand and give it back as soon
// as they are empty, so an idle connection holds no buffer memory and a busy one
// reuses the same few chunks without touching the heap:
//
//     BufferPool pool;                 // one per reactor, 16 KiB chunks
//     Buffer in(&pool);                // holds nothing until data arrives
//     OutputQueue out(&pool);
//
// The contracts:
//
// * Single-threaded. A pool belongs to one reactor thread. `acquire`, `release` and
//   everything that may call them (Buffer and OutputQueue members that add or drop
//   data, their destructors) run on that thread only. There are no locks and no
//   atomics. A Buffer that must cross threads is built without a pool.
// * Chunks. Every chunk has `chunk_size()` payload bytes behind a small header
//   (`Chunk`). `acquire` pops the free list, or allocates when it is empty; `release`
//   pushes onto the free list, or frees the chunk when `max_cached()` chunks are
//   already cached. Steady state (acquire/release pairs) therefore allocates nothing.
// * Lifetime. The pool must outlive every chunk it handed out: destroy Buffers and
//   OutputQueues before their pool. The destructor frees the cached chunks.
// * Errors. `acquire` throws std::bad_alloc when the heap is exhausted, like any
//   container; it never returns null.
//
// `Chunk` is the storage block shared by Buffer and OutputQueue. It carries the pool it
// came from (or none, for a heap chunk), so whoever ends up holding it can free it with
// `Chunk::free`. Applications rarely touch it directly.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>

namespace pollux::framework {

class BufferPool;

// A storage block: this header, then `capacity` payload bytes. `[begin, end)` is the
// part of the payload that holds data; its owner (a Buffer or an OutputQueue) keeps it
// up to date. `next` links chunks in a pool's free list or an OutputQueue's chain.
struct alignas(16) Chunk {
    Chunk* next = nullptr;
    BufferPool* pool = nullptr;  // the owner pool, or null for a heap chunk
    std::size_t capacity = 0;    // payload bytes
    std::size_t begin = 0;
    std::size_t end = 0;

    std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
    const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
    std::size_t size() const noexcept { return end - begin; }
    std::size_t tail_room() const noexcept { return capacity - end; }

    // A heap chunk (pool == nullptr) with `capacity` payload bytes. Throws std::bad_alloc.
    static Chunk* allocate(std::size_t capacity);
    // Returns `c` to its pool, or frees it if it is a heap chunk. Null is a no-op.
    static void free(Chunk* c) noexcept;

private:
    static void free_heap(Chunk* c) noexcept;
};

class BufferPool {
public:
    static constexpr std::size_t kDefaultChunkSize = 16 * 1024;
    static constexpr std::size_t kDefaultMaxCached = 256;  // 4 MiB of 16 KiB chunks
    static constexpr std::size_t kMinChunkSize = 64;

    // `chunk_size` is the payload size of every chunk (raised to kMinChunkSize);
    // `max_cached` caps the free list, beyond which released chunks are freed.
    explicit BufferPool(std::size_t chunk_size = kDefaultChunkSize,
                        std::size_t max_cached = kDefaultMaxCached) noexcept;
    ~BufferPool();

    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A chunk with begin == end == 0 and next == null. Reuses a cached chunk if any.
    Chunk* acquire() {
        Chunk* c = free_;
        if (c == nullptr) return allocate_chunk();
        free_ = c->next;
        --cached_;
        ++live_;
        c->next = nullptr;
        c->begin = c->end = 0;
        return c;
    }

    // Takes back a chunk this pool handed out (`c->pool == this`).
    void release(Chunk* c) noexcept {
        assert(c != nullptr && c->pool == this);
        --live_;
        if (cached_ >= max_cached_) {
            free_chunk(c);
            return;
        }
        c->next = free_;
        free_ = c;
        ++cached_;
    }

    // Fills the cache up to min(n, max_cached()) chunks ahead of time.
    void reserve(std::size_t n);
    // Frees cached chunks until at most `keep` remain.
    void trim(std::size_t keep = 0) noexcept;

    std::size_t chunk_size() const noexcept { return chunk_size_; }
    std::size_t max_cached() const noexcept { return max_cached_; }

    struct Stats {
        std::size_t live = 0;          // handed out and not yet released
        std::size_t cached = 0;        // on the free list
        std::uint64_t allocations = 0; // chunks ever allocated from the heap
        std::uint64_t frees = 0;       // chunks ever returned to the heap
    };
    Stats stats() const noexcept { return {live_, cached_, allocations_, frees_}; }

private:
    Chunk* allocate_chunk();
    void free_chunk(Chunk* c) noexcept;

    Chunk* free_ = nullptr;
    std::size_t chunk_size_;
    std::size_t max_cached_;
    std::size_t live_ = 0;
    std::size_t cached_ = 0;
    std::uint64_t allocations_ = 0;
    std::uint64_t frees_ = 0;
};

inline void Chunk::free(Chunk* c) noexcept {
    if (c == nullptr) return;
    if (c->pool != nullptr) {
        c->pool->release(c);
    } else {
        free_heap(c);
    }
}

}  // namespace pollux::framework
