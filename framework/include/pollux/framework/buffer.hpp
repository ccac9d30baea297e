// pollux/framework/buffer.hpp — public.
//
// `Buffer` is a connection's input buffer, after muduo's (itself after Netty's
// ChannelBuffer). One contiguous storage chunk, split in three:
//
//     +-------------------+------------------+------------------+
//     | prependable bytes |  readable bytes  |  writable bytes  |
//     |                   |    (content)     |                  |
//     +-------------------+------------------+------------------+
//     |                   |                  |                  |
//     0       <=       begin      <=        end     <=     capacity
//
// A fresh chunk starts with begin == end == kCheapPrepend (8), so a length prefix can
// be put in front of a message without moving it (`prepend`).
//
// The contracts:
//
// * Reading. `readable()` is the content; a handler parses what it can and calls
//   `consume(n)` for what it used. The rest stays for the next call.
// * Searching (muduo's findCRLF/findEOL). `find_crlf()`, `find_eol()` and
//   `find(needle)` return the offset into readable() where "\r\n", '\n' or `needle`
//   starts, or nullopt; each takes an optional offset to start from, so a parser can
//   resume where its last search ended. memchr/memmem: no copy, no allocation.
//
//       while (auto eol = in.find_crlf()) {           // one line per "\r\n"
//           handle_line(in.readable().first(*eol));
//           in.consume(*eol + 2);
//       }
// * Writing. `append` copies at the end. Or fill the space yourself:
//   `ensure_writable(n)` returns at least n writable bytes, write into them, then
//   `commit(k)` (k <= what was returned).
//   The bytes given to `append`/`prepend` must not point into this buffer (its
//   storage may move).
// * Space. `ensure_writable` first compacts (moves the content to offset
//   kCheapPrepend) when the consumed prefix plus the writable tail is enough, and only
//   grows otherwise (to at least twice the capacity). Growth beyond a pool chunk moves
//   the content to a heap chunk; messages larger than a chunk therefore allocate.
// * Storage. A Buffer built with a `BufferPool` takes a pool chunk on its first write
//   and gives its storage back as soon as it is empty again — after `consume` /
//   `consume_all` take the last byte, and after a `read_from` that got nothing. So an
//   idle connection's buffer holds no memory (`capacity() == 0`), and a busy one cycles
//   pool chunks without heap traffic. A Buffer without a pool uses heap chunks
//   (kInitialSize first) and keeps its storage until `release()` or `shrink()`.
//   `writable()` of a buffer without storage is empty; call `ensure_writable`.
// * Threads. A Buffer is not thread-safe. A pooled Buffer lives on its pool's thread
//   (see buffer_pool.hpp); an unpooled one may be moved to another thread.
// * Reading from a socket: `read_from(fd, max_size)` does one readv(2) into the writable
//   tail plus a 64 KiB stack buffer, then appends what landed in the stack buffer —
//   muduo's trick: up to ~80 KiB per syscall, yet no memory is reserved per connection.
//   `read_with(readv_fn, max_size)` is the same over any vectored read, e.g.
//   `[&](std::span<IoSliceMut> s) { return stream.read_vectored(s); }`. Results:
//     - n > 0: n bytes were appended.
//     - 0: end of stream (the peer shut down its write side); nothing was appended.
//     - an error (WouldBlock included, see `is_would_block`): nothing was appended.
//       EINTR is retried by `read_from`.
//     - `is_limit_exceeded(error)` (std::errc::message_size): the peer sent more than
//       `max_size` bytes that are not yet consumed. Every byte read is kept: the call
//       reads at most max_size - readable_size() + 1 bytes, so on this error
//       readable_size() == max_size + 1 (or more, if it was already over) and nothing
//       was truncated or dropped. The caller closes with CloseReason::limit (or
//       consumes and reads again). A call made while already over the limit reads
//       nothing and returns the same error. read(2) with length 0 is never issued.
// * Moves. A moved-from Buffer is empty and holds no storage; it stays usable.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "pollux/core/io_slice.hpp"
#include "pollux/core/result.hpp"
#include "pollux/framework/buffer_pool.hpp"

