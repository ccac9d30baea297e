// net/tests/socket_addr_test.cpp — SocketAddr / Ipv4Addr / Ipv6Addr: parsing, printing,
// comparison and conversion from kernel sockaddrs.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "pollux/net/socket_addr.hpp"

namespace pollux::net {
namespace {

TEST(SocketAddr, parses_ipv4_with_port) {
    auto a = SocketAddr::parse("127.0.0.1:8080");
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_TRUE(a->is_ipv4());
    EXPECT_FALSE(a->is_ipv6());
    EXPECT_EQ(a->family(), AF_INET);
    EXPECT_EQ(a->ipv4(), Ipv4Addr::loopback());
    EXPECT_EQ(a->port(), 8080);
    EXPECT_EQ(a->len(), sizeof(::sockaddr_in));
    EXPECT_EQ(*a, SocketAddr::loopback_v4(8080));
}

TEST(SocketAddr, parses_ipv6_in_brackets_with_port) {
    auto a = SocketAddr::parse("[::1]:443");
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_TRUE(a->is_ipv6());
    EXPECT_EQ(a->family(), AF_INET6);
    EXPECT_EQ(a->ipv6(), Ipv6Addr::loopback());
    EXPECT_EQ(a->port(), 443);
    EXPECT_EQ(a->len(), sizeof(::sockaddr_in6));
    EXPECT_EQ(*a, SocketAddr::loopback_v6(443));

    auto full = SocketAddr::parse("[2001:db8::ff00:42:8329]:65535");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->port(), 65535);
    EXPECT_EQ(full->ipv6().octets[0], 0x20);
    EXPECT_EQ(full->ipv6().octets[15], 0x29);
}

TEST(SocketAddr, parses_a_scoped_ipv6_by_number_and_by_interface_name) {
    auto numeric = SocketAddr::parse("[fe80::1%2]:80");
    ASSERT_TRUE(numeric) << numeric.error().message();
    auto* sin6 = reinterpret_cast<const ::sockaddr_in6*>(numeric->as_sockaddr());
    EXPECT_EQ(sin6->sin6_scope_id, 2u);
    EXPECT_EQ(numeric->to_string(), "[fe80::1%2]:80");

    const unsigned lo = ::if_nametoindex("lo");
    if (lo == 0) GTEST_SKIP() << "no interface named lo";
    auto named = SocketAddr::parse("[fe80::1%lo]:80");
    ASSERT_TRUE(named) << named.error().message();
    EXPECT_EQ(reinterpret_cast<const ::sockaddr_in6*>(named->as_sockaddr())->sin6_scope_id, lo);
}

TEST(SocketAddr, to_string_round_trips_through_parse) {
    for (std::string_view text : {"127.0.0.1:80", "0.0.0.0:0", "255.255.255.255:65535", "10.1.2.3:1", "[::1]:80",
                                  "[::]:0", "[2001:db8::1]:8080", "[fe80::1%3]:9", "[::ffff:1.2.3.4]:5"}) {
        auto a = SocketAddr::parse(text);
        ASSERT_TRUE(a) << text;
        EXPECT_EQ(a->to_string(), text);
        EXPECT_EQ(SocketAddr::parse(a->to_string()).value(), *a) << text;
    }
}

TEST(SocketAddr, stream_output_matches_to_string) {
    std::ostringstream os;
    os << SocketAddr::loopback_v6(7) << ' ' << Ipv4Addr::loopback() << ' ' << Ipv6Addr::loopback();
    EXPECT_EQ(os.str(), "[::1]:7 127.0.0.1 ::1");
}

TEST(SocketAddr, rejects_malformed_text_with_invalid_argument) {
    for (std::string_view text :
         {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:+80",
          "127.0.0.1: 80", "127.0.0.1:80x", "1.2.3:80", "1.2.3.4.5:80", "256.0.0.1:80", "localhost:80", "[::1]80",
          "[::1]", "[::1]:", "::1:80", "[::1:80", "::1]:80", "[1.2.3.4]:80", "[fe80::1%]:80",
          "[fe80::1%no-such-if0]:80", ":80", "[]:80"}) {
        auto a = SocketAddr::parse(text);
        ASSERT_FALSE(a) << "'" << text << "' parsed as " << *a;
        EXPECT_EQ(a.error(), std::errc::invalid_argument) << text;
    }
}

TEST(SocketAddr, ip_parsers_accept_bare_addresses_and_reject_the_rest) {
    EXPECT_EQ(Ipv4Addr::parse("239.1.2.3").value(), (Ipv4Addr{{239, 1, 2, 3}}));
    EXPECT_EQ(Ipv6Addr::parse("::1").value(), Ipv6Addr::loopback());
    EXPECT_EQ(Ipv4Addr::parse("1.2.3.4:80").error(), std::errc::invalid_argument);
    EXPECT_EQ(Ipv4Addr::parse("").error(), std::errc::invalid_argument);
    EXPECT_EQ(Ipv6Addr::parse("[::1]").error(), std::errc::invalid_argument);
    EXPECT_EQ(Ipv6Addr::parse(std::string(100, '1')).error(), std::errc::invalid_argument);
    EXPECT_EQ(Ipv4Addr::parse(std::string(100, '1')).error(), std::errc::invalid_argument);
}

TEST(SocketAddr, compares_family_ip_port_and_scope) {
    const auto a = SocketAddr::parse("127.0.0.1:80").value();
    EXPECT_EQ(a, SocketAddr(Ipv4Addr{{127, 0, 0, 1}}, 80));
    EXPECT_NE(a, SocketAddr::parse("127.0.0.1:81").value());
    EXPECT_NE(a, SocketAddr::parse("127.0.0.2:80").value());
    // Same bytes in another family are another address.
    EXPECT_NE(a, SocketAddr::parse("[::ffff:127.0.0.1]:80").value());
    EXPECT_NE(SocketAddr::parse("[fe80::1%1]:80").value(), SocketAddr::parse("[fe80::1%2]:80").value());
    EXPECT_EQ(SocketAddr::parse("[fe80::1%2]:80").value(), SocketAddr(Ipv6Addr::parse("fe80::1").value(), 80, 2));
    EXPECT_LT(Ipv4Addr::parse("1.2.3.4").value(), Ipv4Addr::parse("1.2.3.5").value());
}

TEST(SocketAddr, default_is_ipv4_any_port_zero_and_set_port_changes_only_the_port) {
    SocketAddr a;
    EXPECT_TRUE(a.is_ipv4());
    EXPECT_EQ(a.ipv4(), Ipv4Addr::any());
    EXPECT_EQ(a.port(), 0);
    a.set_port(1234);
    EXPECT_EQ(a.to_string(), "0.0.0.0:1234");
    SocketAddr b = SocketAddr::loopback_v6();
    b.set_port(9);
    EXPECT_EQ(b.to_string(), "[::1]:9");
}

TEST(SocketAddr, from_sockaddr_reads_ipv4_and_ipv6) {
    ::sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(99);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto v4 = SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&sin), sizeof sin);
    ASSERT_TRUE(v4);
    EXPECT_EQ(*v4, SocketAddr::loopback_v4(99));

    ::sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(100);
    sin6.sin6_addr = in6addr_loopback;
    sin6.sin6_scope_id = 4;
    auto v6 = SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&sin6), sizeof sin6);
    ASSERT_TRUE(v6);
    EXPECT_EQ(*v6, SocketAddr(Ipv6Addr::loopback(), 100, 4));
    EXPECT_EQ(std::memcmp(v6->as_sockaddr(), &sin6, sizeof sin6), 0);
}

TEST(SocketAddr, from_sockaddr_with_another_family_is_address_family_not_supported) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    auto a = SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&sun), sizeof sun);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error(), std::errc::address_family_not_supported);
}

TEST(SocketAddr, from_sockaddr_with_a_short_length_or_null_is_invalid_argument) {
    ::sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    const auto* sa = reinterpret_cast<const ::sockaddr*>(&sin6);
    EXPECT_EQ(SocketAddr::from_sockaddr(sa, sizeof(::sockaddr_in)).error(), std::errc::invalid_argument);
    EXPECT_EQ(SocketAddr::from_sockaddr(sa, 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(SocketAddr::from_sockaddr(nullptr, sizeof sin6).error(), std::errc::invalid_argument);
}

}  // namespace
}  // namespace pollux::net
