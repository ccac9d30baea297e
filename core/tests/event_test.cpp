// Event: mio's epoll flag formulas, token round-trip, and printing.
#include <sys/epoll.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "pollux/core/event.hpp"
#include "pollux/core/token.hpp"

using pollux::Event;
using pollux::Token;

namespace {

Event ev(std::uint32_t flags) { return Event::from_raw(flags, 0); }

std::string print(const Event& e) {
    std::ostringstream os;
    os << e;
    return os.str();
}

}  // namespace

TEST(Event, readable_is_epollin_or_epollpri) {
    EXPECT_TRUE(ev(EPOLLIN).is_readable());
    EXPECT_TRUE(ev(EPOLLPRI).is_readable());
    EXPECT_TRUE(ev(EPOLLIN | EPOLLOUT).is_readable());
    EXPECT_FALSE(ev(EPOLLOUT).is_readable());
    EXPECT_FALSE(ev(EPOLLRDHUP).is_readable());
    EXPECT_FALSE(ev(EPOLLHUP).is_readable());
    EXPECT_FALSE(ev(0).is_readable());
}

TEST(Event, writable_is_epollout) {
    EXPECT_TRUE(ev(EPOLLOUT).is_writable());
    EXPECT_TRUE(ev(EPOLLOUT | EPOLLERR).is_writable());
    EXPECT_FALSE(ev(EPOLLIN).is_writable());
    EXPECT_FALSE(ev(EPOLLERR).is_writable());
    EXPECT_FALSE(ev(EPOLLHUP).is_writable());
}

TEST(Event, error_is_epollerr) {
    EXPECT_TRUE(ev(EPOLLERR).is_error());
    EXPECT_TRUE(ev(EPOLLERR | EPOLLIN).is_error());
    EXPECT_FALSE(ev(EPOLLHUP).is_error());
    EXPECT_FALSE(ev(EPOLLIN | EPOLLOUT).is_error());
}

TEST(Event, read_closed_is_epollhup_or_epollin_with_epollrdhup) {
    EXPECT_TRUE(ev(EPOLLHUP).is_read_closed());
    EXPECT_TRUE(ev(EPOLLIN | EPOLLRDHUP).is_read_closed());
    EXPECT_TRUE(ev(EPOLLHUP | EPOLLOUT).is_read_closed());
    EXPECT_FALSE(ev(EPOLLRDHUP).is_read_closed()) << "EPOLLRDHUP alone is not read-closed";
    EXPECT_FALSE(ev(EPOLLRDHUP | EPOLLOUT).is_read_closed());
    EXPECT_FALSE(ev(EPOLLIN).is_read_closed());
    EXPECT_FALSE(ev(EPOLLERR).is_read_closed());
}

TEST(Event, write_closed_is_epollhup_or_epollout_with_epollerr_or_exactly_epollerr) {
    EXPECT_TRUE(ev(EPOLLHUP).is_write_closed());
    EXPECT_TRUE(ev(EPOLLHUP | EPOLLIN).is_write_closed());
    EXPECT_TRUE(ev(EPOLLOUT | EPOLLERR).is_write_closed());
    EXPECT_TRUE(ev(EPOLLERR).is_write_closed()) << "EPOLLERR alone: a pipe whose reader closed";
    EXPECT_FALSE(ev(EPOLLERR | EPOLLIN).is_write_closed()) << "EPOLLERR with EPOLLIN only is not write-closed";
    EXPECT_FALSE(ev(EPOLLOUT).is_write_closed());
    EXPECT_FALSE(ev(EPOLLRDHUP | EPOLLIN).is_write_closed());
    EXPECT_FALSE(ev(0).is_write_closed());
}

TEST(Event, priority_is_epollpri) {
    EXPECT_TRUE(ev(EPOLLPRI).is_priority());
    EXPECT_TRUE(ev(EPOLLPRI | EPOLLIN).is_priority());
    EXPECT_FALSE(ev(EPOLLIN).is_priority());
}

TEST(Event, raw_flags_are_kept_as_given) {
    EXPECT_EQ(ev(EPOLLIN | EPOLLRDHUP).raw_flags(), static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP));
}

TEST(Event, token_round_trips_including_large_values) {
    for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0xdeadbeef},
                            std::uint64_t{1} << 40,
                            static_cast<std::uint64_t>(std::numeric_limits<std::size_t>::max())}) {
        EXPECT_EQ(Event::from_raw(EPOLLIN, v).token(), Token(static_cast<std::size_t>(v))) << v;
    }
}

TEST(Event, is_usable_in_constant_expressions) {
    constexpr Event e = Event::from_raw(EPOLLIN, 3);
    static_assert(sizeof(e) == sizeof(::epoll_event));
    EXPECT_EQ(e.token(), Token(3));
}

TEST(Event, prints_token_and_set_flags) {
    EXPECT_EQ(print(Event::from_raw(EPOLLIN, 5)), "Event { token: Token(5), readable }");
    EXPECT_EQ(print(Event::from_raw(EPOLLOUT | EPOLLERR, 7)),
              "Event { token: Token(7), writable, error, write_closed }");
    EXPECT_EQ(print(Event::from_raw(EPOLLIN | EPOLLPRI | EPOLLRDHUP, 1)),
              "Event { token: Token(1), readable, read_closed, priority }");
    EXPECT_EQ(print(Event::from_raw(0, 0)), "Event { token: Token(0) }");
}

TEST(Event, token_prints_as_token_of_n) {
    std::ostringstream os;
    os << Token(5);
    EXPECT_EQ(os.str(), "Token(5)");
}
