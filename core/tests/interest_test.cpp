// Interest is a non-empty set with union, difference and printing.
#include <sstream>

#include <gtest/gtest.h>

#include "pollux/core/interest.hpp"

using pollux::Interest;

TEST(Interest, union_contains_both) {
    const Interest both = Interest::READABLE | Interest::WRITABLE;
    EXPECT_TRUE(both.is_readable());
    EXPECT_TRUE(both.is_writable());
    EXPECT_FALSE(both.is_priority());
    EXPECT_EQ(both, Interest::READABLE.add(Interest::WRITABLE));
}

TEST(Interest, or_assign_adds) {
    Interest i = Interest::READABLE;
    i |= Interest::PRIORITY;
    EXPECT_TRUE(i.is_priority());
    EXPECT_TRUE(i.is_readable());
}

TEST(Interest, remove_leaves_the_rest) {
    const auto left = (Interest::READABLE | Interest::WRITABLE).remove(Interest::READABLE);
    ASSERT_TRUE(left.has_value());
    EXPECT_EQ(*left, Interest::WRITABLE);
}

TEST(Interest, remove_to_empty_returns_nullopt) {
    EXPECT_FALSE(Interest::READABLE.remove(Interest::READABLE).has_value());
    EXPECT_FALSE(Interest::WRITABLE.remove(Interest::READABLE | Interest::WRITABLE).has_value());
}

TEST(Interest, remove_of_absent_is_identity) {
    EXPECT_EQ(Interest::READABLE.remove(Interest::WRITABLE), Interest::READABLE);
}

TEST(Interest, prints_names_joined_in_fixed_order) {
    std::ostringstream os;
    os << (Interest::PRIORITY | Interest::WRITABLE | Interest::READABLE);
    EXPECT_EQ(os.str(), "READABLE | WRITABLE | PRIORITY");
    std::ostringstream one;
    one << Interest::WRITABLE;
    EXPECT_EQ(one.str(), "WRITABLE");
}

TEST(Interest, is_usable_in_constant_expressions) {
    constexpr Interest i = Interest::READABLE | Interest::WRITABLE;
    static_assert(i.is_readable() && i.is_writable());
    static_assert(!Interest::READABLE.remove(Interest::READABLE).has_value());
}
