// pollux/net/unix_socket_addr.hpp — public.
//
// `UnixSocketAddr` is the address of an AF_UNIX socket (std's os::unix::net::SocketAddr,
// which mio 1.x uses). It has one of three kinds:
//
//   pathname  "/run/app.sock"   a file in the filesystem; reaching it needs write
//                               permission on the file and search permission on every
//                               directory above it.
//   abstract  @name (Linux)     a name in the network namespace's abstract table, with
//                               no file and NO permission check at all: any process in
//                               the same network namespace can connect. The name is
//                               the bytes after the leading NUL, exactly as long as
//                               given (NULs inside it, or trailing, are part of it).
//   unnamed                     no address: a socketpair end, or a socket that was
//                               never bound (typical of connecting clients).
//
// Limits. `sun_path` holds 108 bytes. A pathname needs its terminating NUL in there, so
// at most 107 bytes; an abstract name needs the leading NUL, so at most 107 bytes too.
// Longer input is refused with ENAMETOOLONG (`std::errc::filename_too_long`); nothing
// is ever truncated (a truncated path could name a different, attacker-chosen file).
//
// Lengths handed to the kernel (`len()`), as mio's sockaddr_un rules:
//   pathname  offsetof(sun_path) + strlen(path) + 1   (the NUL is counted)
//   abstract  offsetof(sun_path) + 1 + name length    (no trailing NUL)
//   unnamed   offsetof(sun_path)
//
// Reading an address back from the kernel (`from_sockaddr`, used by local_addr,
// peer_addr and recv_from): length == offsetof(sun_path) gives unnamed; sun_path[0] ==
// 0 gives abstract (name = the remaining addrlen bytes); otherwise a pathname, cut at
// its first NUL. `UnixListener::accept` differs on purpose, see unix_listener.hpp.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pollux/core/result.hpp"

namespace pollux::net {

class UnixSocketAddr {
public:
    enum class Kind { Unnamed, Pathname, Abstract };

    // Longest pathname and longest abstract name (bytes).
    static constexpr std::size_t kMaxPathname = sizeof(::sockaddr_un::sun_path) - 1;
    static constexpr std::size_t kMaxAbstractName = sizeof(::sockaddr_un::sun_path) - 1;

    // Unnamed.
    UnixSocketAddr() noexcept { addr_.sun_family = AF_UNIX; }

    // ENAMETOOLONG over kMaxPathname bytes; EINVAL for an empty path or one containing
    // a NUL byte (the kernel would silently stop at the NUL).
    static Result<UnixSocketAddr> from_pathname(std::string_view path);
    // ENAMETOOLONG over kMaxAbstractName bytes. Any bytes are allowed, the empty name too.
    static Result<UnixSocketAddr> from_abstract_name(std::span<const std::byte> name);
    static Result<UnixSocketAddr> from_abstract_name(std::string_view name);
    static UnixSocketAddr unnamed() noexcept { return {}; }

    // From a kernel sockaddr (rules in the header comment). EAFNOSUPPORT when the
    // family is not AF_UNIX; EINVAL for a null pointer or a length shorter than
    // offsetof(sun_path) or longer than sizeof(sockaddr_un).
    static Result<UnixSocketAddr> from_sockaddr(const ::sockaddr_un* addr, ::socklen_t len);

    Kind kind() const noexcept;
    bool is_unnamed() const noexcept { return kind() == Kind::Unnamed; }
    // The path, for a pathname address (without the NUL).
    std::optional<std::string_view> as_pathname() const noexcept;
    // The name without its leading NUL, for an abstract address.
    std::optional<std::span<const std::byte>> as_abstract_name() const noexcept;

    const ::sockaddr* as_sockaddr() const noexcept { return reinterpret_cast<const ::sockaddr*>(&addr_); }
    ::socklen_t len() const noexcept { return len_; }

    // `"/tmp/x.sock"` (quoted; `"` and `\` escaped), `@name (abstract)`, `(unnamed)`.
    // Bytes outside printable ASCII print as \xNN.
    std::string to_string() const;

    friend bool operator==(const UnixSocketAddr& a, const UnixSocketAddr& b) noexcept;

private:
    ::sockaddr_un addr_{};
    ::socklen_t len_ = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path));
};

std::ostream& operator<<(std::ostream& os, const UnixSocketAddr& addr);

// How `UnixListener::bind` and `UnixDatagram::bind` create a pathname socket. Abstract
// and unnamed addresses have no file, so only `backlog` applies to them.
struct UnixBindOptions {
    // Permission bits of the socket file (0 to 0777, else EINVAL). The file is created
    // with exactly these bits and is never visible with wider ones, whatever the
    // process umask (see docs/net.md, "Unix sockets"). Connecting needs write permission.
    ::mode_t mode = 0600;
    // A socket file at the path that nobody listens on any more (connect gives
    // ECONNREFUSED) is "stale". Off: bind fails with EADDRINUSE. On: the stale file is
    // unlinked and the bind retried once. A live socket is never replaced, and a file
    // that is not a socket is never unlinked: both give EADDRINUSE.
    bool replace_stale = false;
    // listen(2) backlog for UnixListener (the kernel caps it at net.core.somaxconn).
    int backlog = 1024;
};

}  // namespace pollux::net
