// pollux/reactor/timer_wheel.hpp — public.
//
// `TimerWheel` is a reactor's timer facility: a hashed timing wheel with 1 ms ticks
// (slot = tick mod slot_count(), one tick per slot over a sliding window; Varghese &
// Lauck) plus an overflow heap for far deadlines. The reactor loop drives it; it
// never reads the clock and never sleeps:
//
//     TimerWheel wheel(Clock::now());
//     wheel.run_after(50ms, [] { ... });
//     for (;;) {
//         poll.poll(events, wheel.time_until_next(Clock::now()));  // nullopt blocks
//         ... handle I/O ...
//         wheel.advance(Clock::now(), kTimerBudget);
//     }
//
// The contracts:
//
// * Single-threaded. A wheel belongs to one reactor thread and every member is called
//   from that thread only; there are no locks and no atomics. Timers wanted from other
//   threads are started by posting a task to the owning reactor (`Reactor::post`).
// * Time. The wheel keeps its own "current time" (`now()`): the constructor's time
//   point, then the latest time passed to `advance` (it never goes backwards). Ticks
//   are whole milliseconds counted from the constructor's time point. `run_after` and
//   `run_every` are relative to `now()`, like libuv's cached loop time; call
//   `advance(now, 0)` to move the clock without firing anything.
// * Never early. A deadline fires on the first `advance(now)` with `now >= deadline`,
//   rounded to the tick: a deadline inside a millisecond fires at the start of the
//   next one. A deadline at or before `now()` (zero or negative delay, a past
//   `run_at`) is due at once and fires on the next `advance` call, even if that call
//   passes the same time. A deadline even slightly after `now()` (such as
//   `run_at(Clock::now())` when `now()` lags the real clock) is not due at once: it
//   rounds up to the next tick, at most 1 ms later.
// * Order. Timers fire in deadline order at 1 ms resolution; timers due in the same
//   tick fire in the order they were started (FIFO). A timer whose deadline was
//   already past when started counts as due in the tick of `now()`, so it fires after
//   every timer that was already due.
// * Bounded advance. `advance(now, budget)` fires at most `budget` callbacks; what is
//   left stays due, `time_until_next` returns 0, and the next call continues in
//   order. A storm of zero-delay timers therefore cannot starve I/O. A timer started
//   by a callback never fires in the same `advance` call, even with zero delay, so a
//   callback that restarts itself cannot loop forever.
// * Re-entrancy. Callbacks may call `run_at`, `run_after`, `run_every`, `cancel`,
//   `contains`, `size`, `now` and `time_until_next`, for any timer including the one
//   firing. They must not call `advance` (asserted in debug builds) or destroy the
//   wheel.
// * Ids. A `TimerId` is a slab index plus a generation. Cancelling a timer that has
//   fired, was cancelled, or whose slot now holds a newer timer is a harmless no-op
//   that returns false; it never touches the new owner. A one-shot timer stops being
//   pending just before its callback runs (cancel from inside it returns false). A
//   periodic timer stays pending until cancelled; cancelling it from inside its own
//   callback returns true and stops it.
// * Periodic timers. `run_every(p, cb)` first fires at `now() + p`, then every `p`
//   after the previous *scheduled* time (no drift). If the loop fell behind by whole
//   periods, the missed firings are skipped, not replayed in a burst. `p` below 1 ms
//   (including 0) is clamped to 1 ms: never a busy loop.
// * Far deadlines. Delays are clamped to kMaxDelay (about 34 years). Deadlines more
//   than `slot_count()` ms ahead wait in an overflow min-heap and move into the wheel
//   when they come within range, so they cost nothing per tick.
// * Callbacks must not throw: `advance` is noexcept, so an escaping exception calls
//   std::terminate (as does running out of memory while rescheduling a periodic
//   timer). The `run_*` calls may throw std::bad_alloc while the slab grows.
//
// Cost. Start and cancel are O(1) for deadlines within `slot_count()` ms (4.096 s by
// default) and O(log f) beyond, with f the number of far timers. Firing is O(1) per
// timer. `time_until_next` finds the next non-empty slot in a two-level occupancy
// bitmap: a few word reads (at most slot_count()/4096 + 4). `advance` skips empty
// ticks with the same bitmap, so a long sleep costs nothing per elapsed millisecond.
//
// Memory. Timers live in a slab (a vector plus a free list) that grows to the peak
// number of live timers and is then reused: in steady state starting a timer
// allocates nothing beyond the callback's own capture. `Callback` is
// std::move_only_function<void()>; with libstdc++ 12 a nothrow-movable capture of up
// to 24 bytes (three pointers) is stored inline, a larger one allocates once per
// `run_*` call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace pollux::reactor {

