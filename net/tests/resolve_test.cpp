// net/tests/resolve_test.cpp — net::resolve: loopback names and numeric hosts, the
// "resolve" error category, and a name that cannot exist. Loopback and /etc/hosts only:
// no test here needs a name server.
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "pollux/net/resolve.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"

namespace pollux::net {
namespace {

bool contains(const std::vector<SocketAddr>& v, const SocketAddr& a) {
    return std::find(v.begin(), v.end(), a) != v.end();
}

TEST(Resolve, localhost_gives_loopback_addresses_with_the_port) {
    auto r = resolve("localhost", 8080);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_FALSE(r->empty());
    for (const SocketAddr& a : *r) {
        EXPECT_EQ(a.port(), 8080) << a;
        EXPECT_TRUE(a == SocketAddr::loopback_v4(8080) || a == SocketAddr::loopback_v6(8080)) << a;
    }
    EXPECT_TRUE(contains(*r, SocketAddr::loopback_v4(8080)));  // /etc/hosts always has it
}

TEST(Resolve, a_numeric_ipv4_host_gives_exactly_that_address) {
    auto r = resolve("127.0.0.1", 80);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front(), SocketAddr::loopback_v4(80));
}

TEST(Resolve, a_numeric_ipv6_host_with_or_without_brackets_gives_exactly_that_address) {
    for (const char* host : {"::1", "[::1]"}) {
        auto r = resolve(host, 443);
        ASSERT_TRUE(r) << host << ": " << r.error().message();
        ASSERT_EQ(r->size(), 1u) << host;
        EXPECT_EQ(r->front(), SocketAddr::loopback_v6(443)) << host;
    }
}

TEST(Resolve, a_scoped_ipv6_host_keeps_its_interface) {
    const unsigned lo = ::if_nametoindex("lo");
    ASSERT_NE(lo, 0u);
    auto r = resolve("fe80::1%lo", 7);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 1u);
    auto expected = SocketAddr::parse("[fe80::1%" + std::to_string(lo) + "]:7");
    ASSERT_TRUE(expected);
    EXPECT_EQ(r->front(), *expected);
}

TEST(Resolve, resolve_numeric_refuses_a_name_without_looking_it_up) {
    auto r = resolve_numeric("localhost", 80);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ResolveErrc::host_not_found);
    auto ok = resolve_numeric("::1", 80);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->front(), SocketAddr::loopback_v6(80));
}

TEST(Resolve, a_name_under_dot_invalid_fails_with_a_clear_message) {
    for (const char* host : {"no-such-host.invalid", "NO-SUCH-HOST.INVALID.", "invalid"}) {
        auto r = resolve(host, 80);
        ASSERT_FALSE(r) << host << " resolved";
        EXPECT_EQ(r.error(), ResolveErrc::host_not_found) << host;
        EXPECT_STREQ(r.error().category().name(), "resolve");
        EXPECT_EQ(r.error().message(), "Name or service not known") << host;
    }
}

TEST(Resolve, an_empty_host_or_one_with_a_nul_byte_is_invalid_argument) {
    EXPECT_EQ(resolve("", 80).error(), std::errc::invalid_argument);
    EXPECT_EQ(resolve(std::string_view("local\0host", 10), 80).error(), std::errc::invalid_argument);
}

TEST(ResolveCategory, messages_are_gai_strerror_and_conditions_are_posix_where_one_exists) {
    const std::error_code again = ResolveErrc::try_again;
    EXPECT_EQ(again.message(), ::gai_strerror(EAI_AGAIN));
    EXPECT_EQ(again, std::errc::resource_unavailable_try_again);
    EXPECT_EQ(std::error_code(ResolveErrc::out_of_memory), std::errc::not_enough_memory);
    EXPECT_EQ(std::error_code(ResolveErrc::family), std::errc::address_family_not_supported);
    const std::error_code none = ResolveErrc::host_not_found;
    EXPECT_EQ(none.value(), EAI_NONAME);
    EXPECT_NE(none, std::errc::resource_unavailable_try_again);
    EXPECT_EQ(none.default_error_condition().category(), resolve_category());
}

TEST(Resolve, every_address_of_localhost_reaches_a_listener_on_it) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4(0));
    ASSERT_TRUE(listener);
    const std::uint16_t port = listener->local_addr()->port();
    auto r = resolve("localhost", port);
    ASSERT_TRUE(r) << r.error().message();
    bool connected = false;
    for (const SocketAddr& a : *r) {
        if (!a.is_ipv4()) continue;
        auto s = TcpStream::connect(a);
        ASSERT_TRUE(s) << a << ": " << s.error().message();
        connected = true;
    }
    EXPECT_TRUE(connected);
}

}  // namespace
}  // namespace pollux::net
