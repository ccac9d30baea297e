// pollux/framework/output_queue.hpp — public.
//
// `OutputQueue` holds the bytes a connection could not write yet, as a chain of
// chunks that `gather` turns into writev(2)/sendmsg(2) slices without copying:
//
//     head                                         tail
//     [ ..sent.. | queued ] -> [ queued ] -> [ queued | free ]
//                  ^ begin                              ^ end
//
//     queue.append(bytes);                          // copies into pooled chunks
//     IoSlice slices[64];
//     std::size_t k = queue.gather(slices);
//     auto n = stream.write_vectored(std::span(slices, k));
//     if (n) queue.consume(*n);                     // partial writes are normal
//
// The contracts:
//
// * Order. Bytes leave in the order they were appended.
// * Copying. `append(span)` fills the tail chunk's free space first, then takes new
//   chunks. `append(Buffer&&)` adopts the buffer's chunk without copying when it is
//   worth it (at least a quarter of that chunk is content and it does not fit in the
//   tail's free space); otherwise it copies. Either way the Buffer ends up empty.
// * Storage. Chunks come from the pool given at construction (heap chunks of
//   BufferPool::kDefaultChunkSize without one). `consume` gives every fully sent chunk
//   back at once, including the last: an empty queue holds no memory. With a pool, an
//   append / gather / consume cycle allocates nothing in steady state.
// * Slices. `gather(out)` fills at most min(out.size(), kMaxSlices) slices, from the
//   front, one per chunk, never an empty one; it returns how many it filled (0 only
//   when the queue is empty or `out` is). IOV_MAX on Linux is kMaxSlices (1024).
// * High water. With `set_high_water_mark(m)` (0 = off, the default), an append that
//   takes size() from below m to m or more records a crossing; `take_high_water_crossing`
//   returns true once for it and clears it. The mark re-arms when `consume` (or `clear`)
//   takes size() below m again, so a connection sees one `on_high_water` per excursion
//   above the mark, not one per append. Several crossings between two takes report
//   once. Setting a mark at or below the current size() records no crossing; the
//   mark arms when size() drops below it. The framework's default mark is 1 MiB.
// * Hard cap. `would_exceed(n, cap)` tells whether appending n more bytes would take
//   size() above `cap` (overflow-safe); the connection then closes with
//   CloseReason::limit instead of appending (framework default 8 MiB).
// * Threads. Not thread-safe; a pooled queue lives on its pool's thread.
// * Moves. A moved-from queue is empty and holds nothing; it stays usable.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

#include "pollux/core/io_slice.hpp"
#include "pollux/framework/buffer.hpp"
#include "pollux/framework/buffer_pool.hpp"

namespace pollux::framework {

class OutputQueue {
public:
    static constexpr std::size_t kMaxSlices = 1024;  // IOV_MAX on Linux

    OutputQueue() noexcept = default;
    explicit OutputQueue(BufferPool* pool) noexcept : pool_(pool) {}
    OutputQueue(OutputQueue&& other) noexcept;
    OutputQueue& operator=(OutputQueue&& other) noexcept;
    OutputQueue(const OutputQueue&) = delete;
    OutputQueue& operator=(const OutputQueue&) = delete;
    ~OutputQueue() { clear(); }

    // Bytes queued.
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    // Chunks held (each holds at least one queued byte).
    std::size_t chunk_count() const noexcept { return chunks_; }
    BufferPool* pool() const noexcept { return pool_; }

    // Copies `data` to the back. Throws std::bad_alloc.
    void append(std::span<const std::byte> data) {
        if (tail_ != nullptr && data.size() <= tail_->tail_room()) {
            if (data.empty()) return;
            std::memcpy(tail_->data() + tail_->end, data.data(), data.size());
            tail_->end += data.size();
            size_ += data.size();
            after_grow();
        } else {
            append_chunks(data);
        }
    }
    // Moves the buffer's content to the back, adopting its chunk when worthwhile.
    void append(Buffer&& buf);

    // Fills `out` with slices over the queued bytes, front first; returns the count.
    std::size_t gather(std::span<IoSlice> out) const noexcept;
    // Drops the first min(n, size()) bytes (after a write of n bytes).
    void consume(std::size_t n) noexcept;
    // Drops everything and gives the chunks back.
    void clear() noexcept;

    void set_high_water_mark(std::size_t mark) noexcept;
    std::size_t high_water_mark() const noexcept { return high_water_; }
    // True once per recorded crossing of the high-water mark (see above).
    bool take_high_water_crossing() noexcept { return std::exchange(crossing_, false); }
    // True if appending `n` more bytes would take size() above `cap`.
    bool would_exceed(std::size_t n, std::size_t cap) const noexcept {
        return size_ > cap || n > cap - size_;
    }

private:
    void append_chunks(std::span<const std::byte> data);
    void push_back(Chunk* c) noexcept;
    void after_grow() noexcept {
        if (high_water_ != 0 && !above_ && size_ >= high_water_) {
            above_ = true;
            crossing_ = true;
        }
    }

    Chunk* head_ = nullptr;
    Chunk* tail_ = nullptr;
    BufferPool* pool_ = nullptr;
    std::size_t size_ = 0;
    std::size_t chunks_ = 0;
    std::size_t high_water_ = 0;
    bool above_ = false;     // size_ >= high_water_ since the last crossing
    bool crossing_ = false;  // a crossing not yet taken
};

}  // namespace pollux::framework
