// pollux/reactor/timer_wheel.cpp
//
// Layout. Every timer is an Entry in the slab `entries_`, linked into exactly one
// place according to its due tick t (ms since the constructor's time point):
//
//     t <= collected_                      ready_        due; fires in list order
//     collected_ < t <= collected_ + S     slots_[t & mask_]   (S = slot count)
//     t > collected_ + S                   heap_         min-heap on (tick, seq)
//
// The slot window (collected_, collected_ + S] spans exactly S ticks, so a slot holds
// one tick only and collecting it is a splice, with no round counts to check. When
// collected_ moves to c, tick c + S enters the window; its heap entries move into
// slot (c + S) & mask_, which collecting c has just emptied. Because the heap pops
// them in start order and any later start for that tick goes straight to the slot,
// every list stays in (tick, seq) order without sorting.
//
//     ticks:  ... collected_ | collected_+1 ........ collected_+S | beyond ...
//     where:      ready_     |          slots_ (one tick each)    | heap_
//
// `occupied_` has one bit per slot and `summary_` one bit per non-zero occupied_ word;
// together they find the next non-empty tick in a few word reads, for
// time_until_next and lets advance jump over empty ticks.
#include "pollux/reactor/timer_wheel.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <stdexcept>
#include <utility>

namespace pollux::reactor {

namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMinSlots = 64;
constexpr std::size_t kMaxSlots = std::size_t{1} << 22;
constexpr std::int64_t kNoTick = -1;

}  // namespace

TimerWheel::TimerWheel(Clock::time_point now, std::size_t slots)
    : origin_(now), now_(now) {
    const std::size_t count = std::bit_ceil(std::clamp(slots, kMinSlots, kMaxSlots));
    slots_.resize(count);
    occupied_.resize(count / 64);
    summary_.resize((occupied_.size() + 63) / 64);
    mask_ = count - 1;
}

TimerWheel::TimerWheel(TimerWheel&& other) noexcept
    : entries_(std::move(other.entries_)),
      free_head_(std::exchange(other.free_head_, kNone)),
      slots_(std::move(other.slots_)),
      occupied_(std::move(other.occupied_)),
      summary_(std::move(other.summary_)),
      heap_(std::move(other.heap_)),
      ready_(std::exchange(other.ready_, List{})),
      origin_(other.origin_),
      now_(other.now_),
      current_tick_(other.current_tick_),
      collected_(other.collected_),
      next_seq_(other.next_seq_),
      mask_(std::exchange(other.mask_, 0)),
      live_(std::exchange(other.live_, 0)) {
    other.next_deadline_ = Clock::time_point::max();  // empty and inert
    other.entries_.clear();
    other.slots_.clear();
    other.occupied_.clear();
    other.summary_.clear();
    other.heap_.clear();
}

TimerWheel& TimerWheel::operator=(TimerWheel&& other) noexcept {
    if (this != &other) {
        entries_ = std::move(other.entries_);
        free_head_ = std::exchange(other.free_head_, kNone);
        slots_ = std::move(other.slots_);
        occupied_ = std::move(other.occupied_);
        summary_ = std::move(other.summary_);
        heap_ = std::move(other.heap_);
        ready_ = std::exchange(other.ready_, List{});
        origin_ = other.origin_;
        now_ = other.now_;
        current_tick_ = other.current_tick_;
        collected_ = other.collected_;
        next_seq_ = other.next_seq_;
        mask_ = std::exchange(other.mask_, 0);
        live_ = std::exchange(other.live_, 0);
        next_deadline_ = kUnknownDeadline;
        other.next_deadline_ = Clock::time_point::max();  // empty and inert
        other.entries_.clear();
        other.slots_.clear();
        other.occupied_.clear();
        other.summary_.clear();
        other.heap_.clear();
    }
    return *this;
}

// ---- starting and cancelling -------------------------------------------------------

std::int64_t TimerWheel::tick_of(Clock::time_point deadline) const noexcept {
    // Precondition: deadline > now_. Round up: never fire early.
    const auto ahead = std::min<Clock::duration>(deadline - now_, kMaxDelay);
    return std::chrono::ceil<milliseconds>((now_ - origin_) + ahead).count();
}

TimerId TimerWheel::run_at(Clock::time_point deadline, Callback cb) {
    sync_tick();
    const std::int64_t tick = deadline <= now_ ? current_tick_ : tick_of(deadline);
    return start(tick, 0, std::move(cb));
}

