// samples/kv_server/commands.cpp — the command table and the shard side (commands.hpp).
#include "commands.hpp"

#include <array>
#include <chrono>
#include <charconv>
#include <limits>

#include "resp.hpp"

namespace pollux::samples::kv {

namespace {

// GET and SET at 9 and 10: find_command's fast path names them by index.
constexpr std::array kCommands = {
    CommandSpec{Cmd::ping, "ping", -1, Routing::keyless},
    CommandSpec{Cmd::echo, "echo", 2, Routing::keyless},
    CommandSpec{Cmd::quit, "quit", -1, Routing::keyless},
    CommandSpec{Cmd::select, "select", 2, Routing::keyless},
    CommandSpec{Cmd::config, "config", -2, Routing::keyless},
    CommandSpec{Cmd::command, "command", -1, Routing::keyless},
    CommandSpec{Cmd::client, "client", -2, Routing::keyless},
    CommandSpec{Cmd::hello, "hello", -1, Routing::keyless},
    CommandSpec{Cmd::info, "info", -1, Routing::keyless},
    CommandSpec{Cmd::get, "get", 2, Routing::single},
    CommandSpec{Cmd::set, "set", -3, Routing::single},
    CommandSpec{Cmd::incr, "incr", 2, Routing::single},
    CommandSpec{Cmd::incrby, "incrby", 3, Routing::single},
    CommandSpec{Cmd::decr, "decr", 2, Routing::single},
    CommandSpec{Cmd::decrby, "decrby", 3, Routing::single},
    CommandSpec{Cmd::expire, "expire", -3, Routing::single},
    CommandSpec{Cmd::pexpire, "pexpire", -3, Routing::single},
    CommandSpec{Cmd::ttl, "ttl", 2, Routing::single},
    CommandSpec{Cmd::pttl, "pttl", 2, Routing::single},
    CommandSpec{Cmd::del, "del", -2, Routing::per_key},
    CommandSpec{Cmd::exists, "exists", -2, Routing::per_key},
    CommandSpec{Cmd::mget, "mget", -2, Routing::per_key},
    CommandSpec{Cmd::mset, "mset", -3, Routing::per_pair},
    CommandSpec{Cmd::dbsize, "dbsize", 1, Routing::every_shard},
    CommandSpec{Cmd::flushall, "flushall", -1, Routing::every_shard},
    CommandSpec{Cmd::flushall, "flushdb", -1, Routing::every_shard},
};

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }


bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    if (a.size() != lower_b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower_b[i]) return false;
    return true;
}

// Redis's string2ll: an optional '-', digits, no leading '+', spaces or zeros, in range.
bool parse_i64(std::string_view s, std::int64_t& v) noexcept {
    if (s.empty() || s.size() > 20) return false;
    if (s.size() > 1 && (s[0] == '0' || (s[0] == '-' && s[1] == '0'))) return false;
    if (s == "-") return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && end == s.data() + s.size();
}

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kSyntax = "ERR syntax error";

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
void run_set(Store& store, std::span<const std::string_view> args, Millis now, std::string& out) {
    bool nx = false, xx = false, get = false, keepttl = false;
    Millis at = 0;
    bool has_expiry = false;
    for (std::size_t i = 3; i < args.size(); ++i) {
        const std::string_view opt = args[i];
        if (iequals(opt, "nx") && !xx) {
            nx = true;
        } else if (iequals(opt, "xx") && !nx) {
            xx = true;
        } else if (iequals(opt, "get")) {
            get = true;
        } else if (iequals(opt, "keepttl") && !has_expiry) {
            keepttl = true;
        } else if ((iequals(opt, "ex") || iequals(opt, "px") || iequals(opt, "exat") || iequals(opt, "pxat")) &&
                   !has_expiry && !keepttl && i + 1 < args.size()) {
            std::int64_t v = 0;
            if (!parse_i64(args[i + 1], v)) return reply_error(out, kNotInteger);
            if (v <= 0) return reply_error(out, "ERR invalid expire time in 'set' command");
            const bool seconds = iequals(opt, "ex") || iequals(opt, "exat");
            const bool absolute = iequals(opt, "exat") || iequals(opt, "pxat");
            if (seconds && v > std::numeric_limits<std::int64_t>::max() / 1000)
                return reply_error(out, "ERR invalid expire time in 'set' command");
            const Millis ms = seconds ? v * 1000 : v;
            // Absolute times are Unix time; the store keeps steady time: convert.
            at = absolute ? now + (ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count())
                          : now + ms;
            if (at <= now) at = now;  // already due: gone at the next read
            has_expiry = true;
            ++i;
        } else {
            return reply_error(out, kSyntax);
        }
    }
    Store::Entry* existing = store.find(args[1], now);
    if ((nx && existing != nullptr) || (xx && existing == nullptr)) {
        if (get && existing != nullptr) return reply_bulk(out, existing->value);
        return reply_nil(out);
    }
    std::string old;
    const bool had = existing != nullptr;
    if (get && had) old = existing->value;
    const Millis keep = had && keepttl ? existing->expire_at : 0;
    Store::Entry& e = store.upsert(args[1], args[2]);
    store.set_expiry(args[1], e, has_expiry ? at : keep);
    if (get) {
        if (had) return reply_bulk(out, old);
        return reply_nil(out);
    }
    reply_ok(out);
}

