// Result helpers and the "pollux" error category.
#include <cerrno>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "pollux/core/result.hpp"

using pollux::Errc;
using pollux::Result;

TEST(Result, is_would_block_is_true_for_eagain_and_ewouldblock_only) {
    EXPECT_TRUE(pollux::is_would_block(pollux::errno_code(EAGAIN)));
    EXPECT_TRUE(pollux::is_would_block(pollux::errno_code(EWOULDBLOCK)));
    EXPECT_TRUE(pollux::is_would_block(std::make_error_code(std::errc::resource_unavailable_try_again)));
    EXPECT_FALSE(pollux::is_would_block(pollux::errno_code(EINTR)));
    EXPECT_FALSE(pollux::is_would_block(pollux::errno_code(EPIPE)));
    EXPECT_FALSE(pollux::is_would_block(std::error_code{}));
}

TEST(Result, is_would_block_on_a_result_checks_the_error) {
    const Result<int> blocked = std::unexpected(pollux::errno_code(EAGAIN));
    const Result<int> failed = std::unexpected(pollux::errno_code(ECONNRESET));
    const Result<int> ok = 3;
    EXPECT_TRUE(pollux::is_would_block(blocked));
    EXPECT_FALSE(pollux::is_would_block(failed));
    EXPECT_FALSE(pollux::is_would_block(ok));
}

TEST(Result, is_interrupted_is_true_for_eintr) {
    EXPECT_TRUE(pollux::is_interrupted(pollux::errno_code(EINTR)));
    EXPECT_FALSE(pollux::is_interrupted(pollux::errno_code(EAGAIN)));
}

TEST(Result, last_error_carries_errno_in_the_system_category) {
    errno = ECONNREFUSED;
    const Result<void> r = pollux::last_error();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().value(), ECONNREFUSED);
    EXPECT_EQ(r.error().category(), std::system_category());
    EXPECT_EQ(r.error(), std::errc::connection_refused);
}

TEST(Result, error_helpers_build_the_matching_codes) {
    const Result<void> a = pollux::error(std::errc::bad_file_descriptor);
    EXPECT_EQ(a.error(), std::errc::bad_file_descriptor);
    const Result<void> b = pollux::error(Errc::not_registered);
    EXPECT_EQ(b.error(), Errc::not_registered);
    EXPECT_EQ(b.error().category(), pollux::pollux_category());
}

TEST(Result, pollux_category_is_named_and_every_code_has_a_message) {
    EXPECT_STREQ(pollux::pollux_category().name(), "pollux");
    for (Errc e : {Errc::already_registered, Errc::not_registered, Errc::registered_elsewhere,
                   Errc::waker_exists}) {
        const std::error_code ec = e;  // implicit: Errc is an error_code enum
        EXPECT_FALSE(ec.message().empty()) << static_cast<int>(e);
        EXPECT_NE(ec.message(), "unknown pollux error") << static_cast<int>(e);
        EXPECT_TRUE(static_cast<bool>(ec));
    }
    EXPECT_FALSE(std::error_code(99, pollux::pollux_category()).message().empty());
}

TEST(Result, pollux_codes_compare_equal_to_the_nearest_posix_condition) {
    EXPECT_EQ(make_error_code(Errc::already_registered), std::errc::file_exists);
    EXPECT_EQ(make_error_code(Errc::registered_elsewhere), std::errc::file_exists);
    EXPECT_EQ(make_error_code(Errc::waker_exists), std::errc::file_exists);
    EXPECT_EQ(make_error_code(Errc::not_registered), std::errc::no_such_file_or_directory);
    EXPECT_NE(make_error_code(Errc::not_registered), std::errc::file_exists);
    EXPECT_NE(make_error_code(Errc::already_registered), std::errc::no_such_file_or_directory);
}

TEST(Result, pollux_codes_are_distinct_from_the_posix_codes_themselves) {
    // Equal to the condition, but not the same error_code as the errno value.
    EXPECT_NE(make_error_code(Errc::already_registered), pollux::errno_code(EEXIST));
    EXPECT_NE(make_error_code(Errc::already_registered), make_error_code(Errc::registered_elsewhere));
}
