// Every fd the core layer creates is CLOEXEC, and the ones used for I/O are non-blocking.
#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/fd_flags.hpp"

using pollux::test::is_cloexec;
using pollux::test::is_nonblocking;

TEST(Cloexec, poll_fd_is_cloexec) {
    auto poll = pollux::Poll::create().value();
    ASSERT_GE(poll.fd(), 0);
    EXPECT_EQ(poll.fd(), poll.registry().fd());
    EXPECT_TRUE(is_cloexec(poll.fd()));
}

TEST(Cloexec, cloned_registry_fd_is_cloexec) {
    auto poll = pollux::Poll::create().value();
    auto clone = poll.registry().try_clone().value();
    ASSERT_GE(clone.fd(), 0);
    EXPECT_NE(clone.fd(), poll.fd());
    EXPECT_TRUE(is_cloexec(clone.fd()));
}

TEST(Cloexec, waker_fd_is_cloexec_and_nonblocking) {
    auto poll = pollux::Poll::create().value();
    auto waker = pollux::Waker::create(poll.registry(), pollux::Token(1)).value();
    ASSERT_GE(waker.fd(), 0);
    EXPECT_TRUE(is_cloexec(waker.fd()));
    EXPECT_TRUE(is_nonblocking(waker.fd()));
}

TEST(Cloexec, pipe_fds_are_cloexec_and_nonblocking) {
    auto [tx, rx] = pollux::pipe().value();
    for (int fd : {tx.fd(), rx.fd()}) {
        ASSERT_GE(fd, 0);
        EXPECT_TRUE(is_cloexec(fd)) << fd;
        EXPECT_TRUE(is_nonblocking(fd)) << fd;
    }
}

TEST(Cloexec, owned_fd_clone_is_cloexec) {
    auto [tx, rx] = pollux::pipe().value();
    pollux::OwnedFd raw = rx.into_fd();
    auto copy = raw.try_clone().value();
    EXPECT_TRUE(is_cloexec(copy.get()));
}