void run_incrby(Store& store, std::string_view key, std::int64_t by, Millis now, std::string& out) {
    Store::Entry* e = store.find(key, now);
    std::int64_t v = 0;
    if (e != nullptr && !parse_i64(e->value, v)) return reply_error(out, kNotInteger);
    if ((by > 0 && v > std::numeric_limits<std::int64_t>::max() - by) ||
        (by < 0 && v < std::numeric_limits<std::int64_t>::min() - by))
        return reply_error(out, "ERR increment or decrement would overflow");
    v += by;
    char buf[24];
    const std::string_view text(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
    if (e == nullptr) {
        store.upsert(key, text);
    } else {
        e->value.assign(text);  // keeps its expiry, as Redis does
    }
    reply_integer(out, v);
}

// EXPIRE key seconds [NX|XX|GT|LT], PEXPIRE key ms [...]
void run_expire(Store& store, std::span<const std::string_view> args, bool millis, Millis now, std::string& out) {
    std::int64_t v = 0;
    if (!parse_i64(args[2], v)) return reply_error(out, kNotInteger);
    bool nx = false, xx = false, gt = false, lt = false;
    for (std::size_t i = 3; i < args.size(); ++i) {
        if (iequals(args[i], "nx")) nx = true;
        else if (iequals(args[i], "xx")) xx = true;
        else if (iequals(args[i], "gt")) gt = true;
        else if (iequals(args[i], "lt")) lt = true;
        else return reply_error(out, std::string("ERR Unsupported option ").append(args[i]));
    }
    if ((nx && (xx || gt || lt)) || (gt && lt))
        return reply_error(out, "ERR NX and XX, GT or LT options at the same time are not compatible");
    if (!millis && (v > std::numeric_limits<std::int64_t>::max() / 1000 || v < std::numeric_limits<std::int64_t>::min() / 1000))
        return reply_error(out, "ERR invalid expire time in 'expire' command");
    Store::Entry* e = store.find(args[1], now);
    if (e == nullptr) return reply_integer(out, 0);
    const Millis delta = millis ? v : v * 1000;
    const Millis at = delta > 0 ? now + delta : 0;
    const Millis current = e->expire_at;  // 0: no expiry, i.e. infinite
    if ((nx && current != 0) || (xx && current == 0)) return reply_integer(out, 0);
    if (gt && (current == 0 || (delta > 0 && at <= current) || delta <= 0)) return reply_integer(out, 0);
    if (lt && current != 0 && delta > 0 && at >= current) return reply_integer(out, 0);
    if (delta <= 0) {
        store.erase(args[1]);  // a deadline in the past deletes the key now
    } else {
        store.set_expiry(args[1], *e, at);
    }
    reply_integer(out, 1);
}

void run_ttl(Store& store, std::string_view key, bool millis, Millis now, std::string& out) {
    Store::Entry* e = store.find(key, now);
    if (e == nullptr) return reply_integer(out, -2);
    if (e->expire_at == 0) return reply_integer(out, -1);
    const Millis left = e->expire_at - now;
    reply_integer(out, millis ? left : (left + 500) / 1000);
}

static_assert(kCommands[9].cmd == Cmd::get && kCommands[10].cmd == Cmd::set);

}  // namespace

const CommandSpec* find_command(std::string_view name) noexcept {
    // The hot commands first, by length and first letter; the rest by a scan.
    if (name.size() == 3) {
        const char c = lower(name[0]);
        if (c == 'g' && iequals(name, "get")) return &kCommands[9];
        if (c == 's' && iequals(name, "set")) return &kCommands[10];
    }
    for (const CommandSpec& spec : kCommands)
        if (spec.name.size() == name.size() && iequals(name, spec.name)) return &spec;
    return nullptr;
}

bool arity_ok(const CommandSpec& spec, std::size_t argc) noexcept {
    return spec.arity > 0 ? argc == static_cast<std::size_t>(spec.arity) : argc >= static_cast<std::size_t>(-spec.arity);
}

void reply_unknown_command(std::string& out, std::span<const std::string_view> args) {
    std::string m = "ERR unknown command '";
    m.append(args[0].substr(0, 128)).append("', with args beginning with: ");
    for (std::size_t i = 1; i < args.size() && m.size() < 512; ++i) m.append("'").append(args[i].substr(0, 128)).append("' ");
    reply_error(out, m);
}

void reply_wrong_arity(std::string& out, const CommandSpec& spec) {
    reply_error(out, std::string("ERR wrong number of arguments for '").append(spec.name).append("' command"));
}