TimerId TimerWheel::run_after(milliseconds delay, Callback cb) {
    if (delay <= milliseconds::zero()) {
        sync_tick();
        return start(current_tick_, 0, std::move(cb));
    }
    return start(tick_of(now_ + std::min(delay, kMaxDelay)), 0, std::move(cb));
}

TimerId TimerWheel::run_every(milliseconds period, Callback cb) {
    const milliseconds p = std::clamp(period, milliseconds{1}, kMaxDelay);
    return start(tick_of(now_ + p), p.count(), std::move(cb));
}

TimerId TimerWheel::start(std::int64_t tick, std::int64_t period, Callback cb) {
    if (slots_.empty()) {
        return {};  // moved-from
    }
    std::uint32_t index = free_head_;
    if (index != kNone) {
        free_head_ = entries_[index].next;
    } else {
        if (entries_.size() >= kNone) {  // kNone is the null link
            throw std::length_error("TimerWheel: too many timers");
        }
        index = static_cast<std::uint32_t>(entries_.size());
        entries_.emplace_back();
    }
    Entry& e = entries_[index];
    e.tick = tick;
    e.seq = next_seq_++;
    e.period = period;
    e.prev = e.next = kNone;
    try {
        place(index);
    } catch (...) {  // only the heap can grow here
        e.where = kFree;
        e.next = free_head_;
        free_head_ = index;
        throw;
    }
    entries_[index].cb = std::move(cb);
    ++live_;
    return {index, entries_[index].generation};
}

void TimerWheel::place(std::uint32_t index) {
    const std::int64_t tick = entries_[index].tick;
    if (tick <= collected_) {
        push_back(ready_, index);
        entries_[index].where = kInList;
    } else if (tick - collected_ <= static_cast<std::int64_t>(slots_.size())) {
        link_slot(index);
    } else {
        heap_push(index);
    }
}

bool TimerWheel::contains(TimerId id) const noexcept {
    if (id.index >= entries_.size()) {
        return false;
    }
    const Entry& e = entries_[id.index];
    return e.generation == id.generation && e.where != kFree;
}

bool TimerWheel::cancel(TimerId id) noexcept {
    if (!contains(id)) {
        return false;
    }
    // Move the callback out first: its destructor may call back into the wheel, which
    // must then be consistent. While firing, the callback is already out (in advance).
    Callback doomed = std::move(entries_[id.index].cb);
    unlink_any(id.index);
    release(id.index);
    return true;
}

void TimerWheel::release(std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    e.where = kFree;
    e.prev = kNone;
    e.next = free_head_;
    free_head_ = index;
    if (++e.generation == 0) {
        e.generation = 1;  // 0 marks an invalid TimerId
    }
    --live_;
}

// ---- intrusive lists -----------------------------------------------------------------

void TimerWheel::push_back(List& list, std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    e.prev = list.tail;
    e.next = kNone;
    if (list.tail != kNone) {
        entries_[list.tail].next = index;
    } else {
        list.head = index;
    }
    list.tail = index;
}

void TimerWheel::unlink(List& list, std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    (e.prev != kNone ? entries_[e.prev].next : list.head) = e.next;
    (e.next != kNone ? entries_[e.next].prev : list.tail) = e.prev;
    e.prev = e.next = kNone;
}

void TimerWheel::link_slot(std::uint32_t index) noexcept {
    const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(entries_[index].tick) & mask_);
    push_back(slots_[slot], index);
    entries_[index].where = kInList;
    mark_occupied(slot);
}

void TimerWheel::unlink_any(std::uint32_t index) noexcept {
    const Entry& e = entries_[index];
    if (e.where == kInHeap) {
        heap_erase(index);
    } else if (e.where == kInList) {
        if (e.tick <= collected_) {
            unlink(ready_, index);
        } else {
            const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(e.tick) & mask_);
            List& list = slots_[slot];
            unlink(list, index);
            if (list.head == kNone) {
                mark_empty(slot);
            }
        }
    }
    // kFiring: linked nowhere; advance sees the new generation and drops the callback.
}

// ---- time ------------------------------------------------------------------------------

void TimerWheel::mark_occupied(std::uint32_t slot) noexcept {
    next_deadline_ = kUnknownDeadline;
    occupied_[slot / 64] |= std::uint64_t{1} << (slot % 64);
    summary_[slot / 4096] |= std::uint64_t{1} << (slot / 64 % 64);
}

