// net/src/unix_ops.hpp — internal. Syscalls shared by the AF_UNIX types, beside the
// family-neutral ones in socket_ops.hpp.
#pragma once

#include <sys/socket.h>

#include <utility>

#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/net/unix_socket_addr.hpp"

namespace pollux::net::ops {

// Binds `fd` (a socket of `type`, SOCK_STREAM or SOCK_DGRAM) to `addr`. For a pathname
// the socket file is created with exactly `options.mode` and never exists with wider
// bits; an existing file is handled as UnixBindOptions documents. Abstract and unnamed
// addresses are a plain bind(2) (unnamed = Linux autobind).
Result<void> bind_unix(int fd, int type, const UnixSocketAddr& addr, const UnixBindOptions& options);

// connect(2) to `addr`; EINPROGRESS counts as success, EAGAIN (backlog full) is returned.
Result<void> connect_unix(int fd, const UnixSocketAddr& addr);

// getsockname / getpeername as UnixSocketAddr (from_sockaddr rules).
Result<UnixSocketAddr> unix_local_addr(int fd);
Result<UnixSocketAddr> unix_peer_addr(int fd);

// socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC).
Result<std::pair<OwnedFd, OwnedFd>> unix_pair(int type);

}  // namespace pollux::net::ops
