// samples/kv_server/session.cpp — routing and in-order replies (session.hpp).
#include "session.hpp"

#include <cassert>
#include <utility>

namespace pollux::samples::kv {

BatchResult run_batch(Store& store, const Batch& batch, Millis now) {
    BatchResult result;
    result.answers.reserve(batch.parts.size());
    std::string_view args[3];  // a part has at most {key, value} or a single-key command...
    std::vector<std::string_view> many;  // ...which may be longer (SET's options)
    for (const Batch::Part& part : batch.parts) {
        std::span<const std::string_view> view;
        if (part.nargs <= 3) {
            for (std::uint32_t i = 0; i < part.nargs; ++i) {
                const auto [off, len] = batch.args[part.first_arg + i];
                args[i] = std::string_view(batch.arena).substr(off, len);
            }
            view = std::span<const std::string_view>(args, part.nargs);
        } else {
            many.clear();
            for (std::uint32_t i = 0; i < part.nargs; ++i) {
                const auto [off, len] = batch.args[part.first_arg + i];
                many.push_back(std::string_view(batch.arena).substr(off, len));
            }
            view = many;
        }
        const std::size_t before = result.text.size();
        std::int64_t num = 0;
        run_part(store, part.cmd, view, now, result.text, num);
        result.answers.push_back({part.slot, part.index, num, before, result.text.size() - before});
    }
    return result;
}

Session::Slot* Session::slot(std::uint64_t id) noexcept {
    if (id < first_id_ || id - first_id_ >= slots_.size()) return nullptr;
    return &slots_[static_cast<std::size_t>(id - first_id_)];
}

SessionOutcome Session::on_input(std::string_view in, std::string& out) {
    std::size_t pos = 0;
    while (!quit_ && pos < in.size()) {
        const RespResult r = parse_request(in.substr(pos), limits_, request_);
        if (r.parse == RespParse::incomplete) break;
        if (r.parse == RespParse::error) {
            Slot& s = slots_.emplace_back();
            reply_error(s.reply, std::string("ERR ").append(r.error));
            quit_ = true;  // a broken stream cannot be resynchronised: answer, then close
            break;
        }
        pos += request_.size;
        if (!request_.args.empty()) execute(request_, out);
    }
    for (std::size_t shard = 0; shard < outbox_.size(); ++shard) {
        if (outbox_[shard]) router_.send(shard, std::move(outbox_[shard]));
    }
    flush_ready(out);
    return {quit_ ? in.size() : pos, quit_ && slots_.empty()};
}

void Session::apply(const BatchResult& result, std::string& out) {
    for (const BatchResult::Answer& a : result.answers) {
        answer(a.slot, a.index, a.num, std::string_view(result.text).substr(a.text_offset, a.text_length));
    }
    flush_ready(out);
}

void Session::execute(const RespRequest& request, std::string& out) {
    const auto args = std::span<const std::string_view>(request.args);
    const CommandSpec* spec = find_command(args[0]);
    // Nothing owed before it and answered here and now: straight to `out`, no slot.
    if (slots_.empty()) {
        if (spec == nullptr) return reply_unknown_command(out, args);
        if (!arity_ok(*spec, args.size()) || (spec->routing == Routing::per_pair && args.size() % 2 == 0))
            return reply_wrong_arity(out, *spec);
        if (spec->routing == Routing::keyless) return run_keyless(*spec, args, out, quit_);
        if (spec->routing == Routing::single && router_.shard_of(args[1]) == home_) {
            std::int64_t num = 0;
            return run_part(store_, spec->cmd, args, now_ms(), out, num);
        }
    }
    const std::uint64_t id = first_id_ + slots_.size();
    Slot& s = slots_.emplace_back();
    if (spec == nullptr) return reply_unknown_command(s.reply, args);
    if (!arity_ok(*spec, args.size()) || (spec->routing == Routing::per_pair && args.size() % 2 == 0))
        return reply_wrong_arity(s.reply, *spec);
    s.cmd = spec->cmd;
    switch (spec->routing) {
        case Routing::keyless:
            return run_keyless(*spec, args, s.reply, quit_);
        case Routing::single:
            s.parts_left = 1;
            return add_part(id, s, 0, spec->cmd, router_.shard_of(args[1]), args);
        case Routing::per_key: {
            const std::size_t n = args.size() - 1;
            s.gathering = true;
            s.parts_left = static_cast<std::uint32_t>(n);
            if (spec->cmd == Cmd::mget) s.items.resize(n);
            for (std::size_t i = 0; i < n; ++i)
                add_part(id, s, static_cast<std::uint32_t>(i), spec->cmd, router_.shard_of(args[i + 1]), args.subspan(i + 1, 1));
            return;
        }
        case Routing::per_pair: {
            const std::size_t n = (args.size() - 1) / 2;
            s.gathering = true;
            s.parts_left = static_cast<std::uint32_t>(n);
            for (std::size_t i = 0; i < n; ++i)
                add_part(id, s, static_cast<std::uint32_t>(i), spec->cmd, router_.shard_of(args[1 + 2 * i]),
                         args.subspan(1 + 2 * i, 2));
            return;
        }
        case Routing::every_shard: {
            const std::size_t n = router_.shard_count();
            s.gathering = true;
            s.parts_left = static_cast<std::uint32_t>(n);
            for (std::size_t shard = 0; shard < n; ++shard)
                add_part(id, s, static_cast<std::uint32_t>(shard), spec->cmd, shard, {});
            return;
        }
    }
}

// Runs the part now when its shard is this connection's own, else queues it for the
// shard's batch. `slot` must already count this part in parts_left.
void Session::add_part(std::uint64_t id, Slot& slot, std::uint32_t index, Cmd cmd, std::size_t shard,
                       std::span<const std::string_view> args) {
    (void)slot;
    if (shard == home_) {
        scratch_.clear();
        std::int64_t num = 0;
        run_part(store_, cmd, args, now_ms(), scratch_, num);
        answer(id, index, num, scratch_);
        return;
    }
    if (outbox_.size() < router_.shard_count()) outbox_.resize(router_.shard_count());
    std::unique_ptr<Batch>& b = outbox_[shard];
    if (!b) b = std::make_unique<Batch>();
    const auto first = static_cast<std::uint32_t>(b->args.size());
    for (std::string_view a : args) {
        b->args.emplace_back(b->arena.size(), a.size());
        b->arena.append(a);
    }
    b->parts.push_back({id, index, cmd, first, static_cast<std::uint32_t>(args.size())});
}

void Session::answer(std::uint64_t id, std::uint32_t index, std::int64_t num, std::string_view text) {
    Slot* s = slot(id);
    assert(s != nullptr && s->parts_left > 0);
    if (s == nullptr || s->parts_left == 0) return;
    if (!s->gathering) {
        s->reply.assign(text);
    } else if (s->cmd == Cmd::mget) {
        s->items[index].assign(text);
    } else {
        s->sum += num;
    }
    if (--s->parts_left != 0 || !s->gathering) return;
    switch (s->cmd) {  // every part is in: compose the reply
        case Cmd::mget:
            reply_array_header(s->reply, s->items.size());
            for (const std::string& item : s->items) s->reply.append(item);
            s->items = {};
            break;
        case Cmd::mset:
        case Cmd::flushall:
            reply_ok(s->reply);
            break;
        default:  // del, exists, dbsize
            reply_integer(s->reply, s->sum);
            break;
    }
}

void Session::flush_ready(std::string& out) {
    while (!slots_.empty() && slots_.front().parts_left == 0) {
        out.append(slots_.front().reply);
        slots_.pop_front();
        ++first_id_;
    }
}

}  // namespace pollux::samples::kv
