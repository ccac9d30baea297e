// samples/kv_server/store.hpp — one shard of the key space: string keys, string values,
// optional expiry. One Store per reactor, touched by that reactor's thread only.
//
// Expiry is lazy and active, as in Redis: a key past its deadline is gone for every
// read (and removed on the spot), and `expire_some(now, budget)` -- called by a timer --
// removes up to `budget` expired keys, so keys nobody reads again do not stay forever.
// Deadlines are milliseconds on the steady clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pollux::samples::kv {

using Millis = std::int64_t;  // steady-clock milliseconds
Millis now_ms() noexcept;

class Store {
public:
    struct Entry {
        std::string value;
        Millis expire_at = 0;  // 0: never
    };

    // The live entry of `key`, or null (an expired one is removed here).
    Entry* find(std::string_view key, Millis now);
    // Inserts or overwrites; returns the entry (expiry unchanged for an existing key
    // unless set_expiry is called).
    Entry& upsert(std::string_view key, std::string_view value);
    bool erase(std::string_view key);
    // Sets (at > 0) or clears (at == 0) the deadline of an existing entry.
    void set_expiry(std::string_view key, Entry& entry, Millis at);
    std::size_t size() const noexcept { return map_.size(); }
    void clear();
    // Removes up to `budget` keys whose deadline passed. Returns how many.
    std::size_t expire_some(Millis now, std::size_t budget);

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map_;
    // Deadlines to check, soonest first; stale ones (key gone or deadline moved) are
    // skipped when they come up.
    using Due = std::pair<Millis, std::string>;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
};

}  // namespace pollux::samples::kv
