// The per-connection deadline: absolute (traffic does not move it, so a trickling peer
// is closed), re-armable, cancellable, and delivered through on_deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;
using pollux::test::Probe;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<TcpServer> start_server(Probe& probe) {
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.linger_timeout = 200ms;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    EXPECT_TRUE(server->start());
    return server;
}

}  // namespace

TEST(ConnectionDeadline, a_trickling_peer_is_closed_at_the_deadline_although_every_byte_is_activity) {
    Probe probe;
    probe.on_open = [](Connection& c) { c.set_deadline(300ms); };
    auto server = start_server(probe);
    BlockingClient client(server->local_addr());
    const auto t0 = Clock::now();
    // One byte every 20 ms: the idle timeout (60 s) never fires, the deadline does.
    while (probe.closes.size() == 0 && Clock::now() - t0 < 3s) {
        if (!client.write_all("x")) break;
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(probe.closes.wait_for(1, 3s));
    const auto took = Clock::now() - t0;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1300ms) << "closed at the deadline + the linger bound, not later";
    EXPECT_EQ(probe.deadlines.load(), 1);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::deadline});
    EXPECT_EQ(server->metrics().total().closed(CloseReason::deadline), 1u);
}

TEST(ConnectionDeadline, on_deadline_may_answer_first_and_rearming_replaces_the_deadline) {
    Probe probe;
    std::atomic<int> rearmed{0};
    probe.on_open = [](Connection& c) { c.set_deadline(10s); };
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        if (rearmed++ == 0) c.set_deadline(100ms);  // replaces the 10 s one
    };
    probe.on_deadline = [](Connection& c) {
        c.send("408 too slow\n");
        c.close(CloseReason::deadline);
    };
    auto server = start_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("x"));
    auto rest = client.read_to_eof();
    EXPECT_EQ(rest.error, 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(rest.bytes.data()), rest.bytes.size()), "408 too slow\n");
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.deadlines.load(), 1);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::deadline});
}

TEST(ConnectionDeadline, a_cleared_deadline_never_fires_and_closing_cancels_it) {
    Probe probe;
    std::atomic<bool> had{false};
    probe.on_open = [&](Connection& c) {
        c.set_deadline(50ms);
        had = c.has_deadline();
        c.clear_deadline();
    };
    auto server = start_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("x"));
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(had.load());
    EXPECT_EQ(probe.deadlines.load(), 0);
    EXPECT_EQ(probe.closes.size(), 0u);

    // Armed, then the peer closes first: no on_deadline after on_close.
    Probe probe2;
    probe2.on_open = [](Connection& c) { c.set_deadline(100ms); };
    auto server2 = start_server(probe2);
    {
        BlockingClient c2(server2->local_addr());
        ASSERT_TRUE(c2.write_all("y"));
    }
    ASSERT_TRUE(probe2.closes.wait_for(1));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(probe2.deadlines.load(), 0);
    EXPECT_EQ(probe2.violations.load(), 0);
}
