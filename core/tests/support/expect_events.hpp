// core/tests/support/expect_events.hpp — test helpers in the style of mio's tests/util.
//
//   expect_events(poll, events, {{Token(1), Interest::READABLE}, ...})
//     polls up to 3 rounds of 500 ms until every expected (token, interest) pair has
//     been seen in some event whose readiness implies the interest; unrelated events
//     are ignored. Fails the test otherwise.
//   expect_no_events(poll, events)  — one 50 ms poll must return nothing.
#pragma once

#include <chrono>
#include <initializer_list>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"

namespace pollux::test {

struct ExpectedEvent {
    Token token;
    Interest interest;
};

void expect_events(Poll& poll, Events& events, std::vector<ExpectedEvent> expected);
void expect_no_events(Poll& poll, Events& events);

// Events::with_capacity(16), as mio's init_with_poll.
struct PollFixture {
    Poll poll = Poll::create().value();
    Events events = Events::with_capacity(16);
};

// Convenience for byte spans over string literals and buffers.
inline std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace pollux::test
