// reactor/src/registration_table.cpp
#include "pollux/reactor/registration_table.hpp"

#include <cassert>

namespace pollux::reactor {

RegistrationId RegistrationTable::insert(EventHandler& handler) {
    std::uint32_t index;
    if (free_head_ != kNoFree) {
        index = free_head_;
        free_head_ = slots_[index].next_free;
    } else {
        assert(slots_.size() < kReservedIndex);
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
        count_ = static_cast<std::uint32_t>(slots_.size());
    }
    Slot& s = slots_[index];
    s.handler = &handler;
    s.next_free = kNoFree;
    ++live_;
    return RegistrationId{index, s.generation};
}

bool RegistrationTable::replace(RegistrationId id, EventHandler& handler) noexcept {
    if (!contains(id)) return false;
    slots_[id.index].handler = &handler;
    return true;
}

bool RegistrationTable::remove(RegistrationId id) noexcept {
    if (!contains(id)) return false;
    Slot& s = slots_[id.index];
    s.handler = nullptr;
    ++s.generation;  // every token minted for this occupant is now stale
    s.next_free = free_head_;
    free_head_ = id.index;
    --live_;
    return true;
}

}  // namespace pollux::reactor
