// Registry: register_source / reregister / deregister, the association checks, bad fds,
// cloned handles used from other threads, and empty handles.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"

using namespace std::chrono_literals;
using pollux::Errc;
using pollux::Events;
using pollux::Interest;
using pollux::Poll;
using pollux::Registry;
using pollux::SourceFd;
using pollux::Token;
using pollux::test::as_bytes;
using pollux::test::expect_events;
using pollux::test::expect_no_events;

namespace {

void drain(const pollux::Receiver& rx) {
    std::array<std::byte, 256> buf{};
    for (int i = 0; i < 1000; ++i) {
        auto n = rx.read(buf);
        if (!n || *n == 0) return;
    }
}

}  // namespace

TEST(Registry, registered_source_reports_events_with_its_token) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(42), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{Token(42), Interest::READABLE}});
}

TEST(Registry, events_stop_after_deregister) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    ASSERT_TRUE(f.poll.registry().deregister(rx));
    expect_no_events(f.poll, f.events);  // the pending readiness is gone too
    ASSERT_TRUE(tx.write(as_bytes("y")));
    expect_no_events(f.poll, f.events);
}

TEST(Registry, reregister_readable_to_writable_stops_readable_events) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(f.poll.registry().reregister(rx, Token(1), Interest::WRITABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    // A pipe's read end never becomes writable, so nothing at all may arrive.
    expect_no_events(f.poll, f.events);
}

TEST(Registry, reregister_replaces_the_token) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(f.poll.registry().reregister(rx, Token(2), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    ASSERT_TRUE(f.poll.poll(f.events, 500ms));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(2));
}

TEST(Registry, reregister_of_an_already_ready_source_reports_it_again) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});
    expect_no_events(f.poll, f.events);  // edge-triggered: no repeat without a new edge
    ASSERT_TRUE(f.poll.registry().reregister(rx, Token(3), Interest::READABLE));
    expect_events(f.poll, f.events, {{Token(3), Interest::READABLE}});
}

TEST(Registry, double_register_gives_already_registered_which_equals_file_exists) {
    auto poll = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(poll.registry().register_source(rx, Token(1), Interest::READABLE));
    auto r = poll.registry().register_source(rx, Token(2), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Errc::already_registered);
    EXPECT_EQ(r.error(), std::errc::file_exists);
    EXPECT_EQ(r.error().category(), pollux::pollux_category());
}

TEST(Registry, double_register_through_a_clone_gives_already_registered) {
    auto poll = Poll::create().value();
    auto clone = poll.registry().try_clone().value();
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(poll.registry().register_source(rx, Token(1), Interest::READABLE));
    auto r = clone.register_source(rx, Token(1), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Errc::already_registered);
}

TEST(Registry, deregister_of_unregistered_source_gives_not_registered) {
    auto poll = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    auto r = poll.registry().deregister(rx);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Errc::not_registered);
    EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory);
}

TEST(Registry, reregister_of_unregistered_source_gives_not_registered) {
    auto poll = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    auto r = poll.registry().reregister(rx, Token(1), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Errc::not_registered);
}

TEST(Registry, register_with_a_second_poll_while_registered_gives_registered_elsewhere) {
    pollux::test::PollFixture first;
    auto second = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(first.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    auto r = second.registry().register_source(rx, Token(1), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Errc::registered_elsewhere);
    EXPECT_EQ(r.error(), std::errc::file_exists);
    // The failed attempt left the first registration intact.
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(first.poll, first.events, {{Token(1), Interest::READABLE}});
}

TEST(Registry, reregister_and_deregister_on_another_poll_give_registered_elsewhere) {
    auto first = Poll::create().value();
    auto second = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(first.registry().register_source(rx, Token(1), Interest::READABLE));
    auto re = second.registry().reregister(rx, Token(1), Interest::READABLE);
    ASSERT_FALSE(re.has_value());
    EXPECT_EQ(re.error(), Errc::registered_elsewhere);
    auto de = second.registry().deregister(rx);
    ASSERT_FALSE(de.has_value());
    EXPECT_EQ(de.error(), Errc::registered_elsewhere);
    // Still registered with the first Poll.
    EXPECT_TRUE(first.registry().deregister(rx));
}

TEST(Registry, register_again_after_deregister_works) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(f.poll.registry().deregister(rx));
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(2), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{Token(2), Interest::READABLE}});
}

