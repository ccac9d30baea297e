// Output backpressure: high-water mark, write-complete, bounded queues for slow consumers.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <mutex>
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

TEST(ConnectionBackpressure, high_water_fires_once_per_crossing_and_write_complete_when_drained) {
    Probe probe;
    const std::vector<std::byte> big(3 * 1024 * 1024, std::byte{'z'});
    probe.on_open = [](Connection& c) { (void)c.tcp_stream()->set_send_buffer_size(64 * 1024); };
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(big);  // the kernel takes little (small buffers); the rest queues past 1 MiB
    };
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.high_waters.load() == 1; }));
    EXPECT_EQ(probe.write_completes.load(), 0);
    auto got = client.read_exact(big.size());
    EXPECT_EQ(got.size(), big.size());
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.write_completes.load() == 1; }));
    EXPECT_EQ(probe.high_waters.load(), 1);
    // A second excursion above the mark fires again. Read only once it has: a client
    // that reads while the server writes can keep the kernel taking every byte, and
    // then nothing is ever queued (send writes directly while the kernel accepts).
    ASSERT_TRUE(client.write_all("go"));
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.high_waters.load() == 2; }));
    got = client.read_exact(big.size());
    EXPECT_EQ(got.size(), big.size());
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.write_completes.load() == 2; }));
    EXPECT_EQ(probe.high_waters.load(), 2);
    client.close();
    server->stop();
}

TEST(ConnectionBackpressure, slow_consumers_stay_below_high_water_plus_one_read) {
    constexpr std::size_t kHighWater = 256 * 1024;
    constexpr std::size_t kOneRead = 16 * 1024 + Buffer::kExtraReadSize;  // pool chunk + stack extra
    std::atomic<std::size_t> max_queued{0};
    Probe probe;
    probe.on_data = [&](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
        std::size_t q = c.output_size(), m = max_queued.load();
        while (q > m && !max_queued.compare_exchange_weak(m, q)) {
        }
    };
    probe.on_high_water = [](Connection& c) { c.pause_reading(); };
    probe.on_write_complete = [](Connection& c) { c.resume_reading(); };
    TcpServerOptions opts;
    opts.reactors = 2;
    opts.connection.high_water_mark = kHighWater;
    opts.connection.max_output = 4 * 1024 * 1024;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());

    constexpr std::size_t kClients = 4;
    std::vector<std::unique_ptr<BlockingClient>> clients;
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<BlockingClient>(server->local_addr(), 20s));
        int rcvbuf = 4096;
        ::setsockopt(clients.back()->fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    for (std::size_t i = 0; i < kClients; ++i) {
        writers.emplace_back([c = clients[i].get()] {
            std::vector<std::byte> chunk(64 * 1024, std::byte{'s'});
            for (int k = 0; k < 256; ++k) {  // 16 MiB, never reading the echo
                if (!c->write_all(chunk)) return;
            }
        });
    }
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.high_waters.load() >= static_cast<int>(kClients); }));
    std::this_thread::sleep_for(200ms);  // the writers keep pushing; the server must not
    EXPECT_LE(max_queued.load(), kHighWater + kOneRead);
    EXPECT_EQ(probe.closes.size(), 0u);  // paused, not over the cap
    for (auto& c : clients) ::shutdown(c->fd(), SHUT_RDWR);
    for (auto& w : writers) w.join();
    clients.clear();
    ASSERT_TRUE(probe.closes.wait_for(kClients));
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

TEST(ConnectionBackpressure, read_budget_requeues_the_connection_until_its_input_is_drained) {
    // Reading paused while 96 KiB arrive; then resume: with a 8 KiB budget the connection
    // must re-queue itself about a dozen times without any new epoll edge.
    constexpr std::size_t kBytes = 96 * 1024;
    std::atomic<std::size_t> received{0};
    std::mutex ref_mutex;
    ConnectionRef ref;
    Probe probe;
    probe.on_open = [&](Connection& c) {
        c.pause_reading();
        std::lock_guard lock(ref_mutex);
        ref = c.ref();
    };
    probe.on_data = [&](Connection&, Buffer& in) {
        received += in.readable_size();
        in.consume_all();
    };
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.read_budget = 8 * 1024;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all(std::vector<std::byte>(kBytes, std::byte{'b'})));
    ASSERT_TRUE(pollux::test::eventually([&] {
        std::lock_guard lock(ref_mutex);
        return static_cast<bool>(ref);
    }));
    std::this_thread::sleep_for(50ms);  // everything sits in the kernel by now
    EXPECT_EQ(received.load(), 0u);
    {
        std::lock_guard lock(ref_mutex);
        ASSERT_TRUE(ref.dispatch([](Connection& c) { c.resume_reading(); }));
    }
    EXPECT_TRUE(pollux::test::eventually([&] { return received.load() == kBytes; }));
    EXPECT_EQ(received.load(), kBytes);
    client.close();
    server->stop();
}
