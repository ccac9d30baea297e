// Buffer: layout, consume/append/prepend, compaction and growth, pooled storage that is
// given back when empty, searching the content (CRLF, EOL, a byte sequence), and
// read_from with the 64 KiB extra buffer and the input limit.
#include "pollux/framework/buffer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <cstring>
#include <vector>

#include "pollux/core/pipe.hpp"

namespace pollux::framework {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Deterministic, position-dependent bytes, so any loss, duplication or reordering shows.
std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        s[i] = static_cast<char>(x >> 24);
    }
    return s;
}

// Writes all of `data` to a non-blocking pipe end; the pipe must have room.
void write_all(const Sender& tx, std::string_view data) {
    while (!data.empty()) {
        auto n = tx.write(bytes(data));
        ASSERT_TRUE(n.has_value()) << n.error().message();
        data.remove_prefix(*n);
    }
}

TEST(Buffer, fresh_buffer_holds_no_storage) {
    BufferPool pool(1024);
    Buffer pooled(&pool);
    Buffer plain;
    EXPECT_EQ(pooled.capacity(), 0u);
    EXPECT_EQ(plain.capacity(), 0u);
    EXPECT_TRUE(pooled.readable().empty());
    EXPECT_TRUE(pooled.writable().empty());
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(Buffer, append_then_partial_consume_keeps_the_rest) {
    Buffer b;
    b.append(bytes("hello world"));
    EXPECT_EQ(b.readable_size(), 11u);
    EXPECT_EQ(b.prependable_size(), Buffer::kCheapPrepend);
    b.consume(6);
    EXPECT_EQ(str(b.readable()), "world");
    EXPECT_EQ(b.prependable_size(), Buffer::kCheapPrepend + 6);
    b.append(bytes("!"));
    EXPECT_EQ(str(b.readable()), "world!");
    b.consume(100);  // clamped
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.prependable_size(), Buffer::kCheapPrepend);  // unpooled: indices reset, storage kept
    EXPECT_EQ(b.capacity(), Buffer::kInitialSize);
}

TEST(Buffer, prepend_within_the_cheap_area_does_not_move_the_content) {
    Buffer b;
    b.append(bytes("payload"));
    const std::byte* before = b.readable().data();
    const std::uint32_t len = 7;
    b.prepend(std::as_bytes(std::span(&len, 1)));
    EXPECT_EQ(b.readable_size(), 11u);
    EXPECT_EQ(b.readable().data() + 4, before);
    EXPECT_EQ(str(b.readable().subspan(4)), "payload");
    EXPECT_EQ(b.prependable_size(), Buffer::kCheapPrepend - 4);
}

TEST(Buffer, prepend_larger_than_the_prependable_area_moves_the_content_once) {
    BufferPool pool(64);
    Buffer b(&pool);
    b.append(bytes("0123456789"));
    b.prepend(bytes("a header longer than eight bytes|"));
    EXPECT_EQ(str(b.readable()), "a header longer than eight bytes|0123456789");
    // Larger than the pool chunk: moves to a heap chunk.
    const std::string big = pattern(100);
    b.prepend(bytes(big));
    EXPECT_EQ(str(b.readable()), big + "a header longer than eight bytes|0123456789");
    EXPECT_GT(b.capacity(), 64u);
    // Into an empty buffer.
    Buffer e(&pool);
    e.prepend(bytes("xyz"));
    EXPECT_EQ(str(e.readable()), "xyz");
}

TEST(Buffer, ensure_writable_compacts_before_growing) {
    BufferPool pool(128);
    Buffer b(&pool);
    const std::string first = pattern(100, 1);
    b.append(bytes(first));
    b.consume(90);
    const std::byte* base = b.readable().data() - b.prependable_size();
    // 10 readable bytes; the tail has 128 - 108 = 20; compaction gives 128 - 18 = 110.
    auto w = b.ensure_writable(100);
    EXPECT_GE(w.size(), 100u);
    EXPECT_EQ(b.capacity(), 128u);  // no growth
    EXPECT_EQ(b.readable().data(), base + Buffer::kCheapPrepend);
    EXPECT_EQ(str(b.readable()), first.substr(90));
}

TEST(Buffer, ensure_writable_grows_when_compaction_is_not_enough) {
    BufferPool pool(128);
    Buffer b(&pool);
    const std::string data = pattern(100);
    b.append(bytes(data));
    auto w = b.ensure_writable(200);
    EXPECT_GE(w.size(), 200u);
    EXPECT_GE(b.capacity(), 308u);
    EXPECT_EQ(str(b.readable()), data);
    EXPECT_EQ(pool.stats().live, 0u);  // the pool chunk went back; content is on the heap
}

