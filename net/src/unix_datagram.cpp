// net/src/unix_datagram.cpp
#include "pollux/net/unix_datagram.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "socket_ops.hpp"
#include "unix_ops.hpp"

namespace pollux::net {
namespace {

// recvmsg with MSG_TRUNC: the return value is the datagram's full length even when
// the buffer was shorter; msg_flags carries MSG_TRUNC then.
Result<UnixRecvMeta> recv_meta(int fd, std::span<std::byte> buf) {
    ::sockaddr_un sa{};
    ::iovec iov{buf.data(), buf.size()};
    ::msghdr msg{};
    msg.msg_name = &sa;
    msg.msg_namelen = sizeof sa;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(fd, &msg, MSG_TRUNC);
    if (n < 0) return last_error();
    UnixRecvMeta meta;
    meta.full_size = static_cast<std::size_t>(n);
    meta.size = std::min(meta.full_size, buf.size());
    meta.truncated = (msg.msg_flags & MSG_TRUNC) != 0 || meta.full_size > buf.size();
    if (auto peer = UnixSocketAddr::from_sockaddr(&sa, msg.msg_namelen)) meta.peer = *peer;
    return meta;
}

}  // namespace

Result<UnixDatagram> UnixDatagram::bind(std::string_view path, const UnixBindOptions& options) {
    auto addr = UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return bind(*addr, options);
}

Result<UnixDatagram> UnixDatagram::bind(const UnixSocketAddr& addr, const UnixBindOptions& options) {
    auto sock = unbound();
    if (!sock) return sock;
    if (auto r = ops::bind_unix(sock->fd(), SOCK_DGRAM, addr, options); !r) return std::unexpected(r.error());
    return sock;
}

Result<UnixDatagram> UnixDatagram::unbound() {
    auto fd = ops::new_socket(AF_UNIX, SOCK_DGRAM);
    if (!fd) return std::unexpected(fd.error());
    return UnixDatagram(std::move(*fd));
}

Result<std::pair<UnixDatagram, UnixDatagram>> UnixDatagram::pair() {
    auto fds = ops::unix_pair(SOCK_DGRAM);
    if (!fds) return std::unexpected(fds.error());
    return std::pair{UnixDatagram(std::move(fds->first)), UnixDatagram(std::move(fds->second))};
}

Result<void> UnixDatagram::connect(std::string_view path) const {
    auto addr = UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return connect(*addr);
}

Result<void> UnixDatagram::connect(const UnixSocketAddr& addr) const {
    return io_.do_io([&](int fd) { return ops::connect_unix(fd, addr); });
}

Result<std::size_t> UnixDatagram::send_to(std::span<const std::byte> buf, const UnixSocketAddr& to) const {
    return io_.do_io([&](int fd) -> Result<std::size_t> {
        const ssize_t n = ::sendto(fd, buf.data(), buf.size(), MSG_NOSIGNAL, to.as_sockaddr(), to.len());
        if (n < 0) return last_error();
        return static_cast<std::size_t>(n);
    });
}

Result<std::size_t> UnixDatagram::send_to(std::span<const std::byte> buf, std::string_view path) const {
    auto addr = UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return send_to(buf, *addr);
}

Result<std::size_t> UnixDatagram::send(std::span<const std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::send(fd, buf); });
}

Result<UnixRecvMeta> UnixDatagram::recv_from(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) { return recv_meta(fd, buf); });
}

Result<UnixRecvMeta> UnixDatagram::recv(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) { return recv_meta(fd, buf); });
}

Result<void> UnixDatagram::shutdown(Shutdown how) const {
    return io_.do_io([&](int fd) { return ops::shutdown(fd, how); });
}

Result<UnixSocketAddr> UnixDatagram::local_addr() const { return io_.do_io(ops::unix_local_addr); }

Result<UnixSocketAddr> UnixDatagram::peer_addr() const { return io_.do_io(ops::unix_peer_addr); }

Result<std::optional<std::error_code>> UnixDatagram::take_error() const { return io_.do_io(ops::take_error); }

}  // namespace pollux::net
