// OwnedFd: closes on destruction, moves leave -1, release gives up ownership,
// reset swaps, try_clone dups with CLOEXEC.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <gtest/gtest.h>

#include "pollux/core/owned_fd.hpp"
#include "support/fd_flags.hpp"

using pollux::OwnedFd;
using pollux::test::is_open_fd;

namespace {

int open_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

TEST(OwnedFd, closes_its_fd_on_destruction) {
    const int raw = open_null();
    ASSERT_GE(raw, 0);
    { OwnedFd fd(raw); EXPECT_TRUE(is_open_fd(raw)); }
    errno = 0;
    EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
    EXPECT_EQ(errno, EBADF);
}

TEST(OwnedFd, default_holds_nothing) {
    const OwnedFd fd;
    EXPECT_EQ(fd.get(), -1);
    EXPECT_FALSE(fd.is_open());
    EXPECT_FALSE(static_cast<bool>(fd));
}

TEST(OwnedFd, move_construction_leaves_minus_one_and_keeps_the_fd_open) {
    const int raw = open_null();
    OwnedFd a(raw);
    OwnedFd b(std::move(a));
    EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(a.is_open());
    EXPECT_EQ(b.get(), raw);
    EXPECT_TRUE(is_open_fd(raw));
}

TEST(OwnedFd, move_assignment_closes_the_old_fd_and_takes_the_new) {
    const int first = open_null();
    const int second = open_null();
    OwnedFd a(first);
    OwnedFd b(second);
    a = std::move(b);
    EXPECT_FALSE(is_open_fd(first));
    EXPECT_EQ(a.get(), second);
    EXPECT_EQ(b.get(), -1);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(is_open_fd(second));
}

TEST(OwnedFd, self_move_assignment_keeps_the_fd) {
    const int raw = open_null();
    OwnedFd a(raw);
    OwnedFd& alias = a;
    a = std::move(alias);
    EXPECT_EQ(a.get(), raw);
    EXPECT_TRUE(is_open_fd(raw));
}

TEST(OwnedFd, release_gives_up_ownership_without_closing) {
    const int raw = open_null();
    int released = -1;
    {
        OwnedFd fd(raw);
        released = fd.release();
        EXPECT_EQ(fd.get(), -1);
    }
    EXPECT_EQ(released, raw);
    EXPECT_TRUE(is_open_fd(raw));
    ::close(raw);
}

TEST(OwnedFd, reset_closes_the_old_fd_and_owns_the_new) {
    const int first = open_null();
    const int second = open_null();
    OwnedFd fd(first);
    fd.reset(second);
    EXPECT_FALSE(is_open_fd(first));
    EXPECT_EQ(fd.get(), second);
    fd.reset();
    EXPECT_FALSE(is_open_fd(second));
    EXPECT_FALSE(fd.is_open());
}

TEST(OwnedFd, try_clone_gives_an_independent_cloexec_fd) {
    const int raw = open_null();
    OwnedFd fd(raw);
    auto copy = fd.try_clone();
    ASSERT_TRUE(copy.has_value()) << copy.error().message();
    EXPECT_NE(copy->get(), raw);
    EXPECT_TRUE(pollux::test::is_cloexec(copy->get()));
    const int copy_raw = copy->get();
    fd.reset();
    EXPECT_TRUE(is_open_fd(copy_raw)) << "closing the original must not close the clone";
}

TEST(OwnedFd, try_clone_of_empty_gives_bad_file_descriptor) {
    const OwnedFd fd;
    auto copy = fd.try_clone();
    ASSERT_FALSE(copy.has_value());
    EXPECT_EQ(copy.error(), std::errc::bad_file_descriptor);
}