TEST(Buffer, growth_keeps_every_byte_over_many_appends) {
    Buffer b;
    std::string ref;
    for (unsigned i = 0; i < 200; ++i) {
        const std::string part = pattern(1 + (i * 37) % 700, i);
        b.append(bytes(part));
        ref += part;
        if (i % 3 == 0) {
            const std::size_t n = (i * 11) % (b.readable_size() + 1);
            b.consume(n);
            ref.erase(0, n);
        }
        ASSERT_EQ(str(b.readable()), ref) << "step " << i;
    }
}

TEST(Buffer, writable_and_commit_make_bytes_readable) {
    Buffer b;
    auto w = b.ensure_writable(5);
    std::memcpy(w.data(), "abcde", 5);
    b.commit(3);
    EXPECT_EQ(str(b.readable()), "abc");
    EXPECT_EQ(b.writable().size(), b.capacity() - Buffer::kCheapPrepend - 3);
}

TEST(Buffer, pooled_buffer_gives_its_chunk_back_when_it_becomes_empty) {
    BufferPool pool(1024);
    Buffer b(&pool);
    b.append(bytes("abc"));
    EXPECT_EQ(b.capacity(), 1024u);
    EXPECT_EQ(pool.stats().live, 1u);
    b.consume(2);
    EXPECT_EQ(pool.stats().live, 1u);
    b.consume(1);
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(pool.stats().live, 0u);
    EXPECT_EQ(pool.stats().cached, 1u);
    b.append(bytes("again"));
    b.consume_all();
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(pool.stats().allocations, 1u);  // the same chunk both times
}

TEST(Buffer, release_and_shrink_fit_the_storage) {
    BufferPool pool(256);
    Buffer b(&pool);
    b.append(bytes(pattern(1000)));
    EXPECT_GE(b.capacity(), 1000u);
    b.consume(900);
    b.shrink();
    EXPECT_EQ(b.capacity(), 256u);  // back in a pool chunk
    EXPECT_EQ(str(b.readable()), pattern(1000).substr(900));
    b.release();
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(pool.stats().live, 0u);

    Buffer plain;
    plain.append(bytes("tiny"));
    plain.shrink();
    EXPECT_EQ(plain.capacity(), Buffer::kCheapPrepend + 4);
    EXPECT_EQ(str(plain.readable()), "tiny");
}

TEST(Buffer, moved_from_buffer_is_empty_and_usable) {
    BufferPool pool(256);
    Buffer a(&pool);
    a.append(bytes("data"));
    Buffer b(std::move(a));
    EXPECT_EQ(str(b.readable()), "data");
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_EQ(a.capacity(), 0u);
    a.append(bytes("more"));
    EXPECT_EQ(str(a.readable()), "more");
    a = std::move(b);
    EXPECT_EQ(str(a.readable()), "data");
    EXPECT_EQ(pool.stats().live, 1u);
}

TEST(Buffer, take_chunk_hands_the_content_over) {
    BufferPool pool(256);
    Buffer b(&pool);
    b.append(bytes("xyz"));
    Chunk* c = b.take_chunk();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(c->data() + c->begin), c->size()), "xyz");
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.take_chunk(), nullptr);
    Chunk::free(c);
    EXPECT_EQ(pool.stats().live, 0u);
}

// ---- read_from ----

TEST(Buffer, read_from_takes_more_than_the_writable_space_in_one_call_via_the_extra_buffer) {
    auto [tx, rx] = pollux::pipe().value();
    const std::string data = pattern(50000);
    write_all(tx, data);
    BufferPool pool(1024);
    Buffer b(&pool);
    auto n = b.read_from(rx.fd(), 1 << 20);
    ASSERT_TRUE(n.has_value()) << n.error().message();
    EXPECT_EQ(*n, data.size());  // 1016 into the chunk, the rest through the 64 KiB extra
    EXPECT_EQ(str(b.readable()), data);
}

TEST(Buffer, read_from_reads_at_most_the_writable_space_plus_64_KiB_per_call) {
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_GE(::fcntl(tx.fd(), F_SETPIPE_SZ, 256 * 1024), 256 * 1024);
    const std::string data = pattern(200000, 7);
    write_all(tx, data);
    BufferPool pool(4096);
    Buffer b(&pool);
    auto n = b.read_from(rx.fd(), 1 << 20);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 4096 - Buffer::kCheapPrepend + Buffer::kExtraReadSize);
    std::size_t total = *n;
    while (total < data.size()) {
        auto m = b.read_from(rx.fd(), 1 << 20);
        ASSERT_TRUE(m.has_value());
        total += *m;
    }
    EXPECT_EQ(str(b.readable()), data);
}

