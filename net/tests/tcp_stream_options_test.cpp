// net/tests/tcp_stream_options_test.cpp — TcpStream socket options: each setter's
// value reads back through its getter, and invalid values are refused.
#include <chrono>
#include <optional>

#include <gtest/gtest.h>

#include "pollux/net/tcp_stream.hpp"
#include "support/tcp_support.hpp"

namespace pollux::net {
namespace {

using std::chrono::seconds;

TEST(TcpStream, nodelay_round_trips) {
    auto pair = test::make_tcp_pair().value();
    EXPECT_FALSE(pair.client.nodelay().value());  // Linux default: Nagle on
    ASSERT_TRUE(pair.client.set_nodelay(true));
    EXPECT_TRUE(pair.client.nodelay().value());
    ASSERT_TRUE(pair.client.set_nodelay(false));
    EXPECT_FALSE(pair.client.nodelay().value());
}

TEST(TcpStream, ttl_round_trips_and_rejects_values_above_255) {
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(pair.client.set_ttl(17));
    EXPECT_EQ(pair.client.ttl().value(), 17u);
    ASSERT_TRUE(pair.client.set_ttl(255));
    EXPECT_EQ(pair.client.ttl().value(), 255u);
    EXPECT_EQ(pair.client.set_ttl(256).error(), std::errc::invalid_argument);
    EXPECT_EQ(pair.client.set_ttl(0xFFFF'FFFFu).error(), std::errc::invalid_argument);
    EXPECT_EQ(pair.client.ttl().value(), 255u);
}

TEST(TcpStream, keepalive_and_its_timing_round_trip) {
    auto pair = test::make_tcp_pair().value();
    EXPECT_FALSE(pair.client.keepalive().value());

    const KeepaliveOptions wanted{seconds(30), seconds(5), 4};
    ASSERT_TRUE(pair.client.set_keepalive(true, wanted));
    EXPECT_TRUE(pair.client.keepalive().value());
    auto got = pair.client.keepalive_options().value();
    EXPECT_EQ(got.idle, seconds(30));
    EXPECT_EQ(got.interval, seconds(5));
    EXPECT_EQ(got.count, 4);

    // Zero fields leave the timing alone; turning keepalive off keeps it too.
    ASSERT_TRUE(pair.client.set_keepalive(true, {seconds(60), seconds(0), 0}));
    got = pair.client.keepalive_options().value();
    EXPECT_EQ(got.idle, seconds(60));
    EXPECT_EQ(got.interval, seconds(5));
    EXPECT_EQ(got.count, 4);
    ASSERT_TRUE(pair.client.set_keepalive(false));
    EXPECT_FALSE(pair.client.keepalive().value());
    EXPECT_EQ(pair.client.keepalive_options().value().idle, seconds(60));
}

TEST(TcpStream, keepalive_rejects_invalid_timing_and_leaves_keepalive_unchanged) {
    auto pair = test::make_tcp_pair().value();
    EXPECT_EQ(pair.client.set_keepalive(true, {seconds(-1), seconds(0), 0}).error(), std::errc::invalid_argument);
    EXPECT_EQ(pair.client.set_keepalive(true, {seconds(0), seconds(0), -3}).error(), std::errc::invalid_argument);
    // The kernel caps TCP_KEEPIDLE at 32767 s.
    EXPECT_EQ(pair.client.set_keepalive(true, {seconds(40'000), seconds(0), 0}).error(),
              std::errc::invalid_argument);
    EXPECT_FALSE(pair.client.keepalive().value());
}

TEST(TcpStream, buffer_sizes_read_back_at_least_what_was_requested) {
    auto pair = test::make_tcp_pair().value();
    constexpr std::size_t kWanted = 64 * 1024;
    ASSERT_TRUE(pair.client.set_send_buffer_size(kWanted));
    ASSERT_TRUE(pair.client.set_recv_buffer_size(kWanted));
    // Linux doubles the request for bookkeeping overhead.
    EXPECT_GE(pair.client.send_buffer_size().value(), kWanted);
    EXPECT_GE(pair.client.recv_buffer_size().value(), kWanted);
    EXPECT_LE(pair.client.send_buffer_size().value(), 2 * kWanted);

    // A smaller request gives a smaller buffer: the setter really took effect.
    ASSERT_TRUE(pair.client.set_send_buffer_size(8 * 1024));
    EXPECT_LT(pair.client.send_buffer_size().value(), kWanted);
}

TEST(TcpStream, linger_round_trips_none_zero_and_a_duration) {
    auto pair = test::make_tcp_pair().value();
    EXPECT_EQ(pair.client.linger().value(), std::nullopt);
    ASSERT_TRUE(pair.client.set_linger(seconds(5)));
    EXPECT_EQ(pair.client.linger().value(), seconds(5));
    ASSERT_TRUE(pair.client.set_linger(seconds(0)));
    EXPECT_EQ(pair.client.linger().value(), seconds(0));
    ASSERT_TRUE(pair.client.set_linger(std::nullopt));
    EXPECT_EQ(pair.client.linger().value(), std::nullopt);
    EXPECT_EQ(pair.client.set_linger(seconds(-1)).error(), std::errc::invalid_argument);
}

TEST(TcpStream, options_apply_to_a_stream_that_is_still_connecting) {
    // Options set right after connect (before the handshake completes) must work,
    // as users commonly set nodelay immediately.
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto client = TcpStream::connect(listener.local_addr().value()).value();
    EXPECT_TRUE(client.set_nodelay(true));
    EXPECT_TRUE(client.set_keepalive(true, {seconds(10), seconds(2), 3}));
    EXPECT_TRUE(client.nodelay().value());
    EXPECT_TRUE(client.keepalive().value());
}

}  // namespace
}  // namespace pollux::net