void TimerWheel::mark_empty(std::uint32_t slot) noexcept {
    next_deadline_ = kUnknownDeadline;
    std::uint64_t& word = occupied_[slot / 64];
    word &= ~(std::uint64_t{1} << (slot % 64));
    if (word == 0) {
        summary_[slot / 4096] &= ~(std::uint64_t{1} << (slot / 64 % 64));
    }
}

std::size_t TimerWheel::find_slot(std::size_t lo, std::size_t hi) const noexcept {
    if (lo >= hi) {
        return hi;
    }
    // The rest of lo's word, then the summary picks the next non-zero word.
    std::size_t w = lo / 64;
    if (const std::uint64_t bits = occupied_[w] & (~std::uint64_t{0} << (lo % 64)); bits != 0) {
        return std::min(hi, w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
    }
    const std::size_t word_end = (hi + 63) / 64;
    for (w = w + 1; w < word_end;) {
        const std::uint64_t sum = summary_[w / 64] & (~std::uint64_t{0} << (w % 64));
        if (sum == 0) {
            w = (w / 64 + 1) * 64;
            continue;
        }
        w = (w / 64) * 64 + static_cast<std::size_t>(std::countr_zero(sum));
        if (w >= word_end) {
            break;
        }
        return std::min(hi, w * 64 + static_cast<std::size_t>(std::countr_zero(occupied_[w])));
    }
    return hi;
}

std::int64_t TimerWheel::next_occupied_tick(std::int64_t limit) const noexcept {
    if (slots_.empty() || limit <= collected_) {
        return kNoTick;
    }
    const std::size_t size = slots_.size();
    const auto count = static_cast<std::size_t>(std::min(limit - collected_, static_cast<std::int64_t>(size)));
    const auto start = static_cast<std::size_t>(static_cast<std::uint64_t>(collected_ + 1) & mask_);
    // The window (collected_, collected_ + count] is slots [start, start + count),
    // wrapping past the end of the array.
    const std::size_t end = std::min(start + count, size);
    if (const std::size_t slot = find_slot(start, end); slot < end) {
        return collected_ + 1 + static_cast<std::int64_t>(slot - start);
    }
    if (start + count > size) {
        const std::size_t wrapped_end = start + count - size;
        if (const std::size_t slot = find_slot(0, wrapped_end); slot < wrapped_end) {
            return collected_ + 1 + static_cast<std::int64_t>(size - start + slot);
        }
    }
    return kNoTick;
}

std::optional<milliseconds> TimerWheel::time_until_next(Clock::time_point now) const noexcept {
    const Clock::time_point deadline = next_deadline();
    if (deadline == Clock::time_point::max()) {
        return std::nullopt;
    }
    const Clock::time_point at = std::max(now, now_);
    if (deadline <= at) {
        return milliseconds::zero();
    }
    return std::chrono::ceil<milliseconds>(deadline - at);
}

TimerWheel::Clock::time_point TimerWheel::find_next_deadline() const noexcept {
    std::int64_t tick = next_occupied_tick(std::numeric_limits<std::int64_t>::max());
    if (tick == kNoTick && !heap_.empty()) {
        tick = entries_[heap_.front()].tick;  // heap ticks lie beyond every slot tick
    }
    next_deadline_ = tick == kNoTick ? Clock::time_point::max() : origin_ + milliseconds{tick};
    return next_deadline_;
}

void TimerWheel::collect_until(std::int64_t target) noexcept {
    // Precondition: ready_ is empty and collected_ < target. Moves collected_ tick by
    // tick with work (a non-empty slot or a heap migration) until ready_ has entries
    // or collected_ reaches target; empty ticks are skipped through the bitmap.
    const auto span = static_cast<std::int64_t>(slots_.size());
    while (ready_.head == kNone && collected_ < target) {
        std::int64_t tick = target;
        if (!heap_.empty()) {
            // The heap top enters the window when collected_ reaches its tick - span.
            tick = std::min(tick, entries_[heap_.front()].tick - span);
        }
        if (tick != collected_ + 1) {  // one-tick steps (the common case) need no scan
            if (const std::int64_t occupied = next_occupied_tick(tick); occupied != kNoTick) {
                tick = occupied;
            }
        }
        collected_ = tick;  // slot `tick`'s entries now count as in ready_ (kInList)
        next_deadline_ = kUnknownDeadline;

        const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(tick) & mask_);
        List& list = slots_[slot];
        if (list.head != kNone) {  // holds tick `tick` only: it becomes ready_
            ready_ = list;
            list = List{};
            mark_empty(slot);
        }
        // Tick collected_ + span just entered the window; it maps to the slot emptied
        // above.
        while (!heap_.empty() && entries_[heap_.front()].tick - collected_ <= span) {
            const std::uint32_t index = heap_.front();
            heap_erase(index);
            link_slot(index);
        }
    }
}

