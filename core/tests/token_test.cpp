// Token: a plain value with ordering, hashing and `Token(n)` printing.
#include <cstddef>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_set>

#include <gtest/gtest.h>

#include "pollux/core/token.hpp"

using pollux::Token;

TEST(Token, compares_by_value) {
    EXPECT_EQ(Token(3), Token(3));
    EXPECT_NE(Token(3), Token(4));
    EXPECT_LT(Token(3), Token(4));
    EXPECT_GT(Token(10), Token(4));
    EXPECT_LE(Token(4), Token(4));
    EXPECT_GE(Token(4), Token(4));
    static_assert(Token(1) < Token(2));
    static_assert((Token(7) <=> Token(7)) == 0);
}

TEST(Token, default_is_zero_and_value_round_trips) {
    EXPECT_EQ(Token(), Token(0));
    constexpr std::size_t big = std::numeric_limits<std::size_t>::max();
    EXPECT_EQ(Token(big).value(), big);
    EXPECT_EQ(static_cast<std::size_t>(Token(42)), 42u);
}

TEST(Token, hashes_into_unordered_containers) {
    std::unordered_set<Token> set;
    for (std::size_t i = 0; i < 100; ++i) set.insert(Token(i));
    set.insert(Token(5));  // duplicate
    EXPECT_EQ(set.size(), 100u);
    EXPECT_TRUE(set.contains(Token(99)));
    EXPECT_FALSE(set.contains(Token(100)));
    EXPECT_EQ(std::hash<Token>{}(Token(17)), std::hash<Token>{}(Token(17)));
}

TEST(Token, orders_in_ordered_containers) {
    std::map<Token, int> m{{Token(3), 3}, {Token(1), 1}, {Token(2), 2}};
    int expected = 1;
    for (const auto& [token, value] : m) {
        EXPECT_EQ(token, Token(static_cast<std::size_t>(expected)));
        EXPECT_EQ(value, expected++);
    }
}

TEST(Token, prints_as_token_of_n) {
    std::ostringstream os;
    os << Token(5) << ' ' << Token(0) << ' ' << Token(18446744073709551615ull);
    EXPECT_EQ(os.str(), "Token(5) Token(0) Token(18446744073709551615)");
}
