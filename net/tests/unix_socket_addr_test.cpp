// net/tests/unix_socket_addr_test.cpp — UnixSocketAddr: kinds, limits, sockaddr_un
// lengths (mio's rules), reading kernel addresses back, printing, equality.
#include "pollux/net/unix_socket_addr.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <sstream>
#include <string>

namespace pollux::net {
namespace {

constexpr ::socklen_t kOffset = offsetof(::sockaddr_un, sun_path);

std::string bytes_to_string(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string printed(const UnixSocketAddr& addr) {
    std::ostringstream os;
    os << addr;
    return os.str();
}

TEST(UnixSocketAddr, pathname_len_counts_the_terminating_nul) {
    auto addr = UnixSocketAddr::from_pathname("./foo/bar.txt");
    ASSERT_TRUE(addr.has_value());
    EXPECT_EQ(addr->kind(), UnixSocketAddr::Kind::Pathname);
    EXPECT_EQ(addr->len(), kOffset + 13 + 1);
    EXPECT_EQ(addr->as_sockaddr()->sa_family, AF_UNIX);
    EXPECT_EQ(addr->as_pathname(), "./foo/bar.txt");
    EXPECT_FALSE(addr->as_abstract_name().has_value());
    EXPECT_FALSE(addr->is_unnamed());
}

TEST(UnixSocketAddr, abstract_len_is_offset_plus_one_plus_name_without_trailing_nul) {
    auto addr = UnixSocketAddr::from_abstract_name("tokio");
    ASSERT_TRUE(addr.has_value());
    EXPECT_EQ(addr->kind(), UnixSocketAddr::Kind::Abstract);
    EXPECT_EQ(addr->len(), kOffset + 1 + 5);
    const auto* sun = reinterpret_cast<const ::sockaddr_un*>(addr->as_sockaddr());
    EXPECT_EQ(sun->sun_path[0], '\0');
    EXPECT_EQ(std::memcmp(sun->sun_path + 1, "tokio", 5), 0);
    ASSERT_TRUE(addr->as_abstract_name().has_value());
    EXPECT_EQ(bytes_to_string(*addr->as_abstract_name()), "tokio");
    EXPECT_FALSE(addr->as_pathname().has_value());
}

TEST(UnixSocketAddr, abstract_name_keeps_embedded_and_trailing_nuls) {
    const std::string name("a\0b\0", 4);
    auto addr = UnixSocketAddr::from_abstract_name(name);
    ASSERT_TRUE(addr.has_value());
    EXPECT_EQ(addr->len(), kOffset + 1 + 4);
    EXPECT_EQ(bytes_to_string(*addr->as_abstract_name()), name);
}

TEST(UnixSocketAddr, unnamed_len_is_the_sun_path_offset) {
    const auto addr = UnixSocketAddr::unnamed();
    EXPECT_TRUE(addr.is_unnamed());
    EXPECT_EQ(addr.len(), kOffset);
    EXPECT_EQ(addr.as_sockaddr()->sa_family, AF_UNIX);
    EXPECT_FALSE(addr.as_pathname().has_value());
    EXPECT_FALSE(addr.as_abstract_name().has_value());
    EXPECT_TRUE(UnixSocketAddr().is_unnamed());
}

TEST(UnixSocketAddr, pathname_of_107_bytes_fits_and_108_is_filename_too_long) {
    const std::string fits(107, 'a');
    auto ok = UnixSocketAddr::from_pathname(fits);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->len(), sizeof(::sockaddr_un));
    EXPECT_EQ(ok->as_pathname(), fits);

    auto too_long = UnixSocketAddr::from_pathname(std::string(108, 'a'));
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(too_long.error(), std::errc::filename_too_long);
}

TEST(UnixSocketAddr, pathname_of_200_bytes_is_filename_too_long_never_truncated) {
    auto addr = UnixSocketAddr::from_pathname("/tmp/" + std::string(195, 'x'));
    ASSERT_FALSE(addr.has_value());
    EXPECT_EQ(addr.error(), std::errc::filename_too_long);
}

TEST(UnixSocketAddr, pathname_with_embedded_nul_is_invalid_argument) {
    auto addr = UnixSocketAddr::from_pathname(std::string_view("/tmp/a\0b", 8));
    ASSERT_FALSE(addr.has_value());
    EXPECT_EQ(addr.error(), std::errc::invalid_argument);
}

TEST(UnixSocketAddr, empty_pathname_is_invalid_argument) {
    auto addr = UnixSocketAddr::from_pathname("");
    ASSERT_FALSE(addr.has_value());
    EXPECT_EQ(addr.error(), std::errc::invalid_argument);
}

TEST(UnixSocketAddr, abstract_name_over_107_bytes_is_filename_too_long) {
    EXPECT_TRUE(UnixSocketAddr::from_abstract_name(std::string(107, 'n')).has_value());
    auto addr = UnixSocketAddr::from_abstract_name(std::string(108, 'n'));
    ASSERT_FALSE(addr.has_value());
    EXPECT_EQ(addr.error(), std::errc::filename_too_long);
}

TEST(UnixSocketAddr, from_sockaddr_of_bare_offset_is_unnamed) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    auto addr = UnixSocketAddr::from_sockaddr(&sun, kOffset);
    ASSERT_TRUE(addr.has_value());
    EXPECT_TRUE(addr->is_unnamed());
}

TEST(UnixSocketAddr, from_sockaddr_with_leading_nul_is_abstract) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, "\0svc", 4);
    auto addr = UnixSocketAddr::from_sockaddr(&sun, kOffset + 4);
    ASSERT_TRUE(addr.has_value());
    ASSERT_EQ(addr->kind(), UnixSocketAddr::Kind::Abstract);
    EXPECT_EQ(bytes_to_string(*addr->as_abstract_name()), "svc");
    EXPECT_EQ(*addr, *UnixSocketAddr::from_abstract_name("svc"));
}

