// OutputQueue: chained chunks, gather/consume across chunk boundaries against a
// reference string, Buffer adoption, high-water crossings, the hard cap, real partial
// writev over a socketpair, and zero allocations in steady state.
#include "pollux/framework/output_queue.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <string_view>

#include "pollux/core/owned_fd.hpp"
#include "support/counting_alloc.hpp"

namespace pollux::framework {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string pattern(std::size_t n, std::uint32_t seed) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 7;
    for (std::size_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        s[i] = static_cast<char>(x >> 24);
    }
    return s;
}

// Everything the queue holds, front first, through gather.
std::string contents(const OutputQueue& q) {
    std::array<IoSlice, 64> slices;
    std::string s;
    const std::size_t k = q.gather(slices);
    for (std::size_t i = 0; i < k; ++i) {
        s.append(reinterpret_cast<const char*>(slices[i].bytes().data()), slices[i].size());
    }
    return s;
}

TEST(OutputQueue, empty_queue_holds_nothing_and_gathers_nothing) {
    BufferPool pool(256);
    OutputQueue q(&pool);
    std::array<IoSlice, 4> slices;
    EXPECT_EQ(q.gather(slices), 0u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.chunk_count(), 0u);
    q.append(std::span<const std::byte>{});
    EXPECT_EQ(q.chunk_count(), 0u);
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(OutputQueue, append_fills_the_tail_chunk_before_taking_another) {
    BufferPool pool(256);
    OutputQueue q(&pool);
    q.append(bytes(pattern(100, 1)));
    q.append(bytes(pattern(100, 2)));
    EXPECT_EQ(q.chunk_count(), 1u);
    q.append(bytes(pattern(100, 3)));  // 300 > 256: spills into a second chunk
    EXPECT_EQ(q.chunk_count(), 2u);
    EXPECT_EQ(q.size(), 300u);
    EXPECT_EQ(contents(q), pattern(100, 1) + pattern(100, 2) + pattern(100, 3));
}

TEST(OutputQueue, gather_gives_one_slice_per_chunk_front_first_up_to_the_cap) {
    BufferPool pool(64);
    OutputQueue q(&pool);
    const std::string data = pattern(64 * 5 + 10, 9);
    q.append(bytes(data));
    EXPECT_EQ(q.chunk_count(), 6u);
    std::array<IoSlice, 3> three;
    ASSERT_EQ(q.gather(three), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(three[i].size(), 64u);
        EXPECT_EQ(std::memcmp(three[i].bytes().data(), data.data() + i * 64, 64), 0);
    }
    std::array<IoSlice, 10> ten;
    ASSERT_EQ(q.gather(ten), 6u);
    EXPECT_EQ(ten[5].size(), 10u);
    EXPECT_EQ(q.gather(std::span<IoSlice>{}), 0u);
}

TEST(OutputQueue, consume_frees_fully_sent_chunks_and_an_empty_queue_gives_all_back) {
    BufferPool pool(64);
    OutputQueue q(&pool);
    const std::string data = pattern(200, 4);
    q.append(bytes(data));
    EXPECT_EQ(pool.stats().live, 4u);
    q.consume(70);  // first chunk gone, 6 bytes into the second
    EXPECT_EQ(q.chunk_count(), 3u);
    EXPECT_EQ(pool.stats().live, 3u);
    EXPECT_EQ(contents(q), data.substr(70));
    q.consume(1000);  // clamped
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.chunk_count(), 0u);
    EXPECT_EQ(pool.stats().live, 0u);
}

