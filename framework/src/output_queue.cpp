// framework/src/output_queue.cpp — OutputQueue chunk chain.
#include "pollux/framework/output_queue.hpp"

#include <algorithm>
#include <cstring>

namespace pollux::framework {

OutputQueue::OutputQueue(OutputQueue&& other) noexcept
    : head_(std::exchange(other.head_, nullptr)),
      tail_(std::exchange(other.tail_, nullptr)),
      pool_(other.pool_),
      size_(std::exchange(other.size_, 0)),
      chunks_(std::exchange(other.chunks_, 0)),
      high_water_(other.high_water_),
      above_(std::exchange(other.above_, false)),
      crossing_(std::exchange(other.crossing_, false)) {}

OutputQueue& OutputQueue::operator=(OutputQueue&& other) noexcept {
    if (this != &other) {
        clear();
        head_ = std::exchange(other.head_, nullptr);
        tail_ = std::exchange(other.tail_, nullptr);
        pool_ = other.pool_;
        size_ = std::exchange(other.size_, 0);
        chunks_ = std::exchange(other.chunks_, 0);
        high_water_ = other.high_water_;
        above_ = std::exchange(other.above_, false);
        crossing_ = std::exchange(other.crossing_, false);
    }
    return *this;
}

void OutputQueue::push_back(Chunk* c) noexcept {
    c->next = nullptr;
    if (tail_ == nullptr) {
        head_ = tail_ = c;
    } else {
        tail_->next = c;
        tail_ = c;
    }
    ++chunks_;
}

void OutputQueue::append_chunks(std::span<const std::byte> data) {
    if (data.empty()) return;
    while (!data.empty()) {
        if (tail_ == nullptr || tail_->tail_room() == 0) {
            Chunk* c = pool_ != nullptr ? pool_->acquire() : Chunk::allocate(BufferPool::kDefaultChunkSize);
            c->begin = c->end = 0;
            push_back(c);
        }
        const std::size_t n = std::min(tail_->tail_room(), data.size());
        std::memcpy(tail_->data() + tail_->end, data.data(), n);
        tail_->end += n;
        size_ += n;
        data = data.subspan(n);
    }
    after_grow();
}

void OutputQueue::append(Buffer&& buf) {
    const std::size_t n = buf.readable_size();
    if (n == 0) {
        buf.release();
        return;
    }
    const bool fits_tail = tail_ != nullptr && tail_->tail_room() >= n;
    if (fits_tail || n * 4 < buf.capacity()) {
        append(buf.readable());
        buf.release();
        return;
    }
    push_back(buf.take_chunk());
    size_ += n;
    after_grow();
}

std::size_t OutputQueue::gather(std::span<IoSlice> out) const noexcept {
    const std::size_t cap = std::min(out.size(), kMaxSlices);
    std::size_t k = 0;
    for (const Chunk* c = head_; c != nullptr && k < cap; c = c->next) {
        out[k++] = IoSlice(std::span<const std::byte>(c->data() + c->begin, c->size()));
    }
    return k;
}

void OutputQueue::consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    size_ -= n;
    while (n != 0) {
        Chunk* c = head_;
        const std::size_t in_chunk = c->size();
        if (n < in_chunk) {
            c->begin += n;
            break;
        }
        n -= in_chunk;
        head_ = c->next;
        if (head_ == nullptr) tail_ = nullptr;
        --chunks_;
        Chunk::free(c);
    }
    if (above_ && size_ < high_water_) above_ = false;
}

void OutputQueue::clear() noexcept {
    while (head_ != nullptr) Chunk::free(std::exchange(head_, head_->next));
    tail_ = nullptr;
    size_ = 0;
    chunks_ = 0;
    above_ = false;
}

void OutputQueue::set_high_water_mark(std::size_t mark) noexcept {
    high_water_ = mark;
    above_ = mark != 0 && size_ >= mark;
}

}  // namespace pollux::framework
