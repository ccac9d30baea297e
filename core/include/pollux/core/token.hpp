// pollux/core/token.hpp — public.
//
// A `Token` is the caller's name for a registration. It is stored in the kernel with
// the registration (epoll_event.data.u64) and handed back in every `Event`, so the
// event loop can find which source became ready. pollux reserves no token values.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <iosfwd>

namespace pollux {

class Token {
public:
    constexpr Token() noexcept = default;
    constexpr explicit Token(std::size_t value) noexcept : value_(value) {}

    constexpr std::size_t value() const noexcept { return value_; }
    constexpr explicit operator std::size_t() const noexcept { return value_; }

    friend constexpr auto operator<=>(Token, Token) noexcept = default;

private:
    std::size_t value_ = 0;
};

// Prints `Token(n)`.
std::ostream& operator<<(std::ostream& os, Token token);

}  // namespace pollux

template <>
struct std::hash<pollux::Token> {
    std::size_t operator()(pollux::Token t) const noexcept { return std::hash<std::size_t>{}(t.value()); }
};