TEST(Buffer, read_from_with_nothing_to_read_would_block_and_gives_the_chunk_back) {
    auto [tx, rx] = pollux::pipe().value();
    BufferPool pool(1024);
    Buffer b(&pool);
    auto n = b.read_from(rx.fd(), 1 << 20);
    ASSERT_FALSE(n.has_value());
    EXPECT_TRUE(is_would_block(n.error()));
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(pool.stats().live, 0u);
}

TEST(Buffer, read_from_returns_zero_at_end_of_stream_and_keeps_the_content) {
    auto [tx, rx] = pollux::pipe().value();
    write_all(tx, "last words");
    tx = Sender();  // close the write end
    BufferPool pool(1024);
    Buffer b(&pool);
    auto n = b.read_from(rx.fd(), 1 << 20);
    ASSERT_EQ(n.value_or(0), 10u);
    auto eof = b.read_from(rx.fd(), 1 << 20);
    ASSERT_TRUE(eof.has_value());
    EXPECT_EQ(*eof, 0u);
    EXPECT_EQ(str(b.readable()), "last words");
}

TEST(Buffer, read_from_exactly_the_limit_is_not_over_it) {
    auto [tx, rx] = pollux::pipe().value();
    const std::string data = pattern(5000, 3);
    write_all(tx, data);
    Buffer b;
    auto n = b.read_from(rx.fd(), 5000);
    ASSERT_TRUE(n.has_value()) << n.error().message();
    EXPECT_EQ(*n, 5000u);
    auto again = b.read_from(rx.fd(), 5000);  // probes one byte: none there
    ASSERT_FALSE(again.has_value());
    EXPECT_TRUE(is_would_block(again.error()));
    EXPECT_EQ(str(b.readable()), data);
}

TEST(Buffer, read_from_beyond_the_limit_reports_it_and_loses_or_duplicates_nothing) {
    auto [tx, rx] = pollux::pipe().value();
    const std::string data = pattern(30000, 5);
    write_all(tx, data);
    BufferPool pool(1024);
    Buffer b(&pool);
    constexpr std::size_t kMax = 10000;
    std::string received;
    int limits = 0;
    for (int i = 0; i < 100 && received.size() + b.readable_size() < data.size(); ++i) {
        auto n = b.read_from(rx.fd(), kMax);
        if (!n.has_value()) {
            ASSERT_TRUE(is_limit_exceeded(n.error())) << n.error().message();
            ++limits;
            EXPECT_EQ(b.readable_size(), kMax + 1);  // one byte over, nothing cut
            // Over the limit already: the next call reads nothing and says so again.
            auto again = b.read_from(rx.fd(), kMax);
            ASSERT_FALSE(again.has_value());
            EXPECT_TRUE(is_limit_exceeded(again.error()));
            EXPECT_EQ(b.readable_size(), kMax + 1);
            // A handler that can make progress consumes and reads on.
            received += str(b.readable());
            b.consume_all();
        }
    }
    received += str(b.readable());
    EXPECT_GE(limits, 2);
    EXPECT_EQ(received, data);
}

TEST(Buffer, read_with_never_passes_an_empty_slice_and_forwards_errors) {
    Buffer b;
    b.append(bytes(pattern(Buffer::kInitialSize - Buffer::kCheapPrepend)));  // tail is full
    std::size_t seen_slices = 0;
    auto r = b.read_with(
        [&](std::span<IoSliceMut> s) -> Result<std::size_t> {
            seen_slices = s.size();
            for (const IoSliceMut& sl : s) EXPECT_GT(sl.size(), 0u);
            return error(std::errc::connection_reset);
        },
        1 << 20);
    EXPECT_EQ(seen_slices, 1u);  // only the extra buffer
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::connection_reset);
    EXPECT_EQ(b.readable_size(), Buffer::kInitialSize - Buffer::kCheapPrepend);
}

