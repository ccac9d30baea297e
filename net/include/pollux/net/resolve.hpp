// pollux/net/resolve.hpp — public.
//
// Name resolution: a host name or numeric address plus a port, to the socket addresses
// to try, in order.
//
//     auto addrs = net::resolve("localhost", 8080);     // blocking: never on a reactor
//     if (!addrs) std::fprintf(stderr, "localhost: %s\n", addrs.error().message().c_str());
//
// * `resolve` is getaddrinfo(3) and **blocks**: /etc/hosts, then DNS as nsswitch.conf
//   says, for as long as the resolver's timeouts allow (seconds when a name server does
//   not answer). Never call it on a reactor thread; `pollux::reactor::Resolver`
//   (reactor/resolver.hpp) runs it on a thread of its own and posts the answer back.
// * A numeric host ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0") is parsed with
//   AI_NUMERICHOST first and never reaches DNS. `resolve_numeric` does only that, and so
//   never blocks.
// * Names under the special-use domain `.invalid` (RFC 6761) fail at once with
//   `ResolveErrc::host_not_found`, without asking getaddrinfo.
// * The result lists IPv4 and IPv6 addresses in getaddrinfo's order (RFC 6724, as
//   /etc/gai.conf adjusts it), one entry per address (SOCK_STREAM), duplicates removed.
//   AI_ADDRCONFIG is not used, so "localhost" gives its loopback addresses even on a
//   host with no other interface.
// * Errors. getaddrinfo's EAI_* codes come back in `resolve_category()` (name
//   "resolve"); `message()` is gai_strerror's text, e.g. "Name or service not known".
//   Compare with `ResolveErrc`: `ec == net::ResolveErrc::host_not_found`. They map to
//   the nearest POSIX condition where one exists (try_again ~ EAGAIN, out_of_memory ~
//   ENOMEM, family ~ EAFNOSUPPORT). EAI_SYSTEM comes back as the errno it carries, in
//   the system category. An empty host or one with a NUL byte is
//   `std::errc::invalid_argument`.
#pragma once

#include <netdb.h>

#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/net/socket_addr.hpp"

namespace pollux::net {

// getaddrinfo's failures, by their EAI_* values.
enum class ResolveErrc {
    host_not_found = EAI_NONAME,  // no such name (NXDOMAIN), or a name given to resolve_numeric
    no_address = EAI_NODATA,      // the name exists but has no address
    try_again = EAI_AGAIN,        // temporary: the name server did not answer (~ EAGAIN)
    failed = EAI_FAIL,            // permanent name server failure
    family = EAI_FAMILY,          // ~ EAFNOSUPPORT
    address_family = EAI_ADDRFAMILY,  // the host has no address in the requested family
    out_of_memory = EAI_MEMORY,   // ~ ENOMEM
    bad_flags = EAI_BADFLAGS,
    service = EAI_SERVICE,
    socket_type = EAI_SOCKTYPE,
};

const std::error_category& resolve_category() noexcept;

inline std::error_code make_error_code(ResolveErrc e) noexcept {
    return {static_cast<int>(e), resolve_category()};
}

// The addresses of `host` with `port`: IPv4 and IPv6, in getaddrinfo's order. Blocks.
Result<std::vector<SocketAddr>> resolve(std::string_view host, std::uint16_t port);

// The same for a numeric host only (AI_NUMERICHOST): one address, never any I/O.
// `ResolveErrc::host_not_found` for a name.
Result<std::vector<SocketAddr>> resolve_numeric(std::string_view host, std::uint16_t port);

}  // namespace pollux::net

template <>
struct std::is_error_code_enum<pollux::net::ResolveErrc> : std::true_type {};
