// SourceFd registers an fd pollux does not own: a timerfd fires readable, deregister
// stops it, and the fd is never closed by pollux.
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"
#include "support/fd_flags.hpp"

using namespace std::chrono_literals;
using pollux::Interest;
using pollux::SourceFd;
using pollux::Token;
using pollux::test::expect_events;
using pollux::test::expect_no_events;

namespace {

// A CLOCK_MONOTONIC timerfd owned by the test.
pollux::OwnedFd make_timerfd() {
    return pollux::OwnedFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
}

// Arms `fd` to fire after `ms` milliseconds and then every `interval_ms` (0 = once).
bool arm(int fd, long ms, long interval_ms = 0) {
    itimerspec spec{};
    spec.it_value.tv_sec = ms / 1000;
    spec.it_value.tv_nsec = (ms % 1000) * 1'000'000;
    spec.it_interval.tv_sec = interval_ms / 1000;
    spec.it_interval.tv_nsec = (interval_ms % 1000) * 1'000'000;
    return ::timerfd_settime(fd, 0, &spec, nullptr) == 0;
}

}  // namespace

TEST(SourceFd, timerfd_fires_readable_with_the_token) {
    pollux::test::PollFixture f;
    auto timer = make_timerfd();
    ASSERT_TRUE(timer.is_open());
    SourceFd source(timer.get());
    EXPECT_EQ(source.fd(), timer.get());
    ASSERT_TRUE(f.poll.registry().register_source(source, Token(4), Interest::READABLE));
    expect_no_events(f.poll, f.events);  // not armed yet
    ASSERT_TRUE(arm(timer.get(), 10));
    expect_events(f.poll, f.events, {{Token(4), Interest::READABLE}});

    std::uint64_t expirations = 0;
    ASSERT_EQ(::read(timer.get(), &expirations, sizeof expirations), static_cast<ssize_t>(sizeof expirations));
    EXPECT_GE(expirations, 1u);
}

TEST(SourceFd, deregister_stops_a_periodic_timerfd) {
    pollux::test::PollFixture f;
    auto timer = make_timerfd();
    ASSERT_TRUE(timer.is_open());
    SourceFd source(timer.get());
    ASSERT_TRUE(f.poll.registry().register_source(source, Token(4), Interest::READABLE));
    ASSERT_TRUE(arm(timer.get(), 5, 5));
    expect_events(f.poll, f.events, {{Token(4), Interest::READABLE}});
    ASSERT_TRUE(f.poll.registry().deregister(source));
    expect_no_events(f.poll, f.events);  // the timer keeps expiring (every 5 ms) unseen
    EXPECT_TRUE(pollux::test::is_open_fd(timer.get())) << "SourceFd must not close the fd";
}

TEST(SourceFd, reregister_changes_the_token) {
    pollux::test::PollFixture f;
    auto timer = make_timerfd();
    SourceFd source(timer.get());
    ASSERT_TRUE(f.poll.registry().register_source(source, Token(4), Interest::READABLE));
    ASSERT_TRUE(f.poll.registry().reregister(source, Token(5), Interest::READABLE));
    ASSERT_TRUE(arm(timer.get(), 5));
    ASSERT_TRUE(f.poll.poll(f.events, 500ms));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(5));
}

TEST(SourceFd, passes_kernel_errors_through_unchanged) {
    auto poll = pollux::Poll::create().value();
    auto timer = make_timerfd();
    SourceFd source(timer.get());
    // No association checks: the kernel's ENOENT/EEXIST come back as they are.
    EXPECT_EQ(poll.registry().deregister(source).error(), std::errc::no_such_file_or_directory);
    EXPECT_EQ(poll.registry().reregister(source, Token(1), Interest::READABLE).error(),
              std::errc::no_such_file_or_directory);
    ASSERT_TRUE(poll.registry().register_source(source, Token(1), Interest::READABLE));
    auto twice = poll.registry().register_source(source, Token(1), Interest::READABLE);
    ASSERT_FALSE(twice.has_value());
    EXPECT_EQ(twice.error(), std::errc::file_exists);
    EXPECT_EQ(twice.error().category(), std::system_category());
}
