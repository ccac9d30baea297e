// net/src/socket_ops.hpp — internal. The socket syscalls every net type shares, each
// returning Result. All fds are created SOCK_NONBLOCK | SOCK_CLOEXEC; every send
// passes MSG_NOSIGNAL so a closed peer yields EPIPE, never SIGPIPE.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "pollux/core/detail/syscall.hpp"
#include "pollux/core/io_slice.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/net/shutdown.hpp"
#include "pollux/net/socket_addr.hpp"

namespace pollux::net::ops {

// socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol).
Result<OwnedFd> new_socket(int domain, int type, int protocol = 0);

// setsockopt / getsockopt for int-sized options.
Result<void> set_int_option(int fd, int level, int name, int value);
Result<int> get_int_option(int fd, int level, int name);

// SO_ERROR, cleared by the read: empty optional when there is no pending error.
Result<std::optional<std::error_code>> take_error(int fd);

Result<void> shutdown(int fd, Shutdown how);

// connect(2); EINPROGRESS counts as success (the connect goes on in the background).
Result<void> connect(int fd, const ::sockaddr* addr, ::socklen_t len);
Result<void> bind(int fd, const ::sockaddr* addr, ::socklen_t len);
Result<void> listen(int fd, int backlog);

Result<SocketAddr> local_addr(int fd);
Result<SocketAddr> peer_addr(int fd);

// The data path: inline, straight to the kernel (pollux/core/detail/syscall.hpp says
// why), one per message.
namespace detail_ {
inline Result<std::size_t> io_result(long n) noexcept {
    if (n < 0) [[unlikely]] return std::unexpected(errno_code(static_cast<int>(-n)));
    return static_cast<std::size_t>(n);
}
}  // namespace detail_

// send(2)/recv(2); send always adds MSG_NOSIGNAL.
inline Result<std::size_t> send(int fd, std::span<const std::byte> buf, int flags = 0) noexcept {
    return detail_::io_result(pollux::detail::sys_send(fd, buf.data(), buf.size(), flags | MSG_NOSIGNAL));
}
inline Result<std::size_t> recv(int fd, std::span<std::byte> buf, int flags = 0) noexcept {
    return detail_::io_result(pollux::detail::sys_recv(fd, buf.data(), buf.size(), flags));
}
// sendmsg/recvmsg over several slices; sendmsg adds MSG_NOSIGNAL.
inline Result<std::size_t> send_vectored(int fd, std::span<const IoSlice> bufs, int flags = 0) noexcept {
    ::msghdr msg{};
    msg.msg_iov = const_cast<::iovec*>(as_iovec(bufs));
    msg.msg_iovlen = bufs.size();
    return detail_::io_result(pollux::detail::sys_sendmsg(fd, &msg, flags | MSG_NOSIGNAL));
}
inline Result<std::size_t> recv_vectored(int fd, std::span<IoSliceMut> bufs, int flags = 0) noexcept {
    ::msghdr msg{};
    msg.msg_iov = as_iovec(bufs);
    msg.msg_iovlen = bufs.size();
    return detail_::io_result(pollux::detail::sys_recvmsg(fd, &msg, flags));
}

// fcntl(O_NONBLOCK) on or off; and whether FD_CLOEXEC / O_NONBLOCK are set (tests).
Result<void> set_nonblocking(int fd, bool on);
Result<bool> is_nonblocking(int fd);
Result<bool> is_cloexec(int fd);

// SO_DOMAIN: the socket's address family (AF_INET, AF_INET6, AF_UNIX).
Result<int> domain(int fd);
// The hop limit of outgoing unicast packets: IP_TTL on AF_INET sockets,
// IPV6_UNICAST_HOPS on AF_INET6 sockets.
Result<void> set_ttl(int fd, std::uint32_t ttl);
Result<std::uint32_t> ttl(int fd);

}  // namespace pollux::net::ops
