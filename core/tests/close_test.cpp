// Closing registered sources: closing the last fd removes it from the Poll, but a dup'ed
// fd keeps the registration alive (why the docs say "deregister before close").
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"

using pollux::Interest;
using pollux::Token;
using pollux::test::as_bytes;
using pollux::test::expect_events;
using pollux::test::expect_no_events;

TEST(Close, dropping_a_registered_source_without_deregister_gives_no_event_and_no_error) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    { pollux::Receiver closing = std::move(rx); }
    expect_no_events(f.poll, f.events);
}

TEST(Close, a_duped_fd_keeps_the_registration_alive_after_close) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    pollux::OwnedFd copy(::fcntl(rx.fd(), F_DUPFD_CLOEXEC, 0));
    ASSERT_TRUE(copy.is_open());
    { pollux::Receiver closing = std::move(rx); }  // closed without deregister

    // epoll watches the open file description, which the copy keeps alive.
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});
    // The registration can no longer be removed through the closed fd number; it goes
    // away only when `copy`, the last fd, is closed at the end of the scope.
}
