// net/src/unix_socket_addr.cpp
#include "pollux/net/unix_socket_addr.hpp"

#include <cstring>
#include <ostream>

namespace pollux::net {
namespace {

constexpr std::size_t kPathOffset = offsetof(::sockaddr_un, sun_path);
constexpr std::size_t kSunPathSize = sizeof(::sockaddr_un::sun_path);

void append_escaped(std::string& out, std::span<const std::byte> bytes, bool quote) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const std::byte b : bytes) {
        const auto c = static_cast<unsigned char>(b);
        if (quote && (c == '"' || c == '\\')) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
}

}  // namespace

Result<UnixSocketAddr> UnixSocketAddr::from_pathname(std::string_view path) {
    if (path.empty() || path.find('\0') != std::string_view::npos) return error(std::errc::invalid_argument);
    if (path.size() > kMaxPathname) return error(std::errc::filename_too_long);
    UnixSocketAddr addr;
    std::memcpy(addr.addr_.sun_path, path.data(), path.size());
    addr.len_ = static_cast<::socklen_t>(kPathOffset + path.size() + 1);
    return addr;
}

Result<UnixSocketAddr> UnixSocketAddr::from_abstract_name(std::span<const std::byte> name) {
    if (name.size() > kMaxAbstractName) return error(std::errc::filename_too_long);
    UnixSocketAddr addr;
    if (!name.empty()) std::memcpy(addr.addr_.sun_path + 1, name.data(), name.size());
    addr.len_ = static_cast<::socklen_t>(kPathOffset + 1 + name.size());
    return addr;
}

Result<UnixSocketAddr> UnixSocketAddr::from_abstract_name(std::string_view name) {
    return from_abstract_name(std::as_bytes(std::span(name.data(), name.size())));
}

Result<UnixSocketAddr> UnixSocketAddr::from_sockaddr(const ::sockaddr_un* sa, ::socklen_t len) {
    if (sa == nullptr || len < static_cast<::socklen_t>(kPathOffset) || len > static_cast<::socklen_t>(sizeof *sa)) {
        return error(std::errc::invalid_argument);
    }
    if (sa->sun_family != AF_UNIX) return error(std::errc::address_family_not_supported);
    const std::size_t n = static_cast<std::size_t>(len) - kPathOffset;
    if (n == 0) return UnixSocketAddr{};
    if (sa->sun_path[0] == '\0') {
        return from_abstract_name(std::as_bytes(std::span(sa->sun_path + 1, n - 1)));
    }
    // A pathname, cut at its first NUL. The kernel may report all 108 bytes without
    // a NUL (a path bound at full length); keep it, with len() = offset + 108.
    const std::size_t path_len = ::strnlen(sa->sun_path, n);
    UnixSocketAddr addr;
    std::memcpy(addr.addr_.sun_path, sa->sun_path, path_len);
    addr.len_ = static_cast<::socklen_t>(kPathOffset + path_len + (path_len < kSunPathSize ? 1 : 0));
    return addr;
}

UnixSocketAddr::Kind UnixSocketAddr::kind() const noexcept {
    if (len_ <= static_cast<::socklen_t>(kPathOffset)) return Kind::Unnamed;
    return addr_.sun_path[0] == '\0' ? Kind::Abstract : Kind::Pathname;
}

std::optional<std::string_view> UnixSocketAddr::as_pathname() const noexcept {
    if (kind() != Kind::Pathname) return std::nullopt;
    return std::string_view(addr_.sun_path, ::strnlen(addr_.sun_path, kSunPathSize));
}

std::optional<std::span<const std::byte>> UnixSocketAddr::as_abstract_name() const noexcept {
    if (kind() != Kind::Abstract) return std::nullopt;
    const std::size_t n = static_cast<std::size_t>(len_) - kPathOffset - 1;
    return std::as_bytes(std::span(addr_.sun_path + 1, n));
}

std::string UnixSocketAddr::to_string() const {
    std::string out;
    if (auto path = as_pathname()) {
        out += '"';
        append_escaped(out, std::as_bytes(std::span(path->data(), path->size())), true);
        out += '"';
    } else if (auto name = as_abstract_name()) {
        out += '@';
        append_escaped(out, *name, false);
        out += " (abstract)";
    } else {
        out = "(unnamed)";
    }
    return out;
}

bool operator==(const UnixSocketAddr& a, const UnixSocketAddr& b) noexcept {
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case UnixSocketAddr::Kind::Unnamed:
            return true;
        case UnixSocketAddr::Kind::Pathname:
            return *a.as_pathname() == *b.as_pathname();
        case UnixSocketAddr::Kind::Abstract: {
            const auto x = *a.as_abstract_name();
            const auto y = *b.as_abstract_name();
            return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0;
        }
    }
    return false;
}

std::ostream& operator<<(std::ostream& os, const UnixSocketAddr& addr) { return os << addr.to_string(); }

}  // namespace pollux::net