TEST(Registry, after_deregister_another_poll_may_register_the_source) {
    auto first = Poll::create().value();
    pollux::test::PollFixture second;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(first.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(first.registry().deregister(rx));
    ASSERT_TRUE(second.poll.registry().register_source(rx, Token(5), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(second.poll, second.events, {{Token(5), Interest::READABLE}});
}

TEST(Registry, source_fd_minus_one_gives_bad_file_descriptor) {
    auto poll = Poll::create().value();
    SourceFd bad(-1);
    auto r = poll.registry().register_source(bad, Token(1), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(poll.registry().reregister(bad, Token(1), Interest::READABLE).error(),
              std::errc::bad_file_descriptor);
    EXPECT_EQ(poll.registry().deregister(bad).error(), std::errc::bad_file_descriptor);
}

TEST(Registry, source_fd_of_a_closed_fd_gives_bad_file_descriptor) {
    auto poll = Poll::create().value();
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::close(fd), 0);
    SourceFd closed(fd);
    auto r = poll.registry().register_source(closed, Token(1), Interest::READABLE);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
}

TEST(Registry, moved_from_pipe_end_gives_bad_file_descriptor) {
    auto poll = Poll::create().value();
    auto [tx, rx] = pollux::pipe().value();
    pollux::Receiver taken = std::move(rx);
    auto r = poll.registry().register_source(rx, Token(1), Interest::READABLE);  // NOLINT(bugprone-use-after-move)
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    EXPECT_TRUE(poll.registry().register_source(taken, Token(1), Interest::READABLE));
}

TEST(Registry, moving_a_registered_source_keeps_its_registration) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    pollux::Receiver moved = std::move(rx);
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});
    EXPECT_TRUE(f.poll.registry().deregister(moved));
}

TEST(Registry, clone_used_from_another_thread_wakes_a_blocked_poll) {
    pollux::test::PollFixture f;
    auto clone = f.poll.registry().try_clone().value();
    EXPECT_NE(clone.fd(), f.poll.registry().fd());
    EXPECT_EQ(clone.poll_id(), f.poll.registry().poll_id());
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(tx.write(as_bytes("x")));  // already ready before it is registered

    std::thread registrar([&] {
        std::this_thread::sleep_for(50ms);  // let the main thread block first
        EXPECT_TRUE(clone.register_source(rx, Token(9), Interest::READABLE));
    });
    const auto start = std::chrono::steady_clock::now();
    auto r = f.poll.poll(f.events, 5s);  // bounded: fails on the size check if never woken
    const auto elapsed = std::chrono::steady_clock::now() - start;
    registrar.join();

    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].token(), Token(9));
    EXPECT_TRUE(f.events[0].is_readable());
    EXPECT_LT(elapsed, 4s);
    // Registered through the clone = registered with the same Poll.
    EXPECT_TRUE(f.poll.registry().deregister(rx));
    drain(rx);
}

TEST(Registry, clone_outlives_the_original_handle) {
    auto clone = [] {
        auto poll = Poll::create().value();
        return poll.registry().try_clone().value();
    }();
    auto [tx, rx] = pollux::pipe().value();
    EXPECT_TRUE(clone.register_source(rx, Token(1), Interest::READABLE));
    EXPECT_TRUE(clone.deregister(rx));
}

TEST(Registry, empty_registry_returns_errors) {
    const Registry empty;
    EXPECT_EQ(empty.fd(), -1);
    auto [tx, rx] = pollux::pipe().value();
    auto reg = empty.register_source(rx, Token(1), Interest::READABLE);
    ASSERT_FALSE(reg.has_value());
    EXPECT_EQ(reg.error(), std::errc::bad_file_descriptor);
    EXPECT_FALSE(empty.reregister(rx, Token(1), Interest::READABLE).has_value());
    auto de = empty.deregister(rx);
    ASSERT_FALSE(de.has_value());
    EXPECT_EQ(de.error(), std::errc::bad_file_descriptor);
    auto clone = empty.try_clone();
    ASSERT_FALSE(clone.has_value());
    EXPECT_EQ(clone.error(), std::errc::bad_file_descriptor);
    // The failed attempt left rx free to register with a real Poll.
    auto poll = Poll::create().value();
    EXPECT_TRUE(poll.registry().register_source(rx, Token(1), Interest::READABLE));
}

TEST(Registry, empty_poll_returns_bad_file_descriptor) {
    Poll empty;
    auto events = Events::with_capacity(4);
    auto r = empty.poll(events, 0ms);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(empty.fd(), -1);
}

TEST(Registry, moved_from_poll_returns_bad_file_descriptor) {
    auto poll = Poll::create().value();
    Poll taken = std::move(poll);
    auto events = Events::with_capacity(4);
    auto r = poll.poll(events, 0ms);  // NOLINT(bugprone-use-after-move)
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
    EXPECT_TRUE(taken.poll(events, 0ms));
}

TEST(Registry, deregister_through_a_moved_from_poll_fails_without_touching_the_registration) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    Poll live = std::move(f.poll);

    // The moved-from Poll is empty: its calls fail and must have no side effect.
    auto r = f.poll.registry().deregister(rx);  // NOLINT(bugprone-use-after-move)
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);

    // The source is still registered with the live Poll: it still gets events, and
    // the live Poll can deregister it.
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(live, f.events, {{Token(1), Interest::READABLE}});
    auto de = live.registry().deregister(rx);
    EXPECT_TRUE(de.has_value()) << "the failed deregister through the empty handle dropped the association: "
                                << de.error().message();
}
