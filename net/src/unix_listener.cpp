// net/src/unix_listener.cpp
#include "pollux/net/unix_listener.hpp"

#include <sys/socket.h>

#include "socket_ops.hpp"
#include "unix_ops.hpp"

namespace pollux::net {

Result<UnixListener> UnixListener::bind(std::string_view path, const UnixBindOptions& options) {
    auto addr = UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return bind(*addr, options);
}

Result<UnixListener> UnixListener::bind(const UnixSocketAddr& addr, const UnixBindOptions& options) {
    auto fd = ops::new_socket(AF_UNIX, SOCK_STREAM);
    if (!fd) return std::unexpected(fd.error());
    if (auto r = ops::bind_unix(fd->get(), SOCK_STREAM, addr, options); !r) return std::unexpected(r.error());
    if (auto r = ops::listen(fd->get(), options.backlog); !r) return std::unexpected(r.error());
    return UnixListener(std::move(*fd));
}

Result<std::pair<UnixStream, UnixSocketAddr>> UnixListener::accept() const {
    return io_.do_io([](int fd) -> Result<std::pair<UnixStream, UnixSocketAddr>> {
        ::sockaddr_un sa{};
        ::socklen_t len = sizeof sa;
        const int conn = ::accept4(fd, reinterpret_cast<::sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0) return last_error();
        auto stream = UnixStream::from_fd(OwnedFd(conn));
        // mio's rule: a peer whose sun_path starts with NUL (unbound, or bound to an
        // abstract name) is reported as unnamed.
        auto peer = UnixSocketAddr::from_sockaddr(&sa, len);
        if (!peer || peer->kind() == UnixSocketAddr::Kind::Abstract) peer = UnixSocketAddr::unnamed();
        return std::pair{std::move(stream), *peer};
    });
}

Result<UnixSocketAddr> UnixListener::local_addr() const { return io_.do_io(ops::unix_local_addr); }

Result<std::optional<std::error_code>> UnixListener::take_error() const { return io_.do_io(ops::take_error); }

}  // namespace pollux::net
