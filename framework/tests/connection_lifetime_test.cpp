// Owned lifetimes: on_close never runs inside the call that closed; a ConnectionRef and
// the work it posted stay harmless after their server or client is destroyed; pooled
// input moved to another reactor goes back to its own pool. Run under ASan and TSan.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_client.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "support/close_log.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::CloseLog;
using pollux::test::eventually;
using pollux::test::Probe;

namespace {

// Frees its context in on_close, as handlers do; on_data keeps using the context after
// send() -- fine only if on_close cannot run inside send().
class ContextHandler final : public ConnectionHandler {
public:
    explicit ContextHandler(std::atomic<int>& inside) : inside_(inside) {}
    void on_open(Connection&) override { ctx_ = std::make_unique<std::vector<std::byte>>(4 * 1024 * 1024); }
    void on_data(Connection& c, Buffer& in) override {
        in.consume_all();
        in_data_ = true;
        for (int i = 0; i < 8 && ctx_ != nullptr; ++i) c.send(*ctx_);  // passes max_output: closes
        if (ctx_ == nullptr) ++inside_;  // on_close ran inside send and freed it
        in_data_ = false;
    }
    void on_close(Connection&, CloseReason r) override {
        if (in_data_) ++inside_;
        reason_ = r;
        ctx_.reset();
    }
    CloseReason reason_ = CloseReason::local_close;

private:
    std::atomic<int>& inside_;
    std::unique_ptr<std::vector<std::byte>> ctx_;
    bool in_data_ = false;
};

}  // namespace

TEST(ConnectionLifetime, on_close_runs_after_the_callback_whose_send_hit_the_output_cap) {
    std::atomic<int> inside{0};
    CloseLog closes;
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.max_output = 1024 * 1024;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory([&](Connection&) { return std::make_unique<ContextHandler>(inside); });
    server->on_close([&](Connection&, CloseReason r) { closes.add(r); });  // unused with a factory
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    ASSERT_TRUE(client.wait_closed());
    ASSERT_TRUE(eventually([&] { return server->metrics().total().closed(CloseReason::limit) == 1; }));
    ASSERT_TRUE(eventually([&] { return server->connections() == 0; }));
    EXPECT_EQ(inside.load(), 0) << "on_close ran while on_data was still on the stack";
}

TEST(ConnectionLifetime, a_ref_outliving_its_server_returns_false_and_touches_nothing) {
    std::mutex mu;
    ConnectionRef ref;
    {
        TcpServerOptions opts;
        opts.reactors = 2;
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
        server->on_open([&](Connection& c) {
            std::lock_guard lock(mu);
            ref = c.ref();
        });
        ASSERT_TRUE(server->start());
        BlockingClient client(server->local_addr());
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(mu);
            return static_cast<bool>(ref);
        }));
        ASSERT_TRUE(ref.send("while alive\n"));
        // A worker keeps using the ref while the server goes away under it.
        std::atomic<bool> stop{false};
        std::thread worker([&, r = ref] {
            while (!stop) (void)r.send("tick\n");
        });
        (void)server->stop(100ms);
        server.reset();
        stop = true;
        worker.join();
    }
    // Everything after the owner is gone: false, no use-after-free (ASan).
    EXPECT_TRUE(ref);
    EXPECT_FALSE(ref.send("late\n"));
    EXPECT_FALSE(ref.close());
    EXPECT_FALSE(ref.abort());
    EXPECT_FALSE(ref.dispatch([](Connection&) { ADD_FAILURE() << "ran on a dead connection"; }));
    EXPECT_FALSE(ref.is_in_loop_thread());
    EXPECT_EQ(ref.get_in_loop(), nullptr);
}

// A client on a user's reactor (which keeps running after the client is gone): a ref
// task queued before the client was destroyed runs after its host was freed.
TEST(ConnectionLifetime, work_a_ref_posted_before_its_client_was_destroyed_does_nothing_when_it_runs) {
    TcpServerOptions sopts;
    sopts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), sopts).value();
    ASSERT_TRUE(server->start());

    reactor::ReactorOptions ropts;
    ropts.task_budget = 1;  // one cross-thread task per round: the client dies in between
    auto reactor = reactor::Reactor::create(ropts).value();
    ASSERT_TRUE(reactor->start());
    auto client = TcpClient::create(*reactor, server->local_addr()).value();
    std::atomic<bool> opened{false};
    client->on_open([&](Connection&) { opened = true; });
    client->connect();
    ASSERT_TRUE(eventually([&] { return opened.load(); }));
    const ConnectionRef ref = client->connection();
    ASSERT_TRUE(ref);

    std::atomic<bool> gate{false};
    ASSERT_TRUE(reactor->post([&] {
        while (!gate) std::this_thread::yield();
    }));
    TcpClient* raw = client.release();
    ASSERT_TRUE(reactor->post([raw] { delete raw; }));  // on the loop: stop_in_loop, then gone
    std::atomic<int> ran{0};
    ASSERT_TRUE(ref.dispatch([&](Connection&) { ++ran; }));  // queued behind the delete
    ASSERT_TRUE(ref.send("after\n"));
    gate = true;
    std::promise<void> flushed;
    // Two rounds later everything queued above has run.
    ASSERT_TRUE(reactor->post([&] { flushed.set_value(); }));
    ASSERT_EQ(flushed.get_future().wait_for(5s), std::future_status::ready);
    EXPECT_EQ(ran.load(), 0);
    EXPECT_FALSE(ref.send("later\n"));
    reactor->stop();
    ASSERT_TRUE(reactor->join());
}

// Input left over from an earlier call lives in a pooled chunk of the connection's
// reactor. Moving it to another reactor and destroying it there must not touch the
// owner's free list from the wrong thread (TSan), and the pool takes it back.
TEST(ConnectionLifetime, pooled_input_moved_to_another_reactor_is_freed_safely) {
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    std::atomic<int> shipped{0};
    std::atomic<int> freed{0};
    server->on_data([&](Connection& c, Buffer& in) {
        if (in.readable_size() < 1000) return;  // keep it: the next call gets the pooled input
        Buffer mine = std::move(in);
        reactor::Reactor& other = c.reactor().index() == 0 ? server->pool().reactor(1) : server->pool().reactor(0);
        ++shipped;
        (void)other.post([b = std::make_shared<Buffer>(std::move(mine)), &freed]() mutable {
            b.reset();  // freed on the other reactor
            ++freed;
        });
        c.send("k");
    });
    ASSERT_TRUE(server->start());
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
        clients.emplace_back([&] {
            BlockingClient c(server->local_addr());
            const int one = 1;  // two small writes back to back: no Nagle wait between them
            ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            const std::vector<std::byte> part(600, std::byte{'p'});
            for (int i = 0; i < 200; ++i) {
                ASSERT_TRUE(c.write_all(part));
                ASSERT_TRUE(c.write_all(part));
                ASSERT_EQ(c.read_exact(1).size(), 1u);
            }
        });
    }
    for (auto& t : clients) t.join();
    ASSERT_TRUE(eventually([&] { return freed.load() == shipped.load(); }));
    EXPECT_GT(shipped.load(), 0);
    ASSERT_TRUE(server->stop(1s));
}
