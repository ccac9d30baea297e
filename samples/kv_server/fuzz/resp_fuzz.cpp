// samples/kv_server/fuzz/resp_fuzz.cpp — libFuzzer target for the RESP request handling.
//
// The input's first byte picks how the rest is cut into frames-split-anywhere pieces and
// in which order the shards answer; the pieces reach a kv::Session over 3 in-process
// shards the way a connection delivers them (what it did not consume stays, new bytes
// are appended). Small limits, so bulk, argument and inline limits are reached too.
// Checked: no crash or sanitizer report, nothing consumed that was not there, every
// reply begins with a RESP type byte, and nothing is answered after the close.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "session.hpp"

namespace {

using namespace pollux::samples::kv;

void check(bool ok) {
    if (!ok) std::abort();
}

struct Shards final : Router {
    std::vector<Store> stores{3};
    std::vector<std::pair<std::size_t, std::unique_ptr<Batch>>> queue;
    std::size_t shard_count() const noexcept override { return stores.size(); }
    std::size_t shard_of(std::string_view key) const noexcept override {
        return std::hash<std::string_view>{}(key) % stores.size();
    }
    void send(std::size_t shard, std::unique_ptr<Batch> batch) override { queue.emplace_back(shard, std::move(batch)); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t cut = data[0];
    const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
    RespLimits limits;
    limits.max_bulk = 64;
    limits.max_args = 16;
    limits.max_inline = 128;
    Shards shards;
    Session session(limits, shards, 0, shards.stores[0]);
    std::string pending;
    std::string out;
    bool closed = false;
    std::size_t at = 0;
    std::size_t step = 1 + (cut % 11);
    const auto check_out = [&](const std::string& o) {
        if (o.empty()) return;
        check(!closed);
        check(o[0] == '+' || o[0] == '-' || o[0] == ':' || o[0] == '$' || o[0] == '*');
    };
    while (at < wire.size()) {
        const std::size_t n = step < wire.size() - at ? step : wire.size() - at;
        pending.append(wire.substr(at, n));
        at += n;
        step = 1 + ((step * 5 + cut) % 47);
        out.clear();
        const SessionOutcome o = session.on_input(pending, out);
        check(o.consumed <= pending.size());
        pending.erase(0, o.consumed);
        // The shards answer, in order or last first.
        auto q = std::move(shards.queue);
        shards.queue.clear();
        if (cut & 1) std::reverse(q.begin(), q.end());
        for (auto& [shard, b] : q) session.apply(run_batch(shards.stores[shard], *b, now_ms()), out);
        check_out(out);
        if (o.close || (session.closing() && session.pending() == 0)) closed = true;
    }
    return 0;
}