// Names one started timer. The default value names none (`valid()` is false).
struct TimerId {
    std::uint32_t index = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t generation = 0;

    constexpr bool valid() const noexcept { return generation != 0; }
    friend constexpr bool operator==(TimerId, TimerId) noexcept = default;
};

class TimerWheel {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::move_only_function<void()>;

    static constexpr std::size_t kDefaultSlots = 4096;
    static constexpr std::chrono::milliseconds kMaxDelay{std::int64_t{1} << 40};

    // `now` becomes tick 0 and the wheel's current time. `slots` is rounded up to a
    // power of two, at least 64; one slot per millisecond.
    explicit TimerWheel(Clock::time_point now, std::size_t slots = kDefaultSlots);

    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;
    // A moved-from wheel is empty and inert: `run_*` return an invalid id and drop
    // the callback, `cancel` returns false, `advance` fires nothing.
    TimerWheel(TimerWheel&& other) noexcept;
    TimerWheel& operator=(TimerWheel&& other) noexcept;
    ~TimerWheel() = default;

    // One-shot timer at an absolute deadline (see "Never early" and "Order").
    TimerId run_at(Clock::time_point deadline, Callback cb);
    // One-shot timer at now() + delay; a zero or negative delay is due at once.
    TimerId run_after(std::chrono::milliseconds delay, Callback cb);
    // Periodic timer: now() + period, then every period (clamped to >= 1 ms).
    TimerId run_every(std::chrono::milliseconds period, Callback cb);

    // Stops a pending timer and destroys its callback (unless it is running). O(1)
    // within the wheel's range. Returns false if `id` names no pending timer.
    bool cancel(TimerId id) noexcept;

    // True while `id` names a pending timer (started, not fired, not cancelled).
    bool contains(TimerId id) const noexcept;

    // Time until the earliest pending deadline, rounded *up* to whole ms so a poll
    // with this timeout never wakes early: 0 if a timer is already due (including
    // leftovers of a budget-limited advance), std::nullopt if no timer is pending.
    // Does not change the wheel.
    std::optional<std::chrono::milliseconds> time_until_next(Clock::time_point now) const noexcept;

    // The earliest pending deadline (a timer fires once the current time reaches it):
    // now() if a timer is already due, Clock::time_point::max() if none is pending.
    // Cached, so asking once per loop iteration costs a few instructions. Does not
    // change the wheel.
    Clock::time_point next_deadline() const noexcept {
        if (ready_.head != kNone) return now_;
        if (next_deadline_ == kUnknownDeadline) [[unlikely]] return find_next_deadline();
        return next_deadline_;
    }

    // Moves the current time to max(now(), now), then fires, in order, the timers
    // due at that time, at most `budget` of them. Returns how many fired. Timers
    // started by callbacks during this call do not fire in it.
    std::size_t advance(Clock::time_point now,
                        std::size_t budget = std::numeric_limits<std::size_t>::max()) noexcept {
        if (now > now_) now_ = now;
        // The common loop iteration: nothing is due yet.
        if (now_ < next_deadline()) return 0;
        return fire_due(budget);
    }

    // Pending timers (a periodic timer counts while its callback runs).
    std::size_t size() const noexcept { return live_; }
    bool empty() const noexcept { return live_ == 0; }

    Clock::time_point now() const noexcept { return now_; }
    std::size_t slot_count() const noexcept { return slots_.size(); }

private:
    // Where an entry is. kInList means ready_ if tick <= collected_, otherwise
    // slots_[tick & mask_]: collecting a slot is then a splice with no per-entry work.
    static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
    static constexpr std::uint32_t kInList = 0;
    static constexpr std::uint32_t kInHeap = 1;   // far deadline
    static constexpr std::uint32_t kFiring = 2;   // periodic, callback running
    static constexpr std::uint32_t kFree = 3;     // on the free list