// advance()'s slow half: a timer is due (or the cache was cleared).
std::size_t TimerWheel::fire_due(std::size_t budget) noexcept {
    if (slots_.empty()) {
        return 0;  // moved-from
    }
    assert(!advancing_ && "TimerWheel::advance called from a timer callback");
    sync_tick();
    // (collected_ may lag current_tick_; that is the state a budget-limited advance
    // leaves too, and the next collection catches up.)
    advancing_ = true;
    const std::uint64_t barrier = next_seq_;  // timers started from here on wait
    std::size_t fired = 0;
    while (fired < budget) {
        if (ready_.head == kNone) {
            if (collected_ >= current_tick_) {
                break;
            }
            collect_until(current_tick_);
            if (ready_.head == kNone) {
                break;
            }
        }
        const std::uint32_t index = ready_.head;
        Entry& e = entries_[index];
        if (e.seq >= barrier) {
            break;
        }
        unlink(ready_, index);
        ++fired;
        Callback cb = std::move(e.cb);
        if (e.period == 0) {
            release(index);  // no longer pending; the slot may be reused by cb
            if (cb) {
                cb();
            }
            continue;
        }
        e.where = kFiring;
        const std::uint32_t generation = e.generation;
        if (cb) {
            cb();
        }
        Entry& again = entries_[index];  // cb may have grown the slab
        if (again.generation != generation) {
            continue;  // cancelled from inside its own callback
        }
        // Next scheduled tick after the current one; missed periods are skipped.
        std::int64_t next = again.tick + again.period;
        if (next <= current_tick_) {
            next += (current_tick_ - next) / again.period * again.period + again.period;
        }
        again.tick = next;
        again.seq = next_seq_++;
        again.cb = std::move(cb);
        place(index);
    }
    advancing_ = false;
    return fired;
}

// ---- overflow heap ---------------------------------------------------------------------

bool TimerWheel::heap_less(std::uint32_t a, std::uint32_t b) const noexcept {
    const Entry& x = entries_[a];
    const Entry& y = entries_[b];
    return x.tick != y.tick ? x.tick < y.tick : x.seq < y.seq;
}

void TimerWheel::heap_set(std::size_t pos, std::uint32_t index) noexcept {
    heap_[pos] = index;
    entries_[index].heap_pos = static_cast<std::uint32_t>(pos);
}

void TimerWheel::heap_push(std::uint32_t index) {
    heap_.push_back(index);  // may throw; nothing changed yet
    next_deadline_ = kUnknownDeadline;
    entries_[index].where = kInHeap;
    heap_set(heap_.size() - 1, index);
    heap_sift_up(heap_.size() - 1);
}

void TimerWheel::heap_erase(std::uint32_t index) noexcept {
    next_deadline_ = kUnknownDeadline;
    const std::size_t pos = entries_[index].heap_pos;
    const std::uint32_t last = heap_.back();
    heap_.pop_back();
    if (pos < heap_.size()) {
        heap_set(pos, last);
        heap_sift_down(pos);
        heap_sift_up(entries_[last].heap_pos);
    }
}

void TimerWheel::heap_sift_up(std::size_t pos) noexcept {
    const std::uint32_t index = heap_[pos];
    while (pos > 0) {
        const std::size_t parent = (pos - 1) / 2;
        if (!heap_less(index, heap_[parent])) {
            break;
        }
        heap_set(pos, heap_[parent]);
        pos = parent;
    }
    heap_set(pos, index);
}

void TimerWheel::heap_sift_down(std::size_t pos) noexcept {
    const std::uint32_t index = heap_[pos];
    const std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * pos + 1;
        if (child >= n) {
            break;
        }
        if (child + 1 < n && heap_less(heap_[child + 1], heap_[child])) {
            ++child;
        }
        if (!heap_less(heap_[child], index)) {
            break;
        }
        heap_set(pos, heap_[child]);
        pos = child;
    }
    heap_set(pos, index);
}

}  // namespace pollux::reactor
