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
// * One owner thread. A pool belongs to one reactor thread (`owner()`; the host sets it
//   with `set_owner_to_this_thread`). `acquire` runs on that thread only, with no
//   locks and no atomics. `release` may run anywhere: on the owner it is the plain
//   free-list push; on any other thread -- a Buffer moved out of on_data and destroyed
//   on another reactor or a worker -- the chunk goes onto a lock-free return list that
//   the owner takes back on its next `acquire` that finds the free list empty (or on
//   `trim`). So moving pooled storage across threads is safe, as long as the pool
//   still exists when the chunk is freed (see Lifetime).
// * Chunks. Every chunk has `chunk_size()` payload bytes behind a small header
//   (`Chunk`). `acquire` pops the free list, or allocates when it is empty; `release`
//   pushes onto the free list, or frees the chunk when `max_cached()` chunks are
//   already cached. Steady state (acquire/release pairs) therefore allocates nothing.
// * Lifetime. The pool must outlive every chunk it handed out: destroy Buffers and
//   OutputQueues before their pool (for a server's pools: before the server). The
//   destructor takes back the return list and frees the cached chunks.
// * Errors. `acquire` throws std::bad_alloc when the heap is exhausted, like any
//   container; it never returns null.
//
// `Chunk` is the storage block shared by Buffer and OutputQueue. It carries the pool it
// came from (or none, for a heap chunk), so whoever ends up holding it can free it with
// `Chunk::free`. Applications rarely touch it directly.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <thread>

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
    // Returns `c` to its pool, or frees it if it is a heap chunk. Null is a no-op. Out
    // of line: the owner-thread check calls pthread_self, and inlined into every
    // Buffer::consume it would cost the per-message path register saves.
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

    // Owner thread. A chunk with begin == end == 0 and next == null. Reuses a cached
    // chunk if any (taking back chunks returned from other threads first).
    Chunk* acquire() {
        Chunk* c = free_;
        if (c == nullptr) [[unlikely]] return acquire_slow();
        free_ = c->next;
        --cached_;
        if (++live_ > recent_peak_) recent_peak_ = live_;
        c->next = nullptr;
        c->begin = c->end = 0;
        return c;
    }

    // Takes back a chunk this pool handed out (`c->pool == this`). Any thread (see
    // "One owner thread").
    void release(Chunk* c) noexcept {
        assert(c != nullptr && c->pool == this);
        if (owner_.load(std::memory_order_relaxed) != std::this_thread::get_id()) [[unlikely]] {
            release_remote(c);
            return;
        }
        --live_;
        cache(c);
    }

    // Owner thread. Fills the cache up to min(n, max_cached()) chunks ahead of time.
    void reserve(std::size_t n);
    // Owner thread. Takes back returned chunks, then frees cached chunks until at most
    // `keep` remain.
    void trim(std::size_t keep = 0) noexcept;
    // Owner thread, periodically (a server calls it once a second per reactor): shrinks
    // the cache to what the busiest moment since the last call needed on top of what is
    // live now, so the cache a burst filled drains within two periods once the burst is
    // over, while a steady load keeps its chunks.
    void decay() noexcept;

    // The thread whose releases go straight to the free list. Initially the creator.
    std::thread::id owner() const noexcept { return owner_.load(std::memory_order_relaxed); }
    // Makes the calling thread the owner (a reactor's loop thread once it runs, the
    // thread that joined it afterwards). Call it only while no other thread acquires.
    void set_owner_to_this_thread() noexcept { owner_.store(std::this_thread::get_id(), std::memory_order_relaxed); }

    std::size_t chunk_size() const noexcept { return chunk_size_; }
    std::size_t max_cached() const noexcept { return max_cached_; }

    struct Stats {
        std::size_t live = 0;          // handed out and not yet released
        std::size_t cached = 0;        // on the free list
        std::uint64_t allocations = 0; // chunks ever allocated from the heap
        std::uint64_t frees = 0;       // chunks ever returned to the heap
    };
    // Owner thread. `live` still counts chunks other threads returned that the owner
    // has not taken back yet.
    Stats stats() const noexcept { return {live_, cached_, allocations_, frees_}; }

private:
    Chunk* allocate_chunk();
    void free_chunk(Chunk* c) noexcept;
    Chunk* acquire_slow();
    void cache(Chunk* c) noexcept {
        if (cached_ >= max_cached_) {
            free_chunk(c);
            return;
        }
        c->next = free_;
        free_ = c;
        ++cached_;
    }
    void release_remote(Chunk* c) noexcept;
    void take_back_remote() noexcept;  // owner: the return list into the cache

    Chunk* free_ = nullptr;
    std::size_t chunk_size_;
    std::size_t max_cached_;
    std::size_t live_ = 0;
    std::size_t cached_ = 0;
    std::size_t recent_peak_ = 0;  // most chunks live at once since the last decay()
    std::uint64_t allocations_ = 0;
    std::uint64_t frees_ = 0;
    std::atomic<std::thread::id> owner_{std::this_thread::get_id()};
    // Chunks released on other threads (a Treiber stack: they push, the owner takes the
    // whole list with one exchange, so there is no ABA).
    alignas(64) std::atomic<Chunk*> remote_{nullptr};
};

}  // namespace pollux::framework
