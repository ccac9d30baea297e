// net/tests/udp_multicast_test.cpp — UdpSocket multicast membership and options, on the
// loopback interface only.
//
// IPv4: a group joined on 127.0.0.1 and sent to with IP_MULTICAST_IF = 127.0.0.1 is
// delivered through `lo` with no route or interface changes.
// IPv6: joining on `lo` works, but sending to a group through `lo` fails with
// ENETUNREACH here (lo has no MULTICAST flag and no ff00::/8 route), so the IPv6 tests
// cover membership and options, not delivery.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>

#include <array>
#include <string_view>

#include <gtest/gtest.h>

#include "pollux/net/udp_socket.hpp"
#include "support/expect_events.hpp"

namespace pollux::net {
namespace {

using pollux::test::as_bytes;

constexpr Ipv4Addr kGroupV4{{239, 255, 77, 1}};

bool readable_within(const UdpSocket& s, int ms) {
    ::pollfd p{s.fd(), POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
}

// A member bound to 0.0.0.0:0 (a multicast datagram's destination is the group, so a
// socket bound to 127.0.0.1 would not match it) that joined `group` on loopback.
// IP_MULTICAST_ALL off: by default Linux hands a wildcard-bound socket the datagrams of
// every group any socket on the host joined, so a test running in parallel (ctest -j)
// that joins the same group would feed a member that has left it.
UdpSocket loopback_member(Ipv4Addr group = kGroupV4) {
    auto s = UdpSocket::bind(SocketAddr(Ipv4Addr::any(), 0)).value();
    const int off = 0;
    EXPECT_EQ(::setsockopt(s.fd(), IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off), 0);
    auto joined = s.join_multicast_v4(group, Ipv4Addr::loopback());
    EXPECT_TRUE(joined) << joined.error().message();
    return s;
}

UdpSocket loopback_sender() {
    auto s = UdpSocket::bind(SocketAddr::loopback_v4()).value();
    EXPECT_TRUE(s.set_multicast_if_v4(Ipv4Addr::loopback()));
    EXPECT_TRUE(s.set_multicast_loop_v4(true));
    return s;
}

TEST(UdpMulticast, v4_member_on_loopback_receives_a_datagram_sent_to_the_group) {
    auto member = loopback_member();
    auto sender = loopback_sender();
    const SocketAddr group(kGroupV4, member.local_addr().value().port());

    ASSERT_EQ(sender.send_to(as_bytes("to-all"), group).value(), 6u);
    ASSERT_TRUE(readable_within(member, 2000));
    std::array<std::byte, 32> buf{};
    auto meta = member.recv_from(buf).value();
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buf.data()), meta.size), "to-all");
    EXPECT_EQ(meta.peer, sender.local_addr().value());
}

TEST(UdpMulticast, v4_member_stops_receiving_after_leaving_the_group) {
    constexpr Ipv4Addr kOwnGroup{{239, 255, 77, 2}};  // no other test joins it
    auto member = loopback_member(kOwnGroup);
    auto sender = loopback_sender();
    const SocketAddr group(kOwnGroup, member.local_addr().value().port());
    ASSERT_TRUE(member.leave_multicast_v4(kOwnGroup, Ipv4Addr::loopback()));
    // Leaving twice: the membership is gone.
    EXPECT_FALSE(member.leave_multicast_v4(kOwnGroup, Ipv4Addr::loopback()));

    ASSERT_TRUE(sender.send_to(as_bytes("nobody"), group));
    EXPECT_FALSE(readable_within(member, 100));
}

TEST(UdpMulticast, v4_options_round_trip) {
    auto s = UdpSocket::bind(SocketAddr::loopback_v4()).value();
    EXPECT_EQ(s.multicast_ttl_v4().value(), 1u);  // kernel default
    ASSERT_TRUE(s.set_multicast_ttl_v4(8));
    EXPECT_EQ(s.multicast_ttl_v4().value(), 8u);

    ASSERT_TRUE(s.set_multicast_loop_v4(false));
    EXPECT_FALSE(s.multicast_loop_v4().value());
    ASSERT_TRUE(s.set_multicast_loop_v4(true));
    EXPECT_TRUE(s.multicast_loop_v4().value());

    ASSERT_TRUE(s.set_multicast_if_v4(Ipv4Addr::loopback()));
    EXPECT_EQ(s.multicast_if_v4().value(), Ipv4Addr::loopback());
}

TEST(UdpMulticast, v6_join_and_leave_on_loopback_interface) {
    const unsigned lo = ::if_nametoindex("lo");
    ASSERT_NE(lo, 0u);
    auto s = UdpSocket::bind(SocketAddr(Ipv6Addr::any(), 0)).value();
    const Ipv6Addr group = Ipv6Addr::parse("ff02::1:77").value();
    auto joined = s.join_multicast_v6(group, lo);
    ASSERT_TRUE(joined) << joined.error().message();
    ASSERT_TRUE(s.leave_multicast_v6(group, lo));
    EXPECT_FALSE(s.leave_multicast_v6(group, lo));  // no longer a member
}

TEST(UdpMulticast, v6_options_round_trip) {
    const unsigned lo = ::if_nametoindex("lo");
    auto s = UdpSocket::bind(SocketAddr::loopback_v6()).value();
    ASSERT_TRUE(s.set_multicast_hops_v6(5));
    EXPECT_EQ(s.multicast_hops_v6().value(), 5u);
    ASSERT_TRUE(s.set_multicast_loop_v6(false));
    EXPECT_FALSE(s.multicast_loop_v6().value());
    ASSERT_TRUE(s.set_multicast_loop_v6(true));
    EXPECT_TRUE(s.multicast_loop_v6().value());
    ASSERT_TRUE(s.set_multicast_if_v6(lo));
    EXPECT_EQ(s.multicast_if_v6().value(), lo);
}

}  // namespace
}  // namespace pollux::net
