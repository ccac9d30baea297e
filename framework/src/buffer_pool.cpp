// framework/src/buffer_pool.cpp — BufferPool and Chunk storage.
#include "pollux/framework/buffer_pool.hpp"

#include <algorithm>
#include <cassert>
#include <new>

#include "heap_trim.hpp"

namespace pollux::framework {

static_assert(sizeof(Chunk) == 48, "docs/framework.md quotes a 48-byte chunk header");

namespace {

// One heap block: the Chunk header followed by `capacity` payload bytes. operator new
// returns memory aligned for any fundamental type (16 bytes), enough for alignas(16).
Chunk* new_block(std::size_t capacity, BufferPool* pool) {
    static_assert(alignof(Chunk) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    void* p = ::operator new(sizeof(Chunk) + capacity);
    detail::note_heap_acquire(sizeof(Chunk) + capacity);
    Chunk* c = ::new (p) Chunk;
    c->pool = pool;
    c->capacity = capacity;
    return c;
}

void delete_block(Chunk* c) noexcept {
    detail::note_heap_release(sizeof(Chunk) + c->capacity);
    c->~Chunk();
    ::operator delete(static_cast<void*>(c));
}

}  // namespace

Chunk* Chunk::allocate(std::size_t capacity) { return new_block(capacity, nullptr); }

void Chunk::free_heap(Chunk* c) noexcept { delete_block(c); }

void Chunk::free(Chunk* c) noexcept {
    if (c == nullptr) return;
    if (c->pool != nullptr) {
        c->pool->release(c);
    } else {
        free_heap(c);
    }
}

BufferPool::BufferPool(std::size_t chunk_size, std::size_t max_cached) noexcept
    : chunk_size_(std::max(chunk_size, kMinChunkSize)), max_cached_(max_cached) {}

BufferPool::~BufferPool() {
    set_owner_to_this_thread();  // whoever destroys it owns it now
    trim(0);
    assert(live_ == 0 && "a Buffer or OutputQueue outlived its BufferPool");
}

void BufferPool::release_remote(Chunk* c) noexcept {
    Chunk* head = remote_.load(std::memory_order_relaxed);
    do {
        c->next = head;
    } while (!remote_.compare_exchange_weak(head, c, std::memory_order_release, std::memory_order_relaxed));
}

void BufferPool::take_back_remote() noexcept {
    Chunk* list = remote_.exchange(nullptr, std::memory_order_acquire);
    while (list != nullptr) {
        Chunk* c = list;
        list = list->next;
        --live_;
        cache(c);
    }
}

Chunk* BufferPool::acquire_slow() {
    if (remote_.load(std::memory_order_relaxed) != nullptr) {
        take_back_remote();
        if (free_ != nullptr) return acquire();
    }
    return allocate_chunk();
}

Chunk* BufferPool::allocate_chunk() {
    Chunk* c = new_block(chunk_size_, this);
    ++allocations_;
    if (++live_ > recent_peak_) recent_peak_ = live_;
    return c;
}

void BufferPool::decay() noexcept {
    take_back_remote();
    const std::size_t want = recent_peak_ > live_ ? recent_peak_ - live_ : 0;
    if (cached_ > want) trim(want);
    recent_peak_ = live_;
}

void BufferPool::free_chunk(Chunk* c) noexcept {
    delete_block(c);
    ++frees_;
}

void BufferPool::reserve(std::size_t n) {
    n = std::min(n, max_cached_);
    while (cached_ < n) {
        Chunk* c = new_block(chunk_size_, this);
        ++allocations_;
        c->next = free_;
        free_ = c;
        ++cached_;
    }
}

void BufferPool::trim(std::size_t keep) noexcept {
    take_back_remote();
    while (cached_ > keep) {
        Chunk* c = free_;
        free_ = c->next;
        --cached_;
        free_chunk(c);
    }
}

}  // namespace pollux::framework