// Random appends and random partial consumption (as partial writevs with random slice
// caps), checked byte for byte against a reference string, over several seeds.
TEST(OutputQueue, random_appends_and_partial_consumes_match_a_reference_string) {
    for (std::uint32_t seed = 1; seed <= 6; ++seed) {
        std::mt19937 rng(seed);
        BufferPool pool(seed % 2 == 0 ? 512 : 4096);
        OutputQueue q(&pool);
        std::string ref;
        std::string sent;
        std::string all;
        for (int step = 0; step < 400; ++step) {
            if (rng() % 3 != 0) {
                const std::string part = pattern(1 + rng() % 3000, static_cast<std::uint32_t>(step) + seed * 1000);
                q.append(bytes(part));
                ref += part;
                all += part;
            } else {
                Buffer b(&pool);
                const std::string part = pattern(1 + rng() % 2000, seed + static_cast<std::uint32_t>(step));
                b.append(bytes(part));
                q.append(std::move(b));
                EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
                ref += part;
                all += part;
            }
            // A "writev" that takes a random prefix of what a random number of slices covers.
            std::array<IoSlice, 16> slices;
            const std::size_t cap = 1 + rng() % slices.size();
            const std::size_t k = q.gather(std::span(slices.data(), cap));
            std::size_t covered = 0;
            for (std::size_t i = 0; i < k; ++i) covered += slices[i].size();
            const std::size_t n = covered == 0 ? 0 : rng() % (covered + 1);
            std::size_t left = n;
            for (std::size_t i = 0; i < k && left != 0; ++i) {
                const std::size_t take = std::min(left, slices[i].size());
                sent.append(reinterpret_cast<const char*>(slices[i].bytes().data()), take);
                left -= take;
            }
            q.consume(n);
            ref.erase(0, n);
            ASSERT_EQ(q.size(), ref.size()) << "seed " << seed << " step " << step;
            if (q.chunk_count() <= 64) {
                ASSERT_EQ(contents(q), ref) << "seed " << seed << " step " << step;
            }
        }
        // Drain the rest and compare everything that went out with everything that came in.
        std::array<IoSlice, 8> slices;
        for (int i = 0; i < 100000 && !q.empty(); ++i) {
            const std::size_t k = q.gather(slices);
            std::size_t covered = 0;
            for (std::size_t j = 0; j < k; ++j) {
                sent.append(reinterpret_cast<const char*>(slices[j].bytes().data()), slices[j].size());
                covered += slices[j].size();
            }
            q.consume(covered);
        }
        EXPECT_TRUE(q.empty());
        EXPECT_EQ(sent, all) << "seed " << seed;
        EXPECT_EQ(pool.stats().live, 0u);
    }
}

TEST(OutputQueue, append_buffer_adopts_a_well_filled_chunk_without_copying) {
    BufferPool pool(256);
    OutputQueue q(&pool);
    q.append(bytes(pattern(250, 1)));  // tail has 6 bytes free
    Buffer b(&pool);
    const std::string body = pattern(200, 2);
    b.append(bytes(body));
    const std::byte* where = b.readable().data();
    q.append(std::move(b));
    EXPECT_EQ(b.capacity(), 0u);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(q.chunk_count(), 2u);
    std::array<IoSlice, 4> slices;
    ASSERT_EQ(q.gather(slices), 2u);
    EXPECT_EQ(slices[1].bytes().data(), where);  // same memory: adopted, not copied
    EXPECT_EQ(contents(q), pattern(250, 1) + body);
    q.clear();
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(OutputQueue, append_buffer_copies_small_content_into_the_tail) {
    BufferPool pool(256);
    OutputQueue q(&pool);
    q.append(bytes("head"));
    Buffer b(&pool);
    b.append(bytes("small"));
    q.append(std::move(b));
    EXPECT_EQ(q.chunk_count(), 1u);
    EXPECT_EQ(contents(q), "headsmall");
    EXPECT_EQ(pool.stats().live, 1u);  // the buffer's chunk went back
    // An unpooled (heap) buffer is adopted as well and freed to the heap later.
    Buffer heap;
    heap.append(bytes(pattern(900, 3)));
    q.append(std::move(heap));
    EXPECT_EQ(q.chunk_count(), 2u);
    EXPECT_EQ(contents(q), "headsmall" + pattern(900, 3));
}

TEST(OutputQueue, high_water_crossing_is_reported_once_per_crossing) {
    BufferPool pool(1024);
    OutputQueue q(&pool);
    q.set_high_water_mark(1000);
    q.append(bytes(pattern(999, 1)));
    EXPECT_FALSE(q.take_high_water_crossing());
    q.append(bytes("x"));  // 1000: crossed
    EXPECT_TRUE(q.take_high_water_crossing());
    EXPECT_FALSE(q.take_high_water_crossing());
    q.append(bytes(pattern(5000, 2)));  // still above: no new crossing
    EXPECT_FALSE(q.take_high_water_crossing());
    q.consume(4500);  // 1500: still above
    q.append(bytes("y"));
    EXPECT_FALSE(q.take_high_water_crossing());
    q.consume(600);  // 901: below, re-armed
    EXPECT_FALSE(q.take_high_water_crossing());
    q.append(bytes(pattern(99, 3)));  // 1000 again: second crossing
    EXPECT_TRUE(q.take_high_water_crossing());
    q.clear();
    q.append(bytes(pattern(2000, 4)));  // clear re-armed too
    EXPECT_TRUE(q.take_high_water_crossing());
    q.set_high_water_mark(0);  // off
    q.clear();
    q.append(bytes(pattern(5000, 5)));
    EXPECT_FALSE(q.take_high_water_crossing());
}

TEST(OutputQueue, setting_a_mark_below_the_current_size_arms_only_after_a_drop) {
    OutputQueue q;
    q.append(bytes(pattern(3000, 1)));
    q.set_high_water_mark(1000);
    EXPECT_FALSE(q.take_high_water_crossing());
    q.append(bytes("z"));
    EXPECT_FALSE(q.take_high_water_crossing());
    q.consume(2500);  // 501: armed
    q.append(bytes(pattern(600, 2)));
    EXPECT_TRUE(q.take_high_water_crossing());
}

TEST(OutputQueue, would_exceed_checks_the_hard_cap_without_overflow) {
    OutputQueue q;
    q.append(bytes(pattern(100, 1)));
    EXPECT_FALSE(q.would_exceed(0, 100));
    EXPECT_FALSE(q.would_exceed(50, 150));
    EXPECT_TRUE(q.would_exceed(51, 150));
    EXPECT_TRUE(q.would_exceed(1, 50));  // already above
    EXPECT_TRUE(q.would_exceed(std::numeric_limits<std::size_t>::max(), 1000));
}

TEST(OutputQueue, moved_from_queue_is_empty_and_usable) {
    BufferPool pool(128);
    OutputQueue a(&pool);
    a.append(bytes("abc"));
    OutputQueue b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a.chunk_count(), 0u);
    EXPECT_EQ(contents(b), "abc");
    a.append(bytes("def"));
    b = std::move(a);
    EXPECT_EQ(contents(b), "def");
    EXPECT_EQ(pool.stats().live, 1u);
}

