// TcpServer end to end: the lambda echo server over many loopback connections.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/close_log.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::checksum;

namespace {

std::unique_ptr<TcpServer> echo_server(TcpServerOptions opts = {}) {
    if (!opts.reactors) opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    return server;
}

}  // namespace

TEST(TcpServerEcho, echo_keeps_every_byte_over_128_connections_with_random_sizes) {
    auto server = echo_server();
    // Client -> server: the server's byte counters must match what the clients sent;
    // server -> client: every echoed message is checked against its checksum.
    ASSERT_TRUE(server->start());

    constexpr int kThreads = 4, kConnsPerThread = 32, kMessages = 4;
    std::atomic<int> failures{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t + 1));
            std::uniform_int_distribution<std::size_t> size_dist(1, 96 * 1024);
            for (int c = 0; c < kConnsPerThread; ++c) {
                BlockingClient client(server->local_addr());
                if (!client.connected()) {
                    ++failures;
                    continue;
                }
                for (int m = 0; m < kMessages; ++m) {
                    std::vector<std::byte> msg(size_dist(rng));
                    for (auto& b : msg) b = static_cast<std::byte>(rng());
                    if (!client.write_all(msg)) ++failures;
                    auto back = client.read_exact(msg.size());
                    if (back.size() != msg.size() || checksum(back) != checksum(msg)) ++failures;
                    bytes_sent += msg.size();
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    // The close is counted before the open gauge drops (on_close runs in between), and
    // the values are not read at one instant (metrics.hpp): wait for both.
    ASSERT_TRUE(pollux::test::eventually([&] {
        const MetricValues v = server->metrics().total();
        return v.closed_total() == 128u && v.connections_open == 0u;
    }));
    const MetricValues total = server->metrics().total();
    EXPECT_EQ(total.connections_accepted, 128u);
    EXPECT_EQ(total.bytes_in, bytes_sent.load());
    EXPECT_EQ(total.bytes_out, bytes_sent.load());
    EXPECT_EQ(total.closed(CloseReason::peer_closed), 128u);
    EXPECT_EQ(total.connections_open, 0u);
    server->stop();
}

TEST(TcpServerEcho, many_connections_at_once_each_echo_their_own_stream) {
    auto server = echo_server();
    ASSERT_TRUE(server->start());
    constexpr std::size_t kConns = 120;
    std::vector<std::unique_ptr<BlockingClient>> clients;
    for (std::size_t i = 0; i < kConns; ++i) {
        clients.push_back(std::make_unique<BlockingClient>(server->local_addr()));
        ASSERT_TRUE(clients.back()->connected());
    }
    std::mt19937 rng(7);
    for (int round = 0; round < 3; ++round) {
        std::vector<std::vector<std::byte>> sent(kConns);
        for (std::size_t i = 0; i < kConns; ++i) {
            sent[i].resize(1 + rng() % 2000);
            for (auto& b : sent[i]) b = static_cast<std::byte>(rng());
            ASSERT_TRUE(clients[i]->write_all(sent[i]));
        }
        for (std::size_t i = 0; i < kConns; ++i) {
            auto back = clients[i]->read_exact(sent[i].size());
            ASSERT_EQ(checksum(back), checksum(sent[i])) << "connection " << i;
        }
    }
    EXPECT_EQ(server->connections(), kConns);
    // Both reactors got some.
    EXPECT_GT(server->metrics().reactor(0).connections_accepted.load(), 0u);
    EXPECT_GT(server->metrics().reactor(1).connections_accepted.load(), 0u);
    clients.clear();
    server->stop();
}
