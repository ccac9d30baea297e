// samples/kv_server/store.cpp — one shard of the key space (store.hpp).
#include "store.hpp"

#include <chrono>

namespace pollux::samples::kv {

Millis now_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Store::Entry* Store::find(std::string_view key, Millis now) {
    const auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expire_at != 0 && it->second.expire_at <= now) {
        map_.erase(it);
        return nullptr;
    }
    return &it->second;
}

Store::Entry& Store::upsert(std::string_view key, std::string_view value) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(std::string(key), Entry{}).first;
    it->second.value.assign(value);
    return it->second;
}

bool Store::erase(std::string_view key) {
    const auto it = map_.find(key);
    if (it == map_.end()) return false;
    map_.erase(it);
    return true;
}

void Store::set_expiry(std::string_view key, Entry& entry, Millis at) {
    entry.expire_at = at;
    if (at != 0) due_.emplace(at, std::string(key));
}

void Store::clear() {
    map_.clear();
    due_ = {};
}

std::size_t Store::expire_some(Millis now, std::size_t budget) {
    std::size_t removed = 0;
    while (budget-- > 0 && !due_.empty() && due_.top().first <= now) {
        const auto it = map_.find(due_.top().second);
        // Only if the key still carries this deadline (it may have been rewritten).
        if (it != map_.end() && it->second.expire_at != 0 && it->second.expire_at <= now) {
            map_.erase(it);
            ++removed;
        }
        due_.pop();
    }
    return removed;
}

}  // namespace pollux::samples::kv
