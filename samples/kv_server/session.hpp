// samples/kv_server/session.hpp — one connection's commands, routed to the shards that
// own their keys, with the replies kept in request order. No I/O here.
//
//     on_input(bytes, out)   parses every complete request; each becomes a slot in the
//                            reply queue. Keyless commands and parts whose key lives on
//                            this connection's own shard run at once; the other parts
//                            go, one Batch per shard per read, through the Router.
//     apply(result, out)     a shard's answers come back: their slots fill up.
//     Either call appends to `out` the replies that became ready IN ORDER: a reply
//     waits for every reply before it, so pipelined replies never overtake each other.
//
//   slots:  [ ready ][ ready ][ waits for 2 parts ][ ready ] ...
//            ^ written out      ^ holds back the one after it
//
// The Router is the server (kv_app.hpp: a post to the owner reactor, a post back) or, in
// tests and the fuzz target, a loop that runs every batch at once on in-process stores.
// Ordering per key: every part for one shard travels in FIFO order (one producer per
// connection reactor), so commands on the same key run in the order they were sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "resp.hpp"
#include "store.hpp"

namespace pollux::samples::kv {

// Parts for one shard, with their arguments copied into one arena (the request bytes
// they came from are consumed before the answers return).
struct Batch {
    struct Part {
        std::uint64_t slot;
        std::uint32_t index;      // part number within its slot (key index for MGET)
        Cmd cmd;
        std::uint32_t first_arg;  // into args
        std::uint32_t nargs;
    };
    std::vector<Part> parts;
    std::vector<std::pair<std::size_t, std::size_t>> args;  // (offset, length) into arena
    std::string arena;
};

// A shard's answers to one Batch.
struct BatchResult {
    struct Answer {
        std::uint64_t slot;
        std::uint32_t index;
        std::int64_t num;
        std::size_t text_offset;
        std::size_t text_length;
    };
    std::vector<Answer> answers;
    std::string text;  // the answers' RESP text, back to back
};

// Runs every part of `batch` on `store` (the shard's thread).
BatchResult run_batch(Store& store, const Batch& batch, Millis now);

class Router {
public:
    virtual std::size_t shard_count() const noexcept = 0;
    virtual std::size_t shard_of(std::string_view key) const noexcept = 0;
    // Runs `batch` on shard `shard` and, later, calls Session::apply with the result on
    // this connection's thread (or drops it if the connection is gone).
    virtual void send(std::size_t shard, std::unique_ptr<Batch> batch) = 0;

protected:
    ~Router() = default;
};

struct SessionOutcome {
    std::size_t consumed = 0;
    bool close = false;  // QUIT answered or a protocol error: close once `out` is written
};

class Session {
public:
    // `home`: this connection's own shard, run inline; `store`: that shard's store.
    Session(const RespLimits& limits, Router& router, std::size_t home, Store& store) noexcept
        : limits_(limits), router_(router), home_(home), store_(store) {}

    SessionOutcome on_input(std::string_view in, std::string& out);
    void apply(const BatchResult& result, std::string& out);

    // Replies still owed (slots not yet written out).
    std::size_t pending() const noexcept { return slots_.size(); }
    bool closing() const noexcept { return quit_; }

private:
    struct Slot {
        std::string reply;           // the reply once ready; MGET items accumulate here by index
        std::vector<std::string> items;  // MGET: one item per key
        std::int64_t sum = 0;
        std::uint32_t parts_left = 0;
        Cmd cmd = Cmd::ping;
        bool gathering = false;      // a per-key / every-shard command: compose when done
    };

    void execute(const RespRequest& request, std::string& out);
    void add_part(std::uint64_t id, Slot& slot, std::uint32_t index, Cmd cmd, std::size_t shard,
                  std::span<const std::string_view> args);
    void answer(std::uint64_t id, std::uint32_t index, std::int64_t num, std::string_view text);
    void flush_ready(std::string& out);
    Slot* slot(std::uint64_t id) noexcept;

    const RespLimits& limits_;
    Router& router_;
    const std::size_t home_;
    Store& store_;
    RespRequest request_;                        // reused: no allocation per request
    std::deque<Slot> slots_;                     // replies owed, in request order
    std::uint64_t first_id_ = 0;                 // id of slots_.front()
    std::vector<std::unique_ptr<Batch>> outbox_; // per shard, for the current read
    std::string scratch_;
    bool quit_ = false;
};

}  // namespace pollux::samples::kv
