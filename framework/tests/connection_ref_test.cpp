// ConnectionRef: cross-thread send/close, and stale handles are harmless no-ops.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::Probe;

namespace {

struct RefBox {
    std::mutex mutex;
    ConnectionRef ref;
    void set(ConnectionRef r) {
        std::lock_guard lock(mutex);
        ref = r;
    }
    ConnectionRef get() {
        std::lock_guard lock(mutex);
        return ref;
    }
};

}  // namespace

TEST(ConnectionRef, is_small_and_an_empty_one_refuses_everything) {
    EXPECT_LE(sizeof(ConnectionRef), 24u);  // a shared handle on the host + slot + generation
    ConnectionRef empty;
    EXPECT_FALSE(empty);
    EXPECT_FALSE(empty.send("x"));
    EXPECT_FALSE(empty.close());
}

TEST(ConnectionRef, send_and_close_from_another_thread_reach_the_connection) {
    Probe probe;
    RefBox box;
    probe.on_open = [&](Connection& c) { box.set(c.ref()); };
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(pollux::test::eventually([&] { return static_cast<bool>(box.get()); }));
    ConnectionRef ref = box.get();
    std::thread other([ref] {
        for (int i = 0; i < 100; ++i) EXPECT_TRUE(ref.send("0123456789"));
        EXPECT_TRUE(ref.close());
    });
    other.join();
    auto got = client.read_to_eof();
    EXPECT_EQ(got.error, 0);
    EXPECT_EQ(got.bytes.size(), 1000u);  // every send, in order, before the close
    client.close();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::local_close});

    // The connection is gone: the ref still posts (the reactor runs) but does nothing.
    std::atomic<bool> ran{false};
    EXPECT_TRUE(ref.dispatch([&](Connection&) { ran = true; }));
    EXPECT_TRUE(ref.send("late"));
    EXPECT_TRUE(ref.close());
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(probe.closes.size(), 1u);
    EXPECT_EQ(probe.violations.load(), 0);

    // A new connection may take the same slot: the old ref must not reach it.
    BlockingClient second(server->local_addr());
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.opens.load() == 2; }));
    EXPECT_TRUE(ref.close());
    ASSERT_TRUE(second.write_all("still open?"));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(probe.closes.size(), 1u);
    second.close();
    server->stop();
    EXPECT_FALSE(ref.send("after stop"));  // the reactor has exited
}

TEST(ConnectionRef, dispatch_runs_on_the_owning_reactor_thread) {
    Probe probe;
    RefBox box;
    probe.on_open = [&](Connection& c) { box.set(c.ref()); };
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(pollux::test::eventually([&] { return static_cast<bool>(box.get()); }));
    std::atomic<bool> on_loop{false};
    ASSERT_TRUE(box.get().dispatch([&](Connection& c) {
        on_loop = c.reactor().is_in_loop_thread();
        c.send("hi");
    }));
    EXPECT_EQ(client.read_exact(2).size(), 2u);
    EXPECT_TRUE(on_loop.load());
    client.close();
    server->stop();
}
