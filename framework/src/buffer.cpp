// framework/src/buffer.cpp — Buffer storage management and read_from.
#include "pollux/framework/buffer.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <new>

namespace pollux::framework {

Chunk* Buffer::new_chunk(std::size_t min_capacity) {
    Chunk* c = nullptr;
    if (pool_ != nullptr && min_capacity <= pool_->chunk_size()) {
        c = pool_->acquire();
    } else {
        c = Chunk::allocate(std::max(min_capacity, pool_ != nullptr ? pool_->chunk_size() : kInitialSize));
    }
    c->begin = c->end = kCheapPrepend;
    return c;
}

void Buffer::make_space(std::size_t n) {
    if (chunk_ == nullptr) {
        chunk_ = new_chunk(kCheapPrepend + n);
        return;
    }
    const std::size_t readable = chunk_->size();
    if (n > std::numeric_limits<std::size_t>::max() / 2 - readable) throw std::bad_alloc();
    const std::size_t need = kCheapPrepend + readable + n;
    if (chunk_->capacity >= need) {
        // Compact: the consumed prefix plus the tail is enough.
        std::memmove(chunk_->data() + kCheapPrepend, chunk_->data() + chunk_->begin, readable);
        chunk_->begin = kCheapPrepend;
        chunk_->end = kCheapPrepend + readable;
        return;
    }
    Chunk* c = new_chunk(std::max(chunk_->capacity * 2, need));
    std::memcpy(c->data() + kCheapPrepend, chunk_->data() + chunk_->begin, readable);
    c->end = kCheapPrepend + readable;
    Chunk::free(std::exchange(chunk_, c));
}

void Buffer::prepend(std::span<const std::byte> data) {
    const std::size_t n = data.size();
    if (n == 0) return;
    if (chunk_ == nullptr) chunk_ = new_chunk(kCheapPrepend + n);
    if (chunk_->begin < n) {
        // Not enough room in front: move the content to begin = kCheapPrepend + n.
        const std::size_t readable = chunk_->size();
        const std::size_t need = kCheapPrepend + n + readable;
        if (chunk_->capacity >= need) {
            std::memmove(chunk_->data() + kCheapPrepend + n, chunk_->data() + chunk_->begin, readable);
        } else {
            Chunk* c = new_chunk(std::max(chunk_->capacity * 2, need));
            std::memcpy(c->data() + kCheapPrepend + n, chunk_->data() + chunk_->begin, readable);
            Chunk::free(std::exchange(chunk_, c));
        }
        chunk_->begin = kCheapPrepend + n;
        chunk_->end = chunk_->begin + readable;
    }
    chunk_->begin -= n;
    std::memcpy(chunk_->data() + chunk_->begin, data.data(), n);
}

void Buffer::shrink() {
    if (chunk_ == nullptr) return;
    const std::size_t readable = chunk_->size();
    if (readable == 0) {
        release();
        return;
    }
    const std::size_t need = kCheapPrepend + readable;
    Chunk* c = nullptr;
    if (pool_ != nullptr && need <= pool_->chunk_size()) {
        if (chunk_->pool == pool_) return;  // already the smallest storage we use
        c = pool_->acquire();
    } else {
        if (chunk_->capacity == need) return;
        c = Chunk::allocate(need);
    }
    std::memcpy(c->data() + kCheapPrepend, chunk_->data() + chunk_->begin, readable);
    c->begin = kCheapPrepend;
    c->end = kCheapPrepend + readable;
    Chunk::free(std::exchange(chunk_, c));
}

Result<Buffer::ReadPlan> Buffer::plan_read(std::span<std::byte> extra, IoSliceMut (&slices)[2],
                                           std::size_t max_size) {
    const std::size_t have = readable_size();
    if (have > max_size) return error(std::errc::message_size);
    // Read one byte more than the room left, to tell "exactly full" from "over".
    const std::size_t room = max_size - have;
    const std::size_t want = room == std::numeric_limits<std::size_t>::max() ? room : room + 1;
    if (chunk_ == nullptr) chunk_ = new_chunk(kCheapPrepend + 1);

    ReadPlan plan{0, 0};
    const std::span<std::byte> tail = writable();
    plan.in_place = std::min(tail.size(), want);
    if (plan.in_place != 0) slices[plan.slices++] = tail.first(plan.in_place);
    const std::size_t spill = std::min(extra.size(), want - plan.in_place);
    if (spill != 0) slices[plan.slices++] = extra.first(spill);
    return plan;
}

Result<std::size_t> Buffer::finish_read(const Result<std::size_t>& r, ReadPlan plan,
                                        std::span<const std::byte> extra, std::size_t max_size) {
    if (!r || *r == 0) {
        // Nothing arrived: a pooled buffer that is still empty gives its chunk back.
        if (pool_ != nullptr && chunk_ != nullptr && chunk_->size() == 0) release();
        return r;
    }
    const std::size_t n = *r;
    if (n <= plan.in_place) {
        commit(n);
    } else {
        commit(plan.in_place);
        append(extra.first(n - plan.in_place));
    }
    if (readable_size() > max_size) return error(std::errc::message_size);
    return n;
}

Result<std::size_t> Buffer::read_from(int fd, std::size_t max_size) {
    return read_with(
        [fd](std::span<IoSliceMut> s) -> Result<std::size_t> {
            for (;;) {
                const ::ssize_t n = ::readv(fd, as_iovec(s), static_cast<int>(s.size()));
                if (n >= 0) return static_cast<std::size_t>(n);
                if (errno != EINTR) return last_error();
            }
        },
        max_size);
}

}  // namespace pollux::framework
