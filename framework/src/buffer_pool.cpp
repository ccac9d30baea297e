// framework/src/buffer_pool.cpp — BufferPool and Chunk storage.
#include "pollux/framework/buffer_pool.hpp"

#include <algorithm>
#include <cassert>
#include <new>

namespace pollux::framework {

static_assert(sizeof(Chunk) == 48, "docs/framework.md quotes a 48-byte chunk header");

namespace {

// One heap block: the Chunk header followed by `capacity` payload bytes. operator new
// returns memory aligned for any fundamental type (16 bytes), enough for alignas(16).
Chunk* new_block(std::size_t capacity, BufferPool* pool) {
    static_assert(alignof(Chunk) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    void* p = ::operator new(sizeof(Chunk) + capacity);
    Chunk* c = ::new (p) Chunk;
    c->pool = pool;
    c->capacity = capacity;
    return c;
}

void delete_block(Chunk* c) noexcept {
    c->~Chunk();
    ::operator delete(static_cast<void*>(c));
}

}  // namespace

Chunk* Chunk::allocate(std::size_t capacity) { return new_block(capacity, nullptr); }

void Chunk::free_heap(Chunk* c) noexcept { delete_block(c); }

BufferPool::BufferPool(std::size_t chunk_size, std::size_t max_cached) noexcept
    : chunk_size_(std::max(chunk_size, kMinChunkSize)), max_cached_(max_cached) {}

BufferPool::~BufferPool() {
    assert(live_ == 0 && "a Buffer or OutputQueue outlived its BufferPool");
    trim(0);
}

Chunk* BufferPool::allocate_chunk() {
    Chunk* c = new_block(chunk_size_, this);
    ++allocations_;
    ++live_;
    return c;
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
    while (cached_ > keep) {
        Chunk* c = free_;
        free_ = c->next;
        --cached_;
        free_chunk(c);
    }
}

}  // namespace pollux::framework
