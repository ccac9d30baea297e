// net/src/resolve.cpp — getaddrinfo, and the "resolve" error category.
#include "pollux/net/resolve.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

namespace pollux::net {
namespace {

class ResolveCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "resolve"; }

    std::string message(int value) const override { return ::gai_strerror(value); }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (value) {
            case EAI_AGAIN: return std::errc::resource_unavailable_try_again;
            case EAI_MEMORY: return std::errc::not_enough_memory;
            case EAI_FAMILY: return std::errc::address_family_not_supported;
            default: return {value, *this};
        }
    }
};

// "example.invalid", "invalid", "a.b.INVALID." (RFC 6761, section 6.4).
bool is_special_invalid(std::string_view host) noexcept {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    constexpr std::string_view kTld = "invalid";
    if (host.size() < kTld.size()) return false;
    const std::string_view tail = host.substr(host.size() - kTld.size());
    const bool match = std::equal(tail.begin(), tail.end(), kTld.begin(), [](char a, char b) {
        return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
    });
    return match && (host.size() == kTld.size() || host[host.size() - kTld.size() - 1] == '.');
}

struct FreeAddrinfo {
    void operator()(::addrinfo* p) const noexcept { ::freeaddrinfo(p); }
};

std::error_code gai_error(int rc, int saved_errno) noexcept {
    if (rc == EAI_SYSTEM) return errno_code(saved_errno != 0 ? saved_errno : EIO);
    return {rc, resolve_category()};
}

Result<std::vector<SocketAddr>> lookup(std::string_view host, std::uint16_t port, int flags) {
    if (host.empty() || host.find('\0') != std::string_view::npos) return error(std::errc::invalid_argument);
    // "[::1]" as in a URL: the brackets are not part of the address.
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string name(host);
    ::addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
    hints.ai_flags = flags;
    ::addrinfo* raw = nullptr;
    errno = 0;
    const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &raw);
    if (rc != 0) return std::unexpected(gai_error(rc, errno));
    const std::unique_ptr<::addrinfo, FreeAddrinfo> list(raw);
    std::vector<SocketAddr> out;
    for (const ::addrinfo* ai = raw; ai != nullptr; ai = ai->ai_next) {
        auto addr = SocketAddr::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
        if (!addr) continue;  // another family
        addr->set_port(port);
        if (std::find(out.begin(), out.end(), *addr) == out.end()) out.push_back(*addr);
    }
    if (out.empty()) return std::unexpected(make_error_code(ResolveErrc::no_address));
    return out;
}

}  // namespace

const std::error_category& resolve_category() noexcept {
    static const ResolveCategory category;
    return category;
}

Result<std::vector<SocketAddr>> resolve_numeric(std::string_view host, std::uint16_t port) {
    return lookup(host, port, AI_NUMERICHOST);
}

Result<std::vector<SocketAddr>> resolve(std::string_view host, std::uint16_t port) {
    auto numeric = resolve_numeric(host, port);
    if (numeric || numeric.error() != ResolveErrc::host_not_found) return numeric;
    if (is_special_invalid(host)) return numeric;  // host_not_found, with no lookup at all
    return lookup(host, port, 0);
}

}  // namespace pollux::net
