// The session over in-process shards: Redis's answers, expiry, in-order replies however
// the shards' answers come back, and the gathered multi-key commands.
#include "session.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace pollux::samples::kv {
namespace {

// Shards in this process. Batches wait in `queue` until run() (in any order), as if the
// owner reactors answered late.
struct LocalShards final : Router {
    explicit LocalShards(std::size_t n) : stores(n) {}
    std::size_t shard_count() const noexcept override { return stores.size(); }
    std::size_t shard_of(std::string_view key) const noexcept override {
        return std::hash<std::string_view>{}(key) % stores.size();
    }
    void send(std::size_t shard, std::unique_ptr<Batch> batch) override { queue.emplace_back(shard, std::move(batch)); }
    // Runs the queued batches, last first when `reverse`, and applies their answers.
    void run(Session& s, std::string& out, bool reverse = false) {
        auto q = std::move(queue);
        queue.clear();
        if (reverse) std::reverse(q.begin(), q.end());
        for (auto& [shard, b] : q) s.apply(run_batch(stores[shard], *b, now_ms()), out);
    }
    std::vector<Store> stores;
    std::vector<std::pair<std::size_t, std::unique_ptr<Batch>>> queue;
};

std::string command(std::initializer_list<std::string_view> args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (auto a : args) s += "$" + std::to_string(a.size()) + "\r\n" + std::string(a) + "\r\n";
    return s;
}

struct Fixture {
    explicit Fixture(std::size_t shards = 4) : router(shards), session(limits, router, 0, router.stores[0]) {}
    // Sends `wire`, runs every batch (reversed when asked), returns the replies.
    std::string roundtrip(const std::string& wire, bool reverse = false) {
        std::string out;
        const SessionOutcome o = session.on_input(wire, out);
        EXPECT_EQ(o.consumed, wire.size());
        while (!router.queue.empty()) router.run(session, out, reverse);
        return out;
    }
    RespLimits limits;
    LocalShards router;
    Session session;
};

TEST(KvSession, answers_like_redis) {
    Fixture f;
    EXPECT_EQ(f.roundtrip(command({"PING"})), "+PONG\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "foo", "bar"})), "+OK\r\n");
    EXPECT_EQ(f.roundtrip(command({"GET", "foo"})), "$3\r\nbar\r\n");
    EXPECT_EQ(f.roundtrip(command({"GET", "nope"})), "$-1\r\n");
    EXPECT_EQ(f.roundtrip(command({"INCR", "foo"})), "-ERR value is not an integer or out of range\r\n");
    EXPECT_EQ(f.roundtrip(command({"INCRBY", "n", "41"}) + command({"INCR", "n"}) + command({"DECR", "n"})),
              ":41\r\n:42\r\n:41\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "n", "9223372036854775807"}) + command({"INCR", "n"})),
              "+OK\r\n-ERR increment or decrement would overflow\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "k", "v", "NX"}) + command({"SET", "k", "w", "NX"}) +
                          command({"SET", "k", "x", "XX"}) + command({"SET", "zz", "x", "XX"}) + command({"GET", "k"})),
              "+OK\r\n$-1\r\n+OK\r\n$-1\r\n$1\r\nx\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "k", "v", "EX", "0"})), "-ERR invalid expire time in 'set' command\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "k", "v", "EX"})), "-ERR syntax error\r\n");
    EXPECT_EQ(f.roundtrip(command({"GET"})), "-ERR wrong number of arguments for 'get' command\r\n");
    EXPECT_EQ(f.roundtrip(command({"NOPE", "a", "b"})), "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n");
    EXPECT_EQ(f.roundtrip(command({"ECHO", "hi"})), "$2\r\nhi\r\n");
    EXPECT_EQ(f.roundtrip(command({"CONFIG", "GET", "save"})), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    EXPECT_EQ(f.roundtrip(command({"COMMAND", "DOCS"})), "*0\r\n");
    EXPECT_EQ(f.roundtrip(command({"CLIENT", "SETNAME", "x"})), "+OK\r\n");
}

TEST(KvSession, ttl_and_expiry) {
    Fixture f;
    EXPECT_EQ(f.roundtrip(command({"SET", "t", "v", "EX", "100"}) + command({"TTL", "t"}) + command({"TTL", "missing"})),
              "+OK\r\n:100\r\n:-2\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "p", "v"}) + command({"TTL", "p"}) + command({"EXPIRE", "p", "7"}) +
                          command({"TTL", "p"}) + command({"EXPIRE", "missing", "7"})),
              "+OK\r\n:-1\r\n:1\r\n:7\r\n:0\r\n");
    EXPECT_EQ(f.roundtrip(command({"SET", "soon", "v", "PX", "30"})), "+OK\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    EXPECT_EQ(f.roundtrip(command({"GET", "soon"}) + command({"EXISTS", "soon"}) + command({"TTL", "soon"})),
              "$-1\r\n:0\r\n:-2\r\n");
    EXPECT_EQ(f.roundtrip(command({"EXPIRE", "p", "-1"}) + command({"GET", "p"})), ":1\r\n$-1\r\n");
}

TEST(KvSession, replies_stay_in_request_order_however_late_the_shards_answer) {
    Fixture f(8);
    std::string wire;
    std::string want;
    for (int i = 0; i < 64; ++i) {
        wire += command({"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
        want += "+OK\r\n";
    }
    for (int i = 0; i < 64; ++i) {
        wire += command({"GET", "k" + std::to_string(i)});
        const std::string v = "v" + std::to_string(i);
        want += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
    }
    EXPECT_EQ(f.roundtrip(wire, /*reverse=*/true), want);
}

TEST(KvSession, multi_key_commands_gather_their_parts_across_shards) {
    Fixture f(8);
    EXPECT_EQ(f.roundtrip(command({"MSET", "a", "1", "b", "2", "c", "3", "d", "4"}), true), "+OK\r\n");
    EXPECT_EQ(f.roundtrip(command({"MGET", "a", "x", "c", "d", "b"}), true),
              "*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n2\r\n");
    EXPECT_EQ(f.roundtrip(command({"EXISTS", "a", "b", "x", "a"})), ":3\r\n");
    EXPECT_EQ(f.roundtrip(command({"DBSIZE"})), ":4\r\n");
    EXPECT_EQ(f.roundtrip(command({"DEL", "a", "x", "b"})), ":2\r\n");
    EXPECT_EQ(f.roundtrip(command({"DBSIZE"}) + command({"FLUSHALL"}) + command({"DBSIZE"})), ":2\r\n+OK\r\n:0\r\n");
    EXPECT_EQ(f.roundtrip(command({"MSET", "a", "1", "b"})), "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST(KvSession, a_protocol_error_is_answered_then_the_connection_closes) {
    Fixture f;
    std::string out;
    const SessionOutcome o = f.session.on_input(command({"PING"}) + "*1\r\n$-5\r\n" + command({"PING"}), out);
    EXPECT_TRUE(o.close);
    EXPECT_EQ(out, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
}

TEST(KvSession, quit_answers_ok_after_the_replies_before_it_and_closes) {
    Fixture f(8);
    std::string out;
    const SessionOutcome o = f.session.on_input(command({"GET", "x"}) + command({"GET", "y"}) + command({"QUIT"}) +
                                                    command({"PING"}),
                                                out);
    f.router.run(f.session, out, true);
    EXPECT_EQ(out, "$-1\r\n$-1\r\n+OK\r\n");
    EXPECT_TRUE(f.session.closing());
    EXPECT_EQ(f.session.pending(), 0u);
    (void)o;
}

}  // namespace
}  // namespace pollux::samples::kv