TEST(Buffer, read_with_a_given_spill_area_uses_it_and_appends_what_landed_there) {
    Buffer b;
    b.append(bytes(pattern(Buffer::kInitialSize - Buffer::kCheapPrepend - 10)));  // 10 bytes of tail
    std::vector<std::byte> area(100);
    const void* second = nullptr;
    std::size_t second_size = 0;
    auto r = b.read_with(
        [&](std::span<IoSliceMut> s) -> Result<std::size_t> {
            EXPECT_EQ(s.size(), 2u);
            second = s[1].bytes().data();
            second_size = s[1].size();
            for (IoSliceMut& sl : s) std::memset(sl.bytes().data(), 'z', sl.size());
            return std::size_t{30};  // 10 into the tail, 20 into the area
        },
        1 << 20, std::span<std::byte>(area));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 30u);
    EXPECT_EQ(second, area.data());
    EXPECT_EQ(second_size, area.size());
    const auto in = b.readable();
    ASSERT_EQ(in.size(), Buffer::kInitialSize - Buffer::kCheapPrepend + 20);
    for (std::size_t i = in.size() - 30; i < in.size(); ++i) EXPECT_EQ(in[i], std::byte{'z'}) << i;
}

TEST(Buffer, read_from_a_closed_fd_returns_ebadf) {
    Buffer b;
    auto r = b.read_from(-1, 100);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
}

TEST(BufferFind, find_crlf_gives_offsets_into_readable_and_resumes_from_an_offset) {
    Buffer b;
    EXPECT_FALSE(b.find_crlf()) << "a buffer with no storage";
    b.append(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(b.find_crlf(), 14u);
    EXPECT_EQ(b.find_crlf(16), 23u);
    EXPECT_EQ(b.find_crlf(24), 25u);
    EXPECT_FALSE(b.find_crlf(26));
    EXPECT_FALSE(b.find_crlf(1000)) << "past the end is not an error";
    b.consume(16);  // offsets follow readable(), not the storage
    EXPECT_EQ(b.find_crlf(), 7u);
}

TEST(BufferFind, a_lone_cr_or_a_crlf_split_across_the_end_is_not_a_crlf) {
    Buffer b;
    b.append(bytes("a\rb\r"));
    EXPECT_FALSE(b.find_crlf());
    b.append(bytes("\n"));
    EXPECT_EQ(b.find_crlf(), 3u) << "completed by the next append";
}

TEST(BufferFind, find_eol_finds_each_newline_in_turn) {
    Buffer b;
    EXPECT_FALSE(b.find_eol());
    b.append(bytes("one\ntwo\r\nthree"));
    ASSERT_EQ(b.find_eol(), 3u);
    ASSERT_EQ(b.find_eol(4), 8u);
    EXPECT_FALSE(b.find_eol(9));
    std::vector<std::string> lines;
    while (auto eol = b.find_eol()) {
        lines.push_back(str(b.readable().first(*eol)));
        b.consume(*eol + 1);
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"one", "two\r"}));
    EXPECT_EQ(str(b.readable()), "three");
}

TEST(BufferFind, find_a_byte_sequence_by_span_or_string_view) {
    Buffer b;
    b.append(bytes("$5\r\nhello\r\n$5\r\nworld\r\n"));
    EXPECT_EQ(b.find("hello"), 4u);
    EXPECT_EQ(b.find(bytes("world")), 15u);
    EXPECT_EQ(b.find("$5", 1), 11u);
    EXPECT_FALSE(b.find("worlds"));
    EXPECT_FALSE(b.find("hello", 5));
    EXPECT_EQ(b.find("", 3), 3u) << "an empty needle is found where the search starts";
    EXPECT_FALSE(b.find("", b.readable_size() + 1));
    const std::byte nul_needle[] = {std::byte{0}, std::byte{1}};
    EXPECT_FALSE(b.find(std::span<const std::byte>(nul_needle)));
    b.append(std::span<const std::byte>(nul_needle));
    EXPECT_EQ(b.find(std::span<const std::byte>(nul_needle)), 22u) << "binary needles work too";
}

TEST(BufferFind, searching_a_large_pooled_buffer_finds_the_needle_at_the_very_end) {
    BufferPool pool;
    Buffer b(&pool);
    const std::string body = pattern(100'000);
    b.append(bytes(body));
    b.append(bytes("\r\n\r\n"));
    const auto at = b.find("\r\n\r\n");
    ASSERT_TRUE(at);
    // The pattern may contain the sequence by chance; the first hit is no later than the end.
    EXPECT_LE(*at, body.size());
    EXPECT_EQ(str(b.readable().subspan(*at, 4)), "\r\n\r\n");
    EXPECT_EQ(b.find("\r\n\r\n", body.size()), body.size());
}

}  // namespace
}  // namespace pollux::framework