    struct Entry {
        Callback cb;
        std::int64_t tick = 0;       // due tick, ms since the constructor's time point
        std::uint64_t seq = 0;       // start order, for FIFO within a tick
        std::int64_t period = 0;     // ms; 0 for one-shot
        std::uint32_t prev = kNone;  // intrusive list links (slot, ready or free list)
        std::uint32_t next = kNone;
        std::uint32_t where = kFree; // one of the k* values above
        std::uint32_t heap_pos = 0;  // index in heap_ while where == kInHeap
        std::uint32_t generation = 1;
    };

    struct List {
        std::uint32_t head = kNone;
        std::uint32_t tail = kNone;
    };

    static constexpr Clock::time_point kUnknownDeadline = Clock::time_point::min();

    Clock::time_point find_next_deadline() const noexcept;
    std::size_t fire_due(std::size_t budget) noexcept;
    // current_tick_ follows now_ lazily: advance() moves now_ without the division.
    void sync_tick() noexcept { current_tick_ = std::chrono::floor<std::chrono::milliseconds>(now_ - origin_).count(); }
    TimerId start(std::int64_t tick, std::int64_t period, Callback cb);
    void place(std::uint32_t index);
    void release(std::uint32_t index) noexcept;
    std::int64_t tick_of(Clock::time_point deadline) const noexcept;

    void push_back(List& list, std::uint32_t index) noexcept;
    void unlink(List& list, std::uint32_t index) noexcept;
    void link_slot(std::uint32_t index) noexcept;
    void unlink_any(std::uint32_t index) noexcept;

    // First occupied slot's tick in (collected_, min(limit, collected_ + slot_count())],
    // or -1. Reads at most slot_count() / 4096 + 4 bitmap words.
    std::int64_t next_occupied_tick(std::int64_t limit) const noexcept;
    // First occupied slot number in [lo, hi), or hi.
    std::size_t find_slot(std::size_t lo, std::size_t hi) const noexcept;
    void mark_occupied(std::uint32_t slot) noexcept;
    void mark_empty(std::uint32_t slot) noexcept;
    // Moves collected_ forward, splicing due slots onto ready_ and moving heap
    // entries that came within range, until ready_ is non-empty or collected_ == target.
    void collect_until(std::int64_t target) noexcept;

    bool heap_less(std::uint32_t a, std::uint32_t b) const noexcept;
    void heap_push(std::uint32_t index);
    void heap_erase(std::uint32_t index) noexcept;
    void heap_sift_up(std::size_t pos) noexcept;
    void heap_sift_down(std::size_t pos) noexcept;
    void heap_set(std::size_t pos, std::uint32_t index) noexcept;

    std::vector<Entry> entries_;            // the slab
    std::uint32_t free_head_ = kNone;       // singly linked through Entry::next
    std::vector<List> slots_;               // slot t & mask_ holds tick t, one tick each
    std::vector<std::uint64_t> occupied_;   // bitmap: slot non-empty
    std::vector<std::uint64_t> summary_;    // bitmap: occupied_ word non-zero
    std::vector<std::uint32_t> heap_;       // far timers, min-heap on (tick, seq)
    List ready_;                            // due timers in (tick, seq) order
    Clock::time_point origin_;              // tick 0
    Clock::time_point now_;                 // current time
    std::int64_t current_tick_ = 0;         // floor((now_ - origin_) / 1 ms) after sync_tick()
    std::int64_t collected_ = 0;            // ticks <= collected_ are in ready_ or fired
    // next_deadline()'s answer while ready_ is empty: the earliest slot or heap tick
    // as a time point, max() for none, kUnknownDeadline after any change that may move
    // it (a slot filling or emptying, the heap changing, collected_ moving).
    mutable Clock::time_point next_deadline_ = kUnknownDeadline;
    std::uint64_t next_seq_ = 0;
    std::uint64_t mask_ = 0;
    std::size_t live_ = 0;
    bool advancing_ = false;  // guards against advance() from a callback
};

}  // namespace pollux::reactor
