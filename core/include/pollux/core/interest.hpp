// pollux/core/interest.hpp — public.
//
// The readiness a registration asks for. An Interest is a non-empty set of
// READABLE, WRITABLE and PRIORITY; there is no way to build an empty one, and
// `remove` says so with an empty optional instead.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>

namespace pollux {

class Interest {
public:
    static const Interest READABLE;  // data to read, a pending accept, or the peer closed
    static const Interest WRITABLE;  // room to write, or a connect finished
    static const Interest PRIORITY;  // out-of-band/priority data (EPOLLPRI)

    // Set union.
    constexpr Interest add(Interest other) const noexcept { return Interest(bits_ | other.bits_); }
    // Set difference; empty optional when nothing would be left.
    constexpr std::optional<Interest> remove(Interest other) const noexcept {
        const auto left = static_cast<std::uint8_t>(bits_ & ~other.bits_);
        if (left == 0) return std::nullopt;
        return Interest(left);
    }

    constexpr bool is_readable() const noexcept { return (bits_ & kReadable) != 0; }
    constexpr bool is_writable() const noexcept { return (bits_ & kWritable) != 0; }
    constexpr bool is_priority() const noexcept { return (bits_ & kPriority) != 0; }

    constexpr Interest operator|(Interest other) const noexcept { return add(other); }
    constexpr Interest& operator|=(Interest other) noexcept { return *this = add(other); }
    friend constexpr bool operator==(Interest, Interest) noexcept = default;

private:
    static constexpr std::uint8_t kReadable = 0b001;
    static constexpr std::uint8_t kWritable = 0b010;
    static constexpr std::uint8_t kPriority = 0b100;

    constexpr explicit Interest(std::uint8_t bits) noexcept : bits_(bits) {}

    std::uint8_t bits_;
};

inline constexpr Interest Interest::READABLE{Interest::kReadable};
inline constexpr Interest Interest::WRITABLE{Interest::kWritable};
inline constexpr Interest Interest::PRIORITY{Interest::kPriority};

// Prints the set names joined by " | ", e.g. `READABLE | WRITABLE`.
std::ostream& operator<<(std::ostream& os, Interest interest);

}  // namespace pollux
