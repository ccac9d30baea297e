// BufferPool: free-list reuse, the cache cap, reserve/trim, stats, heap chunks.
#include "pollux/framework/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "pollux/framework/buffer.hpp"
#include "support/counting_alloc.hpp"

namespace pollux::framework {
namespace {

TEST(BufferPool, acquire_reuses_a_released_chunk_without_allocating) {
    BufferPool pool(4096, 4);
    Chunk* a = pool.acquire();
    EXPECT_EQ(a->pool, &pool);
    EXPECT_EQ(a->capacity, 4096u);
    EXPECT_EQ(a->begin, 0u);
    EXPECT_EQ(a->end, 0u);
    a->begin = 3;
    a->end = 7;
    pool.release(a);
    EXPECT_EQ(pool.stats().cached, 1u);
    Chunk* b = pool.acquire();
    EXPECT_EQ(b, a);
    EXPECT_EQ(b->begin, 0u);  // reset on reuse
    EXPECT_EQ(b->end, 0u);
    EXPECT_EQ(pool.stats().allocations, 1u);
    EXPECT_EQ(pool.stats().live, 1u);
    Chunk::free(b);
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(BufferPool, cache_is_capped_and_excess_chunks_are_freed) {
    BufferPool pool(1024, 2);
    std::vector<Chunk*> chunks;
    for (int i = 0; i < 5; ++i) chunks.push_back(pool.acquire());
    EXPECT_EQ(pool.stats().live, 5u);
    for (Chunk* c : chunks) pool.release(c);
    const BufferPool::Stats s = pool.stats();
    EXPECT_EQ(s.live, 0u);
    EXPECT_EQ(s.cached, 2u);
    EXPECT_EQ(s.allocations, 5u);
    EXPECT_EQ(s.frees, 3u);
}

TEST(BufferPool, reserve_fills_the_cache_up_to_its_cap_and_trim_empties_it) {
    BufferPool pool(1024, 3);
    pool.reserve(10);
    EXPECT_EQ(pool.stats().cached, 3u);
    EXPECT_EQ(pool.stats().allocations, 3u);
    pool.trim(1);
    EXPECT_EQ(pool.stats().cached, 1u);
    EXPECT_EQ(pool.stats().frees, 2u);
    pool.trim();
    EXPECT_EQ(pool.stats().cached, 0u);
}

TEST(BufferPool, chunk_size_is_configurable_with_a_minimum) {
    EXPECT_EQ(BufferPool().chunk_size(), BufferPool::kDefaultChunkSize);
    EXPECT_EQ(BufferPool(8192).chunk_size(), 8192u);
    EXPECT_EQ(BufferPool(1).chunk_size(), BufferPool::kMinChunkSize);
}

TEST(BufferPool, chunk_payload_is_writable_and_aligned) {
    BufferPool pool(256);
    Chunk* c = pool.acquire();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c->data()) % 16, 0u);
    for (std::size_t i = 0; i < c->capacity; ++i) c->data()[i] = std::byte{0xAB};
    Chunk::free(c);
}

TEST(BufferPool, heap_chunks_have_no_pool_and_free_to_the_heap) {
    Chunk* c = Chunk::allocate(100);
    EXPECT_EQ(c->pool, nullptr);
    EXPECT_EQ(c->capacity, 100u);
    Chunk::free(c);
    Chunk::free(nullptr);  // no-op
}

TEST(BufferPool, steady_state_acquire_release_allocates_nothing) {
    BufferPool pool(2048, 8);
    Chunk* w0 = pool.acquire();  // warm-up: two chunks in the cache
    Chunk* w1 = pool.acquire();
    pool.release(w0);
    pool.release(w1);
    std::size_t allocs = 0;
    {
        test::AllocationCounter counter;
        for (int i = 0; i < 1000; ++i) {
            Chunk* a = pool.acquire();
            Chunk* b = pool.acquire();
            pool.release(a);
            pool.release(b);
        }
        allocs = counter.count();
    }
    EXPECT_EQ(allocs, 0u);
    EXPECT_EQ(pool.stats().allocations, 2u);
}

TEST(BufferPool, allocation_counter_sees_heap_allocations) {
    // Proves the counter used by the zero-allocation tests can fail.
    std::size_t allocs = 0;
    {
        test::AllocationCounter counter;
        Chunk::free(Chunk::allocate(64));
        allocs = counter.count();
    }
    EXPECT_EQ(allocs, 1u);
}

// A pooled Buffer moved to another thread (another reactor, a worker) and destroyed
// there: its chunk comes back through the pool's return list, never by touching the
// owner's free list from the wrong thread (TSan checks the stress below).
TEST(BufferPool, chunks_released_on_other_threads_come_back_to_the_owner) {
    BufferPool pool(1024, 64);
    std::vector<Buffer> outgoing;
    for (int i = 0; i < 32; ++i) {
        Buffer b(&pool);
        b.append(std::as_bytes(std::span("payload", 7)));
        outgoing.push_back(std::move(b));
    }
    EXPECT_EQ(pool.stats().live, 32u);
    std::thread other([moved = std::move(outgoing)]() mutable { moved.clear(); });
    other.join();
    // The owner takes them back on its next acquire that finds the free list empty.
    Chunk* c = pool.acquire();
    EXPECT_EQ(pool.stats().live, 1u);
    EXPECT_EQ(pool.stats().cached, 31u);
    EXPECT_EQ(pool.stats().allocations, 32u) << "the returned chunks are reused, not reallocated";
    Chunk::free(c);
}

TEST(BufferPool, concurrent_foreign_releases_while_the_owner_works_lose_nothing) {
    BufferPool pool(256, 16);
    constexpr int kRounds = 20'000;
    std::atomic<Chunk*> handoff{nullptr};
    std::atomic<bool> done{false};
    std::thread foreign([&] {
        int freed = 0;
        while (freed < kRounds) {
            if (Chunk* c = handoff.exchange(nullptr, std::memory_order_acq_rel)) {
                Chunk::free(c);  // another thread: the return list
                ++freed;
            }
        }
        done = true;
    });
    for (int i = 0; i < kRounds; ++i) {
        Chunk* mine = pool.acquire();  // owner traffic meanwhile
        Chunk* shipped = pool.acquire();
        Chunk::free(mine);
        while (handoff.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
        handoff.store(shipped, std::memory_order_release);
    }
    while (!done) std::this_thread::yield();
    foreign.join();
    pool.trim(0);
    EXPECT_EQ(pool.stats().live, 0u);
    EXPECT_EQ(pool.stats().cached, 0u);
    EXPECT_EQ(pool.stats().allocations, pool.stats().frees);
}

TEST(BufferPool, decay_drains_the_cache_a_burst_filled_but_keeps_what_a_steady_load_uses) {
    BufferPool pool(256, 64);
    std::vector<Chunk*> burst;
    for (int i = 0; i < 40; ++i) burst.push_back(pool.acquire());
    for (Chunk* c : burst) Chunk::free(c);
    EXPECT_EQ(pool.stats().cached, 40u);
    pool.decay();  // the burst happened this period: keep its chunks for now
    EXPECT_EQ(pool.stats().cached, 40u);
    // A steady load of 3 chunks live at a time.
    for (int round = 0; round < 5; ++round) {
        Chunk* a = pool.acquire();
        Chunk* b = pool.acquire();
        Chunk* c = pool.acquire();
        Chunk::free(a);
        Chunk::free(b);
        Chunk::free(c);
    }
    pool.decay();  // the period's peak was 3: the rest goes back to the heap
    EXPECT_EQ(pool.stats().cached, 3u);
    EXPECT_EQ(pool.stats().frees, 37u);
    pool.decay();  // a period with nothing live: the cache empties
    EXPECT_EQ(pool.stats().cached, 0u);
}

}  // namespace
}  // namespace pollux::framework
