// framework/tests/reliability/load_common.hpp — what the reliability load client and
// the suites that drive it agree on: the seeded byte streams that payloads are made of
// and checked against, and the pattern of a large reply.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pollux::reliability {

// A reproducible byte stream (xorshift64*): the sender and the checker each run one
// from the same seed, so a lost, duplicated or changed byte shows at its position.
class ByteStream {
public:
    explicit ByteStream(std::uint64_t seed) noexcept : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
        if (s_ == 0) s_ = 1;
    }
    std::uint8_t next() noexcept {
        if (left_ == 0) {
            s_ ^= s_ >> 12;
            s_ ^= s_ << 25;
            s_ ^= s_ >> 27;
            word_ = s_ * 0x2545F4914F6CDD1Dull;
            left_ = 8;
        }
        --left_;
        const auto b = static_cast<std::uint8_t>(word_);
        word_ >>= 8;
        return b;
    }
    void fill(std::uint8_t* out, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) out[i] = next();
    }
    // First mismatch in [in, in+n), or n when every byte matches.
    std::size_t check(const std::uint8_t* in, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i)
            if (in[i] != next()) return i;
        return n;
    }

private:
    std::uint64_t s_;
    std::uint64_t word_ = 0;
    int left_ = 0;
};

// Byte i of a large reply (T4, T11): position-dependent, so truncation and reordering
// both show.
inline std::uint8_t reply_byte(std::size_t i) noexcept {
    return static_cast<std::uint8_t>((i * 131u + (i >> 12)) & 0xffu);
}

}  // namespace pollux::reliability
