// net/src/tcp_listener.cpp
#include "pollux/net/tcp_listener.hpp"

#include <sys/socket.h>

#include "socket_ops.hpp"

namespace pollux::net {
namespace {

Result<TcpListener> bind_with(const SocketAddr& addr, int backlog, bool reuseport) {
    auto fd = ops::new_socket(addr.family(), SOCK_STREAM);
    if (!fd) return std::unexpected(fd.error());
    const int s = fd->get();
    if (auto r = ops::set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1); !r) return std::unexpected(r.error());
    if (reuseport) {
        if (auto r = ops::set_int_option(s, SOL_SOCKET, SO_REUSEPORT, 1); !r) return std::unexpected(r.error());
    }
    if (auto r = ops::bind(s, addr.as_sockaddr(), addr.len()); !r) return std::unexpected(r.error());
    if (auto r = ops::listen(s, backlog); !r) return std::unexpected(r.error());
    return TcpListener::from_fd(std::move(*fd));
}

Result<OwnedFd> accept_fd(int listener, ::sockaddr* addr, ::socklen_t* len) {
    const int fd = ::accept4(listener, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return last_error();
    return OwnedFd(fd);
}

}  // namespace

Result<TcpListener> TcpListener::bind(const SocketAddr& addr, int backlog) {
    return bind_with(addr, backlog, false);
}

Result<TcpListener> TcpListener::bind_reuseport(const SocketAddr& addr, int backlog) {
    return bind_with(addr, backlog, true);
}

Result<std::pair<TcpStream, SocketAddr>> TcpListener::accept() const {
    return io_.do_io([](int listener) -> Result<std::pair<TcpStream, SocketAddr>> {
        ::sockaddr_storage storage{};
        ::socklen_t len = sizeof storage;
        auto fd = accept_fd(listener, reinterpret_cast<::sockaddr*>(&storage), &len);
        if (!fd) return std::unexpected(fd.error());
        auto peer = SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&storage), len);
        if (!peer) return std::unexpected(peer.error());  // the stream closes here
        return std::pair{TcpStream::from_fd(std::move(*fd)), *peer};
    });
}

Result<TcpStream> TcpListener::accept_stream() const {
    return io_.do_io([](int listener) -> Result<TcpStream> {
        auto fd = accept_fd(listener, nullptr, nullptr);
        if (!fd) return std::unexpected(fd.error());
        return TcpStream::from_fd(std::move(*fd));
    });
}

Result<SocketAddr> TcpListener::local_addr() const {
    return io_.do_io([](int fd) { return ops::local_addr(fd); });
}

Result<void> TcpListener::set_ttl(std::uint32_t ttl) const {
    return io_.do_io([&](int fd) { return ops::set_ttl(fd, ttl); });
}

Result<std::uint32_t> TcpListener::ttl() const {
    return io_.do_io([](int fd) { return ops::ttl(fd); });
}

Result<void> TcpListener::set_nonblocking(bool on) const {
    return io_.do_io([&](int fd) { return ops::set_nonblocking(fd, on); });
}

Result<std::optional<std::error_code>> TcpListener::take_error() const {
    return io_.do_io([](int fd) { return ops::take_error(fd); });
}

}  // namespace pollux::net
