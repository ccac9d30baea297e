// TcpServer: max_connections, graceful stop with queued output, lambda API basics.
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
using pollux::test::Probe;

TEST(TcpServerLimits, connections_above_max_are_closed_at_once_and_counted_others_unaffected) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    };
    TcpServerOptions opts;
    opts.reactors = 2;
    opts.max_connections = 4;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    std::vector<std::unique_ptr<BlockingClient>> admitted;
    for (int i = 0; i < 4; ++i) {
        admitted.push_back(std::make_unique<BlockingClient>(server->local_addr()));
        ASSERT_TRUE(admitted.back()->write_all("x"));
        ASSERT_EQ(admitted.back()->read_exact(1).size(), 1u);  // surely accepted
    }
    for (int i = 0; i < 3; ++i) {
        BlockingClient extra(server->local_addr());
        ASSERT_TRUE(extra.connected());
        EXPECT_TRUE(extra.wait_closed());
    }
    EXPECT_EQ(server->metrics().total().connections_rejected, 3u);
    EXPECT_EQ(probe.opens.load(), 4);  // no handler saw the rejected ones
    for (auto& c : admitted) {
        ASSERT_TRUE(c->write_all("y"));
        EXPECT_EQ(c->read_exact(1).size(), 1u);
    }
    admitted.pop_back();  // one leaves: there is room for one more
    ASSERT_TRUE(pollux::test::eventually([&] { return server->connections() == 3; }));
    BlockingClient late(server->local_addr());
    ASSERT_TRUE(late.write_all("z"));
    EXPECT_EQ(late.read_exact(1).size(), 1u);
    late.close();
    admitted.clear();
    server->stop();
    EXPECT_EQ(probe.violations.load(), 0);
}

TEST(TcpServerLimits, stop_flushes_queued_output_then_closes_each_with_server_stop) {
    Probe probe;
    const std::vector<std::byte> reply(2 * 1024 * 1024, std::byte{'r'});
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(reply);  // mostly queued: the clients don't read yet
    };
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    constexpr int kClients = 6;
    std::vector<std::unique_ptr<BlockingClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<BlockingClient>(server->local_addr()));
        ASSERT_TRUE(clients.back()->write_all("go"));
    }
    ASSERT_TRUE(pollux::test::eventually([&] { return server->metrics().total().bytes_in == 2u * kClients; }));
    std::atomic<int> complete{0};
    std::vector<std::thread> readers;
    for (auto& c : clients) {
        readers.emplace_back([&, c = c.get()] {
            auto got = c->read_to_eof();
            if (got.error == 0 && got.bytes.size() == reply.size()) ++complete;
            c->close();
        });
    }
    const auto start = std::chrono::steady_clock::now();
    server->stop(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    for (auto& r : readers) r.join();
    EXPECT_EQ(complete.load(), kClients);  // every byte flushed before the close
    EXPECT_EQ(probe.closes.count(CloseReason::server_stop), static_cast<std::size_t>(kClients));
    EXPECT_EQ(probe.closes.size(), static_cast<std::size_t>(kClients));
    EXPECT_EQ(probe.violations.load(), 0);
}

TEST(TcpServerLimits, stop_with_silent_peers_finishes_within_its_deadline) {
    Probe probe;
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    std::vector<std::unique_ptr<BlockingClient>> clients;  // connected, never closing
    for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<BlockingClient>(server->local_addr()));
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.opens.load() == 8; }));
    const auto start = std::chrono::steady_clock::now();
    server->stop(300ms);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 3s);  // 300 ms plus scheduling slack (sanitizers)
    EXPECT_EQ(probe.closes.count(CloseReason::server_stop), 8u);
    EXPECT_EQ(probe.violations.load(), 0);
    for (auto& c : clients) EXPECT_TRUE(c->wait_closed());
}

TEST(TcpServerLimits, bind_reports_address_in_use) {
    auto first = TcpServer::bind(net::SocketAddr::loopback_v4(0), TcpServerOptions{.reactors = 1}).value();
    auto second = TcpServer::bind(first->local_addr(), TcpServerOptions{.reactors = 1});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), std::errc::address_in_use);
}
