// pollux/net/socket_addr.hpp — public.
//
// `SocketAddr` is an IPv4 or IPv6 address with a port (mio/std's SocketAddr):
// parse it from text, print it, compare it, and hand it to the kernel as a sockaddr.
// `Ipv4Addr` / `Ipv6Addr` are the bare IPs, for multicast and interface arguments.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "pollux/core/result.hpp"

namespace pollux::net {

struct Ipv4Addr {
    std::array<std::uint8_t, 4> octets{};

    static constexpr Ipv4Addr any() noexcept { return {}; }
    static constexpr Ipv4Addr loopback() noexcept { return {{127, 0, 0, 1}}; }
    // Dotted quad, e.g. "239.1.2.3". EINVAL on anything else.
    static Result<Ipv4Addr> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr auto operator<=>(const Ipv4Addr&, const Ipv4Addr&) = default;
};

struct Ipv6Addr {
    std::array<std::uint8_t, 16> octets{};

    static constexpr Ipv6Addr any() noexcept { return {}; }
    static constexpr Ipv6Addr loopback() noexcept { return {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}; }
    // Textual IPv6 without brackets, e.g. "::1", "ff02::1". EINVAL on anything else.
    static Result<Ipv6Addr> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr auto operator<=>(const Ipv6Addr&, const Ipv6Addr&) = default;
};

class SocketAddr {
public:
    // 0.0.0.0:0.
    SocketAddr() noexcept;
    SocketAddr(Ipv4Addr ip, std::uint16_t port) noexcept;
    SocketAddr(Ipv6Addr ip, std::uint16_t port, std::uint32_t scope_id = 0) noexcept;

    // "127.0.0.1:8080", "[::1]:8080", "[fe80::1%2]:80". No host names (no DNS here).
    // EINVAL (std::errc::invalid_argument) on anything else, including a missing or
    // out-of-range port.
    static Result<SocketAddr> parse(std::string_view text);
    // From a kernel sockaddr (AF_INET or AF_INET6); EAFNOSUPPORT otherwise, EINVAL
    // when `len` is too short.
    static Result<SocketAddr> from_sockaddr(const ::sockaddr* sa, ::socklen_t len);

    static SocketAddr loopback_v4(std::uint16_t port = 0) noexcept { return {Ipv4Addr::loopback(), port}; }
    static SocketAddr loopback_v6(std::uint16_t port = 0) noexcept { return {Ipv6Addr::loopback(), port}; }

    bool is_ipv4() const noexcept { return storage_.ss_family == AF_INET; }
    bool is_ipv6() const noexcept { return storage_.ss_family == AF_INET6; }
    int family() const noexcept { return storage_.ss_family; }
    std::uint16_t port() const noexcept;
    void set_port(std::uint16_t port) noexcept;
    // Only meaningful for the matching family.
    Ipv4Addr ipv4() const noexcept;
    Ipv6Addr ipv6() const noexcept;

    const ::sockaddr* as_sockaddr() const noexcept { return reinterpret_cast<const ::sockaddr*>(&storage_); }
    ::socklen_t len() const noexcept;

    // "127.0.0.1:80" or "[::1]:80" — parse(to_string()) round-trips.
    std::string to_string() const;

    friend bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept;

private:
    ::sockaddr_storage storage_{};
};

std::ostream& operator<<(std::ostream& os, const SocketAddr& addr);
std::ostream& operator<<(std::ostream& os, const Ipv4Addr& addr);
std::ostream& operator<<(std::ostream& os, const Ipv6Addr& addr);

}  // namespace pollux::net