TEST(OutputQueue, partial_writev_over_a_socketpair_delivers_every_byte_in_order) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    OwnedFd a(sv[0]);
    OwnedFd b(sv[1]);
    const int small = 4096;
    ::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    BufferPool pool(1000);  // odd size: slices end mid-message
    OutputQueue q(&pool);
    std::string all;
    for (std::uint32_t i = 0; i < 200; ++i) {
        const std::string msg = pattern(1 + (i * 131) % 5000, i);
        q.append(bytes(msg));
        all += msg;
    }
    std::string got;
    std::array<IoSlice, 7> slices;
    std::array<char, 700> rbuf;  // a slow reader, so the socket fills and writes come up short
    int partial = 0;
    for (int i = 0; i < 100000 && got.size() < all.size(); ++i) {
        const std::size_t k = q.gather(slices);
        if (k != 0) {
            ::msghdr mh{};
            mh.msg_iov = const_cast<::iovec*>(as_iovec(std::span<const IoSlice>(slices.data(), k)));
            mh.msg_iovlen = k;
            const ::ssize_t n = ::sendmsg(a.get(), &mh, MSG_NOSIGNAL);
            if (n > 0) {
                std::size_t covered = 0;
                for (std::size_t j = 0; j < k; ++j) covered += slices[j].size();
                if (static_cast<std::size_t>(n) < covered) ++partial;
                q.consume(static_cast<std::size_t>(n));
            } else {
                ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
            }
        }
        const ::ssize_t r = ::read(b.get(), rbuf.data(), rbuf.size());
        if (r > 0) got.append(rbuf.data(), static_cast<std::size_t>(r));
    }
    EXPECT_GT(partial, 0);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(got, all);
}

// The output side of "no allocation per message": echo-like append + gather + consume
// of fixed-size messages allocates nothing once the pool is warm.
TEST(OutputQueue, steady_state_append_gather_consume_allocates_nothing) {
    BufferPool pool(4096);
    OutputQueue q(&pool);
    Buffer in(&pool);
    const std::string msg = pattern(1500, 42);  // spans chunk boundaries as it cycles
    std::array<IoSlice, 16> slices;
    auto cycle = [&] {
        in.append(bytes(msg));                 // "read" a request
        q.append(in.readable());               // echo it
        in.consume_all();
        q.append(std::span<const std::byte>{});  // no-op append
        std::size_t k = q.gather(slices);
        q.consume(k == 0 ? 0 : slices[0].size() / 2 + 1);  // a partial write ...
        k = q.gather(slices);
        std::size_t covered = 0;
        for (std::size_t i = 0; i < k; ++i) covered += slices[i].size();
        q.consume(covered);                    // ... then the rest
    };
    for (int i = 0; i < 20; ++i) cycle();  // warm-up
    std::size_t allocs = 0;
    {
        test::AllocationCounter counter;
        for (int i = 0; i < 2000; ++i) cycle();
        allocs = counter.count();
    }
    EXPECT_EQ(allocs, 0u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(OutputQueue, without_a_pool_chunks_come_from_the_heap) {
    OutputQueue q;
    const std::string data = pattern(40000, 8);
    q.append(bytes(data));
    EXPECT_EQ(q.chunk_count(), 3u);  // 16 KiB heap chunks
    EXPECT_EQ(contents(q), data);
    q.consume(data.size());
    EXPECT_EQ(q.chunk_count(), 0u);
}

}  // namespace
}  // namespace pollux::framework