TEST(UnixSocketAddr, from_sockaddr_pathname_is_cut_at_first_nul_with_or_without_it_in_len) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, "/tmp/s", 6);
    auto with_nul = UnixSocketAddr::from_sockaddr(&sun, kOffset + 7);
    auto without_nul = UnixSocketAddr::from_sockaddr(&sun, kOffset + 6);
    auto padded = UnixSocketAddr::from_sockaddr(&sun, sizeof sun);
    ASSERT_TRUE(with_nul && without_nul && padded);
    for (const auto& addr : {*with_nul, *without_nul, *padded}) {
        EXPECT_EQ(addr.as_pathname(), "/tmp/s");
        EXPECT_EQ(addr.len(), kOffset + 7);
    }
}

TEST(UnixSocketAddr, from_sockaddr_keeps_a_full_108_byte_path_without_nul) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memset(sun.sun_path, 'p', sizeof sun.sun_path);
    auto addr = UnixSocketAddr::from_sockaddr(&sun, sizeof sun);
    ASSERT_TRUE(addr.has_value());
    EXPECT_EQ(addr->as_pathname()->size(), 108u);
    EXPECT_EQ(addr->len(), sizeof sun);
}

TEST(UnixSocketAddr, from_sockaddr_rejects_other_families_and_bad_lengths) {
    ::sockaddr_un sun{};
    sun.sun_family = AF_INET;
    auto wrong_family = UnixSocketAddr::from_sockaddr(&sun, kOffset + 2);
    ASSERT_FALSE(wrong_family.has_value());
    EXPECT_EQ(wrong_family.error(), std::errc::address_family_not_supported);

    sun.sun_family = AF_UNIX;
    EXPECT_EQ(UnixSocketAddr::from_sockaddr(&sun, 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(UnixSocketAddr::from_sockaddr(&sun, sizeof sun + 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(UnixSocketAddr::from_sockaddr(nullptr, kOffset).error(), std::errc::invalid_argument);
}

TEST(UnixSocketAddr, prints_quoted_path_at_name_abstract_and_unnamed) {
    EXPECT_EQ(printed(*UnixSocketAddr::from_pathname("/tmp/x.sock")), "\"/tmp/x.sock\"");
    EXPECT_EQ(printed(*UnixSocketAddr::from_abstract_name("name")), "@name (abstract)");
    EXPECT_EQ(printed(UnixSocketAddr::unnamed()), "(unnamed)");
}

TEST(UnixSocketAddr, prints_unprintable_bytes_and_quotes_escaped) {
    EXPECT_EQ(printed(*UnixSocketAddr::from_pathname("/tmp/a\"b\\c\n")), R"("/tmp/a\"b\\c\x0a")");
    EXPECT_EQ(printed(*UnixSocketAddr::from_abstract_name(std::string_view("a\0b", 3))), R"(@a\x00b (abstract))");
    EXPECT_EQ(UnixSocketAddr::unnamed().to_string(), "(unnamed)");
}

TEST(UnixSocketAddr, equality_compares_kind_and_bytes) {
    const auto path = *UnixSocketAddr::from_pathname("/tmp/a");
    const auto abstract = *UnixSocketAddr::from_abstract_name("/tmp/a");
    EXPECT_EQ(path, *UnixSocketAddr::from_pathname("/tmp/a"));
    EXPECT_NE(path, *UnixSocketAddr::from_pathname("/tmp/b"));
    EXPECT_NE(path, abstract);
    EXPECT_EQ(abstract, *UnixSocketAddr::from_abstract_name("/tmp/a"));
    EXPECT_NE(abstract, *UnixSocketAddr::from_abstract_name(std::string_view("/tmp/a\0", 7)));
    EXPECT_EQ(UnixSocketAddr::unnamed(), UnixSocketAddr());
    EXPECT_NE(UnixSocketAddr::unnamed(), path);
}

}  // namespace
}  // namespace pollux::net