namespace pollux::framework {

// True for the error `Buffer::read_from` returns when the input limit is exceeded.
inline bool is_limit_exceeded(const std::error_code& ec) noexcept {
    return ec == std::errc::message_size;
}

class Buffer {
public:
    static constexpr std::size_t kCheapPrepend = 8;
    static constexpr std::size_t kInitialSize = 1024;      // first heap chunk without a pool
    static constexpr std::size_t kExtraReadSize = 64 * 1024;  // read_from's stack buffer

    // An unpooled buffer (heap storage, allocated on first write).
    Buffer() noexcept = default;
    // A buffer drawing storage from `pool` (may be null = unpooled). No memory is taken yet.
    explicit Buffer(BufferPool* pool) noexcept : pool_(pool) {}
    Buffer(Buffer&& other) noexcept
        : chunk_(std::exchange(other.chunk_, nullptr)), pool_(other.pool_) {}
    Buffer& operator=(Buffer&& other) noexcept {
        if (this != &other) {
            Chunk::free(chunk_);
            chunk_ = std::exchange(other.chunk_, nullptr);
            pool_ = other.pool_;
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { Chunk::free(chunk_); }

    // ---- content ----
    std::span<const std::byte> readable() const noexcept {
        if (chunk_ == nullptr) return {};
        return {chunk_->data() + chunk_->begin, chunk_->size()};
    }
    std::size_t readable_size() const noexcept { return chunk_ == nullptr ? 0 : chunk_->size(); }
    bool empty() const noexcept { return readable_size() == 0; }

    // ---- searching the content ----
    // Offset of the first "\r\n" at or after `from`, or nullopt.
    std::optional<std::size_t> find_crlf(std::size_t from = 0) const noexcept {
        return find(std::string_view("\r\n"), from);
    }
    // Offset of the first '\n' at or after `from`, or nullopt.
    std::optional<std::size_t> find_eol(std::size_t from = 0) const noexcept {
        const std::span<const std::byte> r = readable();
        if (from >= r.size()) return std::nullopt;
        const void* hit = std::memchr(r.data() + from, '\n', r.size() - from);
        if (hit == nullptr) return std::nullopt;
        return static_cast<std::size_t>(static_cast<const std::byte*>(hit) - r.data());
    }
    // Offset of the first occurrence of `needle` starting at or after `from`, or
    // nullopt. An empty needle is found at `from` (when from <= readable_size()).
    std::optional<std::size_t> find(std::span<const std::byte> needle, std::size_t from = 0) const noexcept {
        const std::span<const std::byte> r = readable();
        if (from > r.size()) return std::nullopt;
        if (needle.empty()) return from;
        if (needle.size() > r.size() - from) return std::nullopt;  // also: no storage (null data)
        const void* hit = ::memmem(r.data() + from, r.size() - from, needle.data(), needle.size());
        if (hit == nullptr) return std::nullopt;
        return static_cast<std::size_t>(static_cast<const std::byte*>(hit) - r.data());
    }
    std::optional<std::size_t> find(std::string_view needle, std::size_t from = 0) const noexcept {
        return find(std::as_bytes(std::span(needle)), from);
    }

    // Drops the first min(n, readable_size()) bytes. Gives the storage back to the pool
    // when the buffer becomes empty.
    void consume(std::size_t n) noexcept {
        if (chunk_ == nullptr) return;
        if (n < chunk_->size()) {
            chunk_->begin += n;
        } else {
            on_empty();
        }
    }
    void consume_all() noexcept {
        if (chunk_ != nullptr) on_empty();
    }
    // Drops the content but keeps the storage, pooled or not (its bytes stay in place
    // until the next write into the buffer).
    void clear_keep_storage() noexcept {
        if (chunk_ != nullptr) chunk_->begin = chunk_->end = kCheapPrepend;
    }

    // ---- adding data ----
    void append(std::span<const std::byte> data) {
        if (data.empty()) return;
        std::span<std::byte> w = ensure_writable(data.size());
        std::memcpy(w.data(), data.data(), data.size());
        chunk_->end += data.size();
    }
    // Puts `data` in front of the content (e.g. a length prefix). Free when it fits in
    // the prependable area (kCheapPrepend bytes on a fresh chunk); otherwise the content
    // is moved once.
    void prepend(std::span<const std::byte> data);

    // The current writable tail (empty if the buffer holds no storage).
    std::span<std::byte> writable() noexcept {
        if (chunk_ == nullptr) return {};
        return {chunk_->data() + chunk_->end, chunk_->tail_room()};
    }
    // Makes at least `n` bytes writable (compacting first, then growing) and returns the
    // whole writable tail. Throws std::bad_alloc.
    std::span<std::byte> ensure_writable(std::size_t n) {
        if (chunk_ != nullptr) {
            if (chunk_->tail_room() < n) make_space(n);
        } else if (pool_ != nullptr && n <= pool_->chunk_size() - kCheapPrepend) {
            chunk_ = pool_->acquire();  // the common case: an empty pooled buffer
            chunk_->begin = chunk_->end = kCheapPrepend;
        } else {
            make_space(n);
        }
        return writable();
    }
    // Marks `n` bytes of the writable tail as content. n <= writable().size().
    void commit(std::size_t n) noexcept {
        assert(n == 0 || (chunk_ != nullptr && n <= chunk_->tail_room()));
        if (chunk_ != nullptr) chunk_->end += n;
    }

    // ---- storage ----
    std::size_t prependable_size() const noexcept { return chunk_ == nullptr ? 0 : chunk_->begin; }
    std::size_t writable_size() const noexcept { return chunk_ == nullptr ? 0 : chunk_->tail_room(); }
    // Total storage bytes held (0 = none).
    std::size_t capacity() const noexcept { return chunk_ == nullptr ? 0 : chunk_->capacity; }
    BufferPool* pool() const noexcept { return pool_; }
    // Discards the content and gives the storage back.
    void release() noexcept { Chunk::free(std::exchange(chunk_, nullptr)); }
    // Fits the storage to the content: none when empty, a pool chunk when the content
    // fits one, else a heap chunk of exactly kCheapPrepend + readable_size() bytes.
    void shrink();

    // ---- reading from the kernel ----
    Result<std::size_t> read_from(int fd, std::size_t max_size);

    // `readv` is callable as Result<std::size_t>(std::span<IoSliceMut>): one vectored
    // read, returning the byte count, 0 at end of stream, or an error.
    template <class ReadV>
    Result<std::size_t> read_with(ReadV&& readv, std::size_t max_size) {
        std::byte extra[kExtraReadSize];  // uninitialised on purpose (muduo's extrabuf)
        return read_with(std::forward<ReadV>(readv), max_size, std::span<std::byte>(extra));
    }
    // The same with a caller-provided spill area instead of the 64 KiB stack array
    // (a reactor-wide scratch area, say). `extra` must not overlap this buffer.
    template <class ReadV>
    Result<std::size_t> read_with(ReadV&& readv, std::size_t max_size, std::span<std::byte> extra) {
        IoSliceMut slices[2];
        Result<ReadPlan> plan = plan_read(extra, slices, max_size);
        if (!plan) return std::unexpected(plan.error());
        Result<std::size_t> r = std::forward<ReadV>(readv)(std::span<IoSliceMut>(slices, plan->slices));
        return finish_read(r, *plan, extra, max_size);
    }

    // Hands the storage over (for OutputQueue adoption): returns the chunk, whose
    // [begin, end) is the content, or null when empty; the buffer is left empty.
    Chunk* take_chunk() noexcept {
        if (chunk_ != nullptr && chunk_->size() == 0) release();
        return std::exchange(chunk_, nullptr);
    }

private:
    friend class ConnectionHost;  // checks its reactor-wide read buffer in place after each on_data

    void on_empty() noexcept {
        if (pool_ != nullptr) {
            release();
        } else {
            clear_keep_storage();
        }
    }
    void make_space(std::size_t n);
    Chunk* new_chunk(std::size_t min_capacity);
    struct ReadPlan {
        std::size_t slices;    // 1 or 2
        std::size_t in_place;  // bytes of slices[0] that are this buffer's writable tail
    };
    Result<ReadPlan> plan_read(std::span<std::byte> extra, IoSliceMut (&slices)[2], std::size_t max_size);
    Result<std::size_t> finish_read(const Result<std::size_t>& r, ReadPlan plan,
                                    std::span<const std::byte> extra, std::size_t max_size);

    Chunk* chunk_ = nullptr;  // [begin, end) is the content; null = no storage
    BufferPool* pool_ = nullptr;
};

}  // namespace pollux::framework
