// Connection close semantics: lingering close, half-close, and one on_close with the
// right reason for every way a connection ends.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

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

namespace {

std::unique_ptr<TcpServer> probe_server(Probe& probe, TcpServerOptions opts = {}) {
    if (!opts.reactors) opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    EXPECT_TRUE(server->start());
    return server;
}

std::vector<std::byte> pattern(std::size_t n) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 31 + 7);
    return v;
}

}  // namespace

TEST(ConnectionClose, lingering_close_delivers_all_4_mib_then_eof_never_a_reset) {
    Probe probe;
    const auto reply = pattern(4 * 1024 * 1024);
    probe.on_data = [&](Connection& c, Buffer& in) {
        // Reads only the 4-byte request; the rest of the client's bytes stay unread.
        if (in.readable_size() >= 4 && c.is_open()) {
            c.send(reply);
            c.close();
        }
    };
    auto server = probe_server(probe);
    for (int round = 0; round < 3; ++round) {
        BlockingClient client(server->local_addr());
        ASSERT_TRUE(client.connected());
        std::vector<std::byte> request = pattern(4 + 200 * 1024);  // request + unread bytes
        ASSERT_TRUE(client.write_all(request));
        auto got = client.read_to_eof();
        EXPECT_EQ(got.error, 0) << "the peer must see EOF, not " << got.error;
        ASSERT_EQ(got.bytes.size(), reply.size());
        EXPECT_EQ(pollux::test::checksum(got.bytes), pollux::test::checksum(reply));
    }
    ASSERT_TRUE(probe.closes.wait_for(3));
    EXPECT_EQ(probe.closes.count(CloseReason::local_close), 3u);
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

TEST(ConnectionClose, half_closed_peer_still_gets_the_whole_reply) {
    Probe probe;
    const auto reply = pattern(2 * 1024 * 1024);
    probe.on_read_closed = [&](Connection& c) {
        EXPECT_TRUE(c.is_open());
        c.send(reply);  // the write side is still open
        c.close();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("request"));
    client.shutdown_write();
    auto got = client.read_to_eof();
    EXPECT_EQ(got.error, 0);
    ASSERT_EQ(got.bytes.size(), reply.size());
    EXPECT_EQ(pollux::test::checksum(got.bytes), pollux::test::checksum(reply));
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::peer_closed});
    EXPECT_EQ(probe.read_closes.load(), 1);
    server->stop();
}

TEST(ConnectionClose, default_read_closed_flushes_the_echo_then_closes_with_peer_closed) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    const auto msg = pattern(300 * 1024);
    std::thread writer([&] {
        client.write_all(msg);
        client.shutdown_write();
    });
    auto got = client.read_to_eof();
    writer.join();
    EXPECT_EQ(got.error, 0);
    EXPECT_EQ(got.bytes.size(), msg.size());
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::peer_closed});
    server->stop();
}

TEST(ConnectionClose, peer_close_gives_peer_closed_once) {
    Probe probe;
    auto server = probe_server(probe);
    {
        BlockingClient client(server->local_addr());
        ASSERT_TRUE(client.write_all("hello"));
    }
    ASSERT_TRUE(probe.closes.wait_for(1));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::peer_closed});
    EXPECT_EQ(probe.opens.load(), 1);
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

TEST(ConnectionClose, peer_reset_gives_reset) {
    Probe probe;
    std::atomic<int> got{0};
    probe.on_data = [&](Connection&, Buffer& in) {
        got += static_cast<int>(in.readable_size());
        in.consume_all();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("hello"));
    ASSERT_TRUE(pollux::test::eventually([&] { return got.load() == 5; }));
    client.reset();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::reset});
    server->stop();
}

