// Fair turns: a connection that has more to read than its read_budget yields, and
// continues only after every other connection that was ready then has had its turn and
// the poller has run. Counted in turns and loop rounds, never in time.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;

namespace {

// Per-connection role, decided by the first byte: 'A' (the bulk sender) or 'B' (a ping).
struct Shared {
    std::atomic<int> a_turns{0};                  // on_data calls on A
    std::atomic<int> a_turns_when_b_served{-1};   // A's turns at B's first on_data
    std::atomic<int> a_turns_when_b_sent{-1};
    std::atomic<int> max_a_turns_per_round{0};
    ConnectionRef a_ref;                          // loop thread
    int b_fd = -1;                                // the test's B socket (a blocking send)
    std::uint64_t round = ~std::uint64_t{0};      // loop thread
    int turns_this_round = 0;                     // loop thread
};

class Role final : public ConnectionHandler {
public:
    explicit Role(Shared& s) : s_(s) {}
    void on_data(Connection& c, Buffer& in) override {
        if (role_ == 0 && !in.empty()) role_ = static_cast<char>(in.readable()[0]);
        const std::size_t n = in.readable_size();
        in.consume_all();
        if (role_ == 'B') {
            if (s_.a_turns_when_b_served.load() < 0) s_.a_turns_when_b_served = s_.a_turns.load();
            c.send("pong");
            return;
        }
        if (role_ != 'A' || n == 0) return;
        const int turn = ++s_.a_turns;
        const std::uint64_t round = c.reactor().stats().loop_iterations;
        s_.turns_this_round = round == s_.round ? s_.turns_this_round + 1 : 1;
        s_.round = round;
        if (s_.turns_this_round > s_.max_a_turns_per_round) s_.max_a_turns_per_round = s_.turns_this_round;
        if (turn == 2) {
            // B becomes ready now, while A still has megabytes buffered.
            s_.a_turns_when_b_sent = turn;
            (void)::send(s_.b_fd, "B", 1, MSG_NOSIGNAL);
        }
    }

private:
    Shared& s_;
    char role_ = 0;
};

}  // namespace

TEST(ConnectionFairness, a_connection_over_its_read_budget_yields_to_a_ready_one_and_gets_one_turn_per_round) {
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.read_budget = 1;  // every read uses up the turn
    opts.connection.max_input = 64 * 1024;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    Shared shared;
    std::atomic<int> opened{0};
    server->set_handler_factory([&](Connection& c) {
        ++opened;
        // A is the first connection: paused until its backlog is in the kernel.
        if (opened == 1) {
            c.pause_reading();
            shared.a_ref = c.ref();
        }
        return std::make_unique<Role>(shared);
    });
    ASSERT_TRUE(server->start());

    BlockingClient a(server->local_addr());
    ASSERT_TRUE(eventually([&] { return opened.load() == 1; }));
    BlockingClient b(server->local_addr());
    ASSERT_TRUE(eventually([&] { return opened.load() == 2; }));
    shared.b_fd = b.fd();
    // 2 MiB from A: about 32 reads of 64 KiB once it resumes.
    std::vector<std::byte> bulk(2 * 1024 * 1024, std::byte{'A'});
    std::thread writer([&] { EXPECT_TRUE(a.write_all(bulk)); });
    std::this_thread::sleep_for(100ms);  // let the writer fill the socket buffers (A is paused)
    ASSERT_TRUE(shared.a_ref.dispatch([](Connection& c) { c.resume_reading(); }));

    auto pong = b.read_exact(4);
    ASSERT_EQ(pong.size(), 4u);
    writer.join();
    ASSERT_TRUE(eventually([&] { return server->metrics().total().bytes_in == bulk.size() + 1; }));

    // B's byte arrived during A's second turn; before the fix A's requeued turns ran
    // back to back in one task drain and B waited for all ~32 of them.
    ASSERT_GE(shared.a_turns_when_b_served.load(), 2);
    EXPECT_LE(shared.a_turns_when_b_served.load(), shared.a_turns_when_b_sent.load() + 3)
        << "B waited " << shared.a_turns_when_b_served.load() - shared.a_turns_when_b_sent.load()
        << " of A's turns (A had " << shared.a_turns.load() << " in all)";
    EXPECT_GE(shared.a_turns.load(), 8) << "A should have needed many turns";
    // At most two turns of A per round: its requeued turn, plus one for a new edge.
    EXPECT_LE(shared.max_a_turns_per_round.load(), 2);
    a.close();
    b.close();
    ASSERT_TRUE(server->stop(1s));
}
