// Edge cases of a Connection's end: a reset that arrives while the server writes (open,
// or closing with output still queued), and a half-close started by the server.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::BlockingClient;
using pollux::test::Probe;

namespace {

std::unique_ptr<TcpServer> probe_server(Probe& probe) {
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    EXPECT_TRUE(server->start());
    return server;
}

// More than the two sockets' buffers hold (~3.7 MiB on loopback), below max_output.
constexpr std::size_t kBig = 6 * 1024 * 1024;

}  // namespace

// The peer resets while its reply is still queued: one on_close, reason reset, and the
// queued bytes are counted as dropped.
TEST(EdgeConnection, rst_mid_write_closes_once_with_reset) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(std::string(kBig, 'x'));
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    // Queued above high water (1 MiB): the reset finds output the peer never took.
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.high_waters.load() >= 1; }));
    client.reset();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::reset});
    EXPECT_EQ(probe.violations.load(), 0);
    EXPECT_EQ(server->metrics().total().output_dropped, 1u);
    server->stop();
}

// close() is flushing a queue the peer never reads when the peer resets: the reply was
// not delivered, so the reason is reset, not the local_close that was asked for.
TEST(EdgeConnection, peer_reset_while_close_is_flushing_reports_reset_not_local_close) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(std::string(kBig, 'x'));
        c.close();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    // Queued above high water (1 MiB): the reset finds output the peer never took.
    ASSERT_TRUE(pollux::test::eventually([&] { return probe.high_waters.load() >= 1; }));
    client.reset();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::reset});
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}

// The same after the peer half-closed (close() would report peer_closed): a reset
// during the flush is still a reset.
TEST(EdgeConnection, peer_reset_while_flushing_after_its_half_close_reports_reset_not_peer_closed) {
    Probe probe;
    probe.on_data = [](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(std::string(kBig, 'x'));
    };
    std::atomic<int> read_closed{0};
    probe.on_read_closed = [&](Connection& c) {
        ++read_closed;
        c.close();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("go"));
    client.shutdown_write();
    ASSERT_TRUE(pollux::test::eventually([&] { return read_closed.load() == 1; }));
    client.reset();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::reset});
    server->stop();
}

// The server half-closes first: the client reads the greeting and EOF, then still
// sends, and the server still reads it; the client's own EOF ends it as peer_closed.
TEST(EdgeConnection, server_half_close_then_the_peer_still_sends_and_the_server_reads_it) {
    Probe probe;
    probe.on_open = [](Connection& c) {
        c.send(std::string_view("hello"));
        c.shutdown_write();
    };
    std::atomic<std::size_t> got{0};
    probe.on_data = [&](Connection&, Buffer& in) {
        got += in.readable_size();
        in.consume_all();
    };
    auto server = probe_server(probe);
    BlockingClient client(server->local_addr());
    const auto greeting = client.read_to_eof();
    EXPECT_EQ(greeting.error, 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(greeting.bytes.data()), greeting.bytes.size()), "hello");
    const std::string more(100'000, 'm');
    ASSERT_TRUE(client.write_all(more));
    ASSERT_TRUE(pollux::test::eventually([&] { return got.load() == more.size(); }));
    client.shutdown_write();
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::peer_closed});
    EXPECT_EQ(probe.violations.load(), 0);
    server->stop();
}