TEST(ConnectionClose, idle_connection_times_out_and_busy_one_does_not) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        c.send(in.readable());
        in.consume_all();
    };
    TcpServerOptions opts;
    opts.connection.idle_timeout = 200ms;
    auto server = probe_server(probe, opts);
    BlockingClient idle(server->local_addr());
    BlockingClient busy(server->local_addr());
    const auto start = std::chrono::steady_clock::now();
    // The busy one talks every 40 ms for 600 ms: never idle for 200 ms.
    for (int i = 0; i < 15; ++i) {
        ASSERT_TRUE(busy.write_all("x"));
        ASSERT_EQ(busy.read_exact(1).size(), 1u);
        std::this_thread::sleep_for(40ms);
    }
    EXPECT_TRUE(idle.wait_closed());
    idle.close();  // the server lingers until our EOF
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::idle_timeout});
    EXPECT_EQ(probe.timeouts.load(), 1);
    ASSERT_TRUE(busy.write_all("y"));
    EXPECT_EQ(busy.read_exact(1).size(), 1u);
    busy.close();
    server->stop();
}

TEST(ConnectionClose, handler_may_keep_an_idle_connection_open) {
    Probe probe;
    probe.on_timeout = [](Connection&) {};  // keep it
    TcpServerOptions opts;
    opts.connection.idle_timeout = 50ms;
    auto server = probe_server(probe, opts);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.timeouts.load() >= 2; }));
    EXPECT_EQ(probe.closes.size(), 0u);
    server->stop(200ms);  // the client never closes: the grace period bounds the linger
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::server_stop});
}

TEST(ConnectionClose, input_over_max_input_closes_with_limit_others_unaffected) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        // Consumes only when it sees a newline: a peer that never sends one grows input.
        auto r = in.readable();
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (r[i] == std::byte{'\n'}) {
                c.send(r.first(i + 1));
                in.consume(i + 1);
                return;
            }
        }
    };
    TcpServerOptions opts;
    opts.connection.max_input = 64 * 1024;
    auto server = probe_server(probe, opts);
    BlockingClient good(server->local_addr());
    BlockingClient bad(server->local_addr());
    std::vector<std::byte> flood(256 * 1024, std::byte{'a'});
    bad.write_all(flood);  // may fail part-way once the server closes
    EXPECT_TRUE(bad.wait_closed());
    bad.close();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::limit});
    ASSERT_TRUE(good.write_all("ping\n"));
    EXPECT_EQ(good.read_exact(5).size(), 5u);
    EXPECT_EQ(server->metrics().total().closed(CloseReason::limit), 1u);
    good.close();
    server->stop();
}

TEST(ConnectionClose, output_over_max_output_closes_with_limit) {
    Probe probe;
    const auto chunk = pattern(256 * 1024);
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        for (int i = 0; i < 200 && c.is_open(); ++i) c.send(chunk);  // 50 MiB, never read
    };
    TcpServerOptions opts;
    opts.connection.high_water_mark = 256 * 1024;
    opts.connection.max_output = 1024 * 1024;
    auto server = probe_server(probe, opts);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::limit});
    EXPECT_EQ(probe.high_waters.load(), 1);
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

TEST(ConnectionClose, local_close_and_abort_report_local_close) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        const bool abort = in.readable()[0] == std::byte{'a'};
        in.consume_all();
        if (abort) {
            c.abort();
            c.send("ignored");  // after abort: no-op
        } else {
            c.close();
        }
    };
    auto server = probe_server(probe);
    BlockingClient a(server->local_addr());
    BlockingClient b(server->local_addr());
    ASSERT_TRUE(a.write_all("a"));
    ASSERT_TRUE(b.write_all("c"));
    EXPECT_TRUE(a.wait_closed());
    EXPECT_TRUE(b.wait_closed());
    a.close();
    b.close();
    ASSERT_TRUE(probe.closes.wait_for(2));
    EXPECT_EQ(probe.closes.count(CloseReason::local_close), 2u);
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

TEST(ConnectionClose, server_stop_closes_each_connection_once_with_server_stop) {
    Probe probe;
    auto server = probe_server(probe);
    std::vector<std::unique_ptr<BlockingClient>> clients;
    for (int i = 0; i < 10; ++i) clients.push_back(std::make_unique<BlockingClient>(server->local_addr()));
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.opens.load() == 10; }));
    std::thread closer([&] {
        for (auto& c : clients) c->wait_closed();  // EOF from the server's shutdown; then close
        clients.clear();
    });
    server->stop(5s);
    closer.join();
    EXPECT_EQ(probe.closes.size(), 10u);
    EXPECT_EQ(probe.closes.count(CloseReason::server_stop), 10u);
    EXPECT_EQ(probe.violations.load(), 0);
}