void run_keyless(const CommandSpec& spec, std::span<const std::string_view> args, std::string& out, bool& quit) {
    switch (spec.cmd) {
        case Cmd::ping:
            if (args.size() == 1) return reply_simple(out, "PONG");
            if (args.size() == 2) return reply_bulk(out, args[1]);
            return reply_wrong_arity(out, spec);
        case Cmd::echo:
            return reply_bulk(out, args[1]);
        case Cmd::quit:
            quit = true;
            return reply_ok(out);
        case Cmd::select: {
            std::int64_t db = 0;
            if (!parse_i64(args[1], db)) return reply_error(out, kNotInteger);
            if (db != 0) return reply_error(out, "ERR DB index is out of range");
            return reply_ok(out);
        }
        case Cmd::config:
            if (iequals(args[1], "get") && args.size() == 3) {
                // The two parameters redis-benchmark and friends ask for.
                if (iequals(args[2], "save")) {
                    reply_array_header(out, 2);
                    reply_bulk(out, "save");
                    return reply_bulk(out, "");
                }
                if (iequals(args[2], "appendonly")) {
                    reply_array_header(out, 2);
                    reply_bulk(out, "appendonly");
                    return reply_bulk(out, "no");
                }
                return reply_array_header(out, 0);
            }
            return reply_error(out, std::string("ERR unknown subcommand '").append(args[1]).append("'. Try CONFIG HELP."));
        case Cmd::command:
            if (args.size() >= 2 && iequals(args[1], "count")) return reply_integer(out, static_cast<std::int64_t>(kCommands.size()));
            return reply_array_header(out, 0);  // COMMAND, COMMAND DOCS ...: nothing to describe
        case Cmd::client:
            if (iequals(args[1], "setname") && args.size() == 3) return reply_ok(out);
            if (iequals(args[1], "getname")) return reply_nil(out);
            if (iequals(args[1], "setinfo")) return reply_ok(out);
            return reply_error(out, std::string("ERR unknown subcommand '").append(args[1]).append("'. Try CLIENT HELP."));
        case Cmd::hello: {
            if (args.size() >= 2) {
                std::int64_t v = 0;
                if (!parse_i64(args[1], v)) return reply_error(out, "ERR Protocol version is not an integer or out of range");
                if (v != 2) return reply_error(out, "NOPROTO unsupported protocol version");
            }
            reply_array_header(out, 14);
            reply_bulk(out, "server");
            reply_bulk(out, "redis");
            reply_bulk(out, "version");
            reply_bulk(out, "7.0.0");
            reply_bulk(out, "proto");
            reply_integer(out, 2);
            reply_bulk(out, "id");
            reply_integer(out, 1);
            reply_bulk(out, "mode");
            reply_bulk(out, "standalone");
            reply_bulk(out, "role");
            reply_bulk(out, "master");
            reply_bulk(out, "modules");
            return reply_array_header(out, 0);
        }
        case Cmd::info:
            return reply_bulk(out,
                              "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nserver_name:pollux-kv\r\n"
                              "arch_bits:64\r\nmultiplexing_api:epoll\r\n");
        default:
            return reply_error(out, "ERR not a keyless command");
    }
}

void run_part(Store& store, Cmd cmd, std::span<const std::string_view> args, Millis now, std::string& text,
              std::int64_t& num) {
    switch (cmd) {
        case Cmd::get: {
            Store::Entry* e = store.find(args[1], now);
            if (e == nullptr) return reply_nil(text);
            return reply_bulk(text, e->value);
        }
        case Cmd::set:
            return run_set(store, args, now, text);
        case Cmd::incr:
            return run_incrby(store, args[1], 1, now, text);
        case Cmd::decr:
            return run_incrby(store, args[1], -1, now, text);
        case Cmd::incrby:
        case Cmd::decrby: {
            std::int64_t by = 0;
            if (!parse_i64(args[2], by)) return reply_error(text, kNotInteger);
            if (cmd == Cmd::decrby) {
                if (by == std::numeric_limits<std::int64_t>::min())
                    return reply_error(text, "ERR decrement would overflow");
                by = -by;
            }
            return run_incrby(store, args[1], by, now, text);
        }
        case Cmd::expire:
            return run_expire(store, args, false, now, text);
        case Cmd::pexpire:
            return run_expire(store, args, true, now, text);
        case Cmd::ttl:
            return run_ttl(store, args[1], false, now, text);
        case Cmd::pttl:
            return run_ttl(store, args[1], true, now, text);
        case Cmd::del:
            num = store.find(args[0], now) != nullptr && store.erase(args[0]) ? 1 : 0;  // an expired key is not counted
            return;
        case Cmd::exists:
            num = store.find(args[0], now) != nullptr ? 1 : 0;
            return;
        case Cmd::mget: {
            Store::Entry* e = store.find(args[0], now);
            if (e == nullptr) return reply_nil(text);
            return reply_bulk(text, e->value);
        }
        case Cmd::mset: {
            Store::Entry& e = store.upsert(args[0], args[1]);
            store.set_expiry(args[0], e, 0);  // MSET clears a deadline, like SET
            return;
        }
        case Cmd::dbsize:
            num = static_cast<std::int64_t>(store.size());
            return;
        case Cmd::flushall:
            store.clear();
            return;
        default:
            return reply_error(text, "ERR not a shard command");
    }
}

}  // namespace pollux::samples::kv
