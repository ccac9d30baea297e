// net/src/socket_addr.cpp
#include "pollux/net/socket_addr.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <cstring>
#include <ostream>

namespace pollux::net {
namespace {

Result<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return error(std::errc::invalid_argument);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) {
        return error(std::errc::invalid_argument);
    }
    return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
    if (text.size() >= INET_ADDRSTRLEN) return error(std::errc::invalid_argument);
    char buf[INET_ADDRSTRLEN] = {};
    std::memcpy(buf, text.data(), text.size());
    Ipv4Addr ip;
    if (::inet_pton(AF_INET, buf, ip.octets.data()) != 1) return error(std::errc::invalid_argument);
    return ip;
}

std::string Ipv4Addr::to_string() const {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, octets.data(), buf, sizeof buf);
    return buf;
}

Result<Ipv6Addr> Ipv6Addr::parse(std::string_view text) {
    if (text.size() >= INET6_ADDRSTRLEN) return error(std::errc::invalid_argument);
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, text.data(), text.size());
    Ipv6Addr ip;
    if (::inet_pton(AF_INET6, buf, ip.octets.data()) != 1) return error(std::errc::invalid_argument);
    return ip;
}

std::string Ipv6Addr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, octets.data(), buf, sizeof buf);
    return buf;
}

SocketAddr::SocketAddr() noexcept : SocketAddr(Ipv4Addr::any(), 0) {}

SocketAddr::SocketAddr(Ipv4Addr ip, std::uint16_t port) noexcept {
    auto* sin = reinterpret_cast<::sockaddr_in*>(&storage_);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.octets.data(), 4);
}

SocketAddr::SocketAddr(Ipv6Addr ip, std::uint16_t port, std::uint32_t scope_id) noexcept {
    auto* sin6 = reinterpret_cast<::sockaddr_in6*>(&storage_);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_scope_id = scope_id;
    std::memcpy(&sin6->sin6_addr, ip.octets.data(), 16);
}

Result<SocketAddr> SocketAddr::parse(std::string_view text) {
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return error(std::errc::invalid_argument);
        }
        std::string_view host = text.substr(1, close - 1);
        std::uint32_t scope = 0;
        if (const auto pct = host.find('%'); pct != std::string_view::npos) {
            const std::string_view zone = host.substr(pct + 1);
            host = host.substr(0, pct);
            const auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), scope);
            if (zone.empty() || ec != std::errc{} || end != zone.data() + zone.size()) {
                char name[IF_NAMESIZE] = {};
                if (zone.empty() || zone.size() >= IF_NAMESIZE) return error(std::errc::invalid_argument);
                std::memcpy(name, zone.data(), zone.size());
                scope = ::if_nametoindex(name);
                if (scope == 0) return error(std::errc::invalid_argument);
            }
        }
        auto ip = Ipv6Addr::parse(host);
        if (!ip) return std::unexpected(ip.error());
        auto port = parse_port(text.substr(close + 2));
        if (!port) return std::unexpected(port.error());
        return SocketAddr(*ip, *port, scope);
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return error(std::errc::invalid_argument);
    auto ip = Ipv4Addr::parse(text.substr(0, colon));
    if (!ip) return std::unexpected(ip.error());
    auto port = parse_port(text.substr(colon + 1));
    if (!port) return std::unexpected(port.error());
    return SocketAddr(*ip, *port);
}

Result<SocketAddr> SocketAddr::from_sockaddr(const ::sockaddr* sa, ::socklen_t len) {
    if (sa == nullptr || len < static_cast<::socklen_t>(sizeof(sa_family_t))) {
        return error(std::errc::invalid_argument);
    }
    SocketAddr addr;
    if (sa->sa_family == AF_INET) {
        if (len < static_cast<::socklen_t>(sizeof(::sockaddr_in))) return error(std::errc::invalid_argument);
        std::memcpy(&addr.storage_, sa, sizeof(::sockaddr_in));
        return addr;
    }
    if (sa->sa_family == AF_INET6) {
        if (len < static_cast<::socklen_t>(sizeof(::sockaddr_in6))) return error(std::errc::invalid_argument);
        std::memset(&addr.storage_, 0, sizeof addr.storage_);
        std::memcpy(&addr.storage_, sa, sizeof(::sockaddr_in6));
        return addr;
    }
    return error(std::errc::address_family_not_supported);
}

std::uint16_t SocketAddr::port() const noexcept {
    if (is_ipv6()) return ntohs(reinterpret_cast<const ::sockaddr_in6*>(&storage_)->sin6_port);
    return ntohs(reinterpret_cast<const ::sockaddr_in*>(&storage_)->sin_port);
}

void SocketAddr::set_port(std::uint16_t port) noexcept {
    if (is_ipv6()) {
        reinterpret_cast<::sockaddr_in6*>(&storage_)->sin6_port = htons(port);
    } else {
        reinterpret_cast<::sockaddr_in*>(&storage_)->sin_port = htons(port);
    }
}

Ipv4Addr SocketAddr::ipv4() const noexcept {
    Ipv4Addr ip;
    if (is_ipv4()) std::memcpy(ip.octets.data(), &reinterpret_cast<const ::sockaddr_in*>(&storage_)->sin_addr, 4);
    return ip;
}

Ipv6Addr SocketAddr::ipv6() const noexcept {
    Ipv6Addr ip;
    if (is_ipv6()) std::memcpy(ip.octets.data(), &reinterpret_cast<const ::sockaddr_in6*>(&storage_)->sin6_addr, 16);
    return ip;
}

::socklen_t SocketAddr::len() const noexcept {
    return is_ipv6() ? sizeof(::sockaddr_in6) : sizeof(::sockaddr_in);
}

std::string SocketAddr::to_string() const {
    if (is_ipv6()) {
        std::string s = "[" + ipv6().to_string();
        const auto scope = reinterpret_cast<const ::sockaddr_in6*>(&storage_)->sin6_scope_id;
        if (scope != 0) s += "%" + std::to_string(scope);
        return s + "]:" + std::to_string(port());
    }
    return ipv4().to_string() + ":" + std::to_string(port());
}

bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept {
    if (a.family() != b.family() || a.port() != b.port()) return false;
    if (a.is_ipv6()) {
        return a.ipv6() == b.ipv6() && reinterpret_cast<const ::sockaddr_in6*>(&a.storage_)->sin6_scope_id ==
                                           reinterpret_cast<const ::sockaddr_in6*>(&b.storage_)->sin6_scope_id;
    }
    return a.ipv4() == b.ipv4();
}

std::ostream& operator<<(std::ostream& os, const SocketAddr& addr) { return os << addr.to_string(); }
std::ostream& operator<<(std::ostream& os, const Ipv4Addr& addr) { return os << addr.to_string(); }
std::ostream& operator<<(std::ostream& os, const Ipv6Addr& addr) { return os << addr.to_string(); }

}  // namespace pollux::net
