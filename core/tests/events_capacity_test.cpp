// Events: capacity bounds each poll, the rest comes on the next poll; a zero-capacity
// or moved-from buffer makes poll fail cleanly.
#include <array>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"

using namespace std::chrono_literals;
using pollux::Events;
using pollux::Interest;
using pollux::Poll;
using pollux::Token;
using pollux::test::as_bytes;

TEST(EventsCapacity, more_ready_sources_than_capacity_spill_over_to_later_polls) {
    auto poll = Poll::create().value();
    auto events = Events::with_capacity(3);
    std::vector<std::pair<pollux::Sender, pollux::Receiver>> pipes;
    for (std::size_t i = 0; i < 8; ++i) {
        pipes.push_back(pollux::pipe().value());
        ASSERT_TRUE(poll.registry().register_source(pipes.back().second, Token(i), Interest::READABLE));
        ASSERT_TRUE(pipes.back().first.write(as_bytes("x")));
    }

    std::set<Token> seen;
    std::vector<std::size_t> sizes;
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(poll.poll(events, 500ms));
        sizes.push_back(events.size());
        for (const pollux::Event& ev : events) {
            EXPECT_TRUE(ev.is_readable());
            EXPECT_TRUE(seen.insert(ev.token()).second) << ev.token() << " reported twice";
        }
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 2}));
    EXPECT_EQ(seen.size(), 8u);
    pollux::test::expect_no_events(poll, events);
}

TEST(EventsCapacity, zero_capacity_poll_returns_invalid_argument) {
    auto poll = Poll::create().value();
    auto events = Events::with_capacity(0);
    auto r = poll.poll(events, 0ms);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
}

TEST(EventsCapacity, with_capacity_reports_capacity_and_starts_empty) {
    const auto events = Events::with_capacity(1024);
    EXPECT_EQ(events.capacity(), 1024u);
    EXPECT_EQ(events.size(), 0u);
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(events.begin(), events.end());
}

TEST(EventsCapacity, size_counts_events_and_clear_empties_without_losing_capacity) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(f.poll.registry().register_source(tx, Token(2), Interest::WRITABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    ASSERT_TRUE(f.poll.poll(f.events, 500ms));
    EXPECT_EQ(f.events.size(), 2u);
    EXPECT_FALSE(f.events.empty());
    EXPECT_EQ(static_cast<std::size_t>(f.events.end() - f.events.begin()), f.events.size());

    f.events.clear();
    EXPECT_TRUE(f.events.empty());
    EXPECT_EQ(f.events.size(), 0u);
    EXPECT_EQ(f.events.capacity(), 16u);
}

TEST(EventsCapacity, poll_clears_previous_events) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, Token(1), Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    ASSERT_TRUE(f.poll.poll(f.events, 500ms));
    ASSERT_EQ(f.events.size(), 1u);
    ASSERT_TRUE(f.poll.poll(f.events, 0ms));
    EXPECT_TRUE(f.events.empty());
}

TEST(EventsCapacity, moved_from_events_polls_to_an_error_not_a_crash) {
    auto poll = Poll::create().value();
    auto events = Events::with_capacity(4);
    Events taken = std::move(events);
    EXPECT_EQ(taken.capacity(), 4u);
    EXPECT_EQ(events.capacity(), 0u);  // NOLINT(bugprone-use-after-move): the contract under test
    auto r = poll.poll(events, 0ms);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
    EXPECT_TRUE(poll.poll(taken, 0ms));
}

TEST(EventsCapacity, move_assignment_transfers_the_buffer) {
    auto a = Events::with_capacity(2);
    auto b = Events::with_capacity(8);
    b = std::move(a);
    EXPECT_EQ(b.capacity(), 2u);
    EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(a.empty());
}
