// samples/kv_server/commands.hpp — the command table and what a shard executes.
//
// Every command has a spec: its name, its arity in Redis's convention (n > 0: exactly n
// words with the name; n < 0: at least -n), and where its keys are:
//
//   keyless      PING ECHO QUIT SELECT CONFIG COMMAND CLIENT HELLO INFO: answered by the
//                connection's own reactor
//   single key   GET SET INCR INCRBY DECR DECRBY EXPIRE PEXPIRE TTL PTTL: run whole on
//                the key's shard
//   per key      DEL EXISTS MGET MSET: split into one part per key (per pair for MSET),
//                each run on its key's shard; the connection gathers the parts
//   every shard  DBSIZE FLUSHALL FLUSHDB: one part per shard, gathered
//
// `run_part` is what a shard executes for one part; it never sees another shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "store.hpp"

namespace pollux::samples::kv {

enum class Cmd : std::uint8_t {
    // keyless
    ping, echo, quit, select, config, command, client, hello, info,
    // single key
    get, set, incr, incrby, decr, decrby, expire, pexpire, ttl, pttl,
    // per key: the command, and the part each key (pair) becomes
    del, exists, mget, mset,
    // every shard
    dbsize, flushall,
};

enum class Routing : std::uint8_t { keyless, single, per_key, per_pair, every_shard };

struct CommandSpec {
    Cmd cmd;
    std::string_view name;  // lower case
    int arity;
    Routing routing;
};

// The spec of `name` (any case), or null.
const CommandSpec* find_command(std::string_view name) noexcept;
bool arity_ok(const CommandSpec& spec, std::size_t argc) noexcept;

// Redis's replies to a bad command.
void reply_unknown_command(std::string& out, std::span<const std::string_view> args);
void reply_wrong_arity(std::string& out, const CommandSpec& spec);

// Runs a keyless command on the connection's reactor. Sets `quit` for QUIT.
void run_keyless(const CommandSpec& spec, std::span<const std::string_view> args, std::string& out, bool& quit);

// One part on its shard:
//   single key: `args` is the whole command; the full reply goes to `text`;
//   del / exists: `args` = {key}; `num` = 1 if it was deleted / exists;
//   mget: `args` = {key}; `text` = the bulk (or nil) item;
//   mset: `args` = {key, value};
//   dbsize: `num` = keys in the shard; flushall: the shard is emptied.
void run_part(Store& store, Cmd cmd, std::span<const std::string_view> args, Millis now, std::string& text,
              std::int64_t& num);

}  // namespace pollux::samples::kv
