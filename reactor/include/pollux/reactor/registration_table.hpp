// pollux/reactor/registration_table.hpp — public.
//
// The reactor's slab of registrations, and the generation-checked id that names one.
//
// A `RegistrationId` is a slot index plus the slot's generation. It is packed into the
// 64-bit `Token` the kernel stores with the fd and hands back in every event:
//
//     Token bits:  63 ............ 32 | 31 ............. 0
//                  generation          | slot index
//
// Freeing a slot bumps its generation, so every id (and every event token) minted for
// the old occupant stops matching. That is what drops a stale event: when a handler
// closes source B and a new source C takes B's fd number *and* B's slot inside the same
// poll batch, B's already-fetched event still carries B's generation and `lookup` returns
// null for it. (nginx does the same with one "instance" bit; tokio 0.x used 7 bits.)
//
// A 32-bit generation wraps after 2^32 reuses of one slot; a stale event would have to
// survive that many reuses inside one batch to be misdelivered, so we accept it.
//
// The index kReservedIndex (all ones) is never allocated; the reactor uses tokens with
// that index for its own Waker. Free slots are reused LIFO, which keeps the table dense
// and hot in cache. Growing the table allocates (amortised doubling); steady-state
// insert/remove do not.
//
// Not thread-safe: a RegistrationTable belongs to its reactor's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pollux/core/token.hpp"

namespace pollux::reactor {

class EventHandler;

struct RegistrationId {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;

    friend constexpr bool operator==(RegistrationId, RegistrationId) noexcept = default;
};

inline constexpr std::uint32_t kReservedIndex = 0xFFFF'FFFFu;

// Packs an id into a token (generation in the high half).
constexpr Token to_token(RegistrationId id) noexcept {
    return Token((static_cast<std::size_t>(id.generation) << 32) | id.index);
}

// Unpacks a token made by `to_token`.
constexpr RegistrationId to_registration_id(Token token) noexcept {
    const auto v = static_cast<std::uint64_t>(token.value());
    return RegistrationId{static_cast<std::uint32_t>(v & 0xFFFF'FFFFu), static_cast<std::uint32_t>(v >> 32)};
}

static_assert(sizeof(std::size_t) == 8, "Token packing needs a 64-bit std::size_t");

class RegistrationTable {
public:
    // Takes a free slot (or grows) and stores `handler` in it.
    RegistrationId insert(EventHandler& handler);

    // The handler of a live registration, or nullptr when `id` is stale (freed, reused by
    // another generation, or never issued).
    EventHandler* lookup(RegistrationId id) const noexcept {
        if (id.index >= count_) return nullptr;
        const Slot& s = slots_[id.index];
        return s.generation == id.generation ? s.handler : nullptr;
    }
    bool contains(RegistrationId id) const noexcept { return lookup(id) != nullptr; }

    // Points a live registration at another handler. False if `id` is stale.
    bool replace(RegistrationId id, EventHandler& handler) noexcept;

    // Frees the slot and bumps its generation. False if `id` is stale (nothing changes).
    bool remove(RegistrationId id) noexcept;

    // The requeue mark (Reactor::requeue_in_loop): at most one pending requeue per live
    // registration. `mark_requeued` sets it; false if `id` is stale or already marked.
    bool mark_requeued(RegistrationId id) noexcept {
        if (!contains(id)) return false;
        Slot& s = slots_[id.index];
        if (s.next_free == kRequeued) return false;
        s.next_free = kRequeued;
        return true;
    }
    // Clears the mark and returns the handler; null if `id` is stale (freed since).
    EventHandler* take_requeued(RegistrationId id) noexcept {
        if (!contains(id)) return nullptr;
        Slot& s = slots_[id.index];
        s.next_free = kNoFree;
        return s.handler;
    }

    // Live registrations.
    std::size_t size() const noexcept { return live_; }
    // Slots ever allocated (live + free).
    std::size_t capacity() const noexcept { return slots_.size(); }

private:
    static constexpr std::uint32_t kNoFree = kReservedIndex;
    static constexpr std::uint32_t kRequeued = kReservedIndex - 1;  // never a slot index

    struct Slot {
        EventHandler* handler = nullptr;  // null while free
        std::uint32_t generation = 0;
        // While free: the free-list link. While live: kNoFree, or kRequeued when a
        // requeue is pending (the field is otherwise unused then).
        std::uint32_t next_free = kNoFree;
    };

    std::vector<Slot> slots_;
    std::uint32_t count_ = 0;  // slots_.size(), kept for lookup's bounds check (one load)
    std::uint32_t free_head_ = kNoFree;
    std::size_t live_ = 0;
};

}  // namespace pollux::reactor
