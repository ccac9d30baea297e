#include "support/expect_events.hpp"

#include <sstream>

namespace pollux::test {

namespace {
bool implies(const Event& ev, Interest interest) {
    if (interest.is_readable() && !ev.is_readable()) return false;
    if (interest.is_writable() && !ev.is_writable()) return false;
    if (interest.is_priority() && !ev.is_priority()) return false;
    return true;
}
}  // namespace

void expect_events(Poll& poll, Events& events, std::vector<ExpectedEvent> expected) {
    std::ostringstream seen;
    for (int round = 0; round < 3 && !expected.empty(); ++round) {
        auto r = poll.poll(events, std::chrono::milliseconds(500));
        ASSERT_TRUE(r.has_value()) << "poll failed: " << r.error().message();
        for (const Event& ev : events) {
            seen << ev << "; ";
            std::erase_if(expected, [&](const ExpectedEvent& want) {
                return ev.token() == want.token && implies(ev, want.interest);
            });
        }
    }
    for (const auto& missing : expected) {
        ADD_FAILURE() << "missing event for " << missing.token << " with " << missing.interest
                      << "; saw: " << seen.str();
    }
}

void expect_no_events(Poll& poll, Events& events) {
    auto r = poll.poll(events, std::chrono::milliseconds(50));
    ASSERT_TRUE(r.has_value()) << "poll failed: " << r.error().message();
    for (const Event& ev : events) ADD_FAILURE() << "unexpected event: " << ev;
}

}  // namespace pollux::test
