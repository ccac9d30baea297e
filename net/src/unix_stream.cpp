// net/src/unix_stream.cpp
#include "pollux/net/unix_stream.hpp"

#include <sys/socket.h>

#include "socket_ops.hpp"
#include "unix_ops.hpp"

namespace pollux::net {

Result<UnixStream> UnixStream::connect(std::string_view path) {
    auto addr = UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return connect(*addr);
}

Result<UnixStream> UnixStream::connect(const UnixSocketAddr& addr) {
    auto fd = ops::new_socket(AF_UNIX, SOCK_STREAM);
    if (!fd) return std::unexpected(fd.error());
    if (auto r = ops::connect_unix(fd->get(), addr); !r) return std::unexpected(r.error());
    return UnixStream(std::move(*fd));
}

Result<std::pair<UnixStream, UnixStream>> UnixStream::pair() {
    auto fds = ops::unix_pair(SOCK_STREAM);
    if (!fds) return std::unexpected(fds.error());
    return std::pair{UnixStream(std::move(fds->first)), UnixStream(std::move(fds->second))};
}

Result<std::size_t> UnixStream::read(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::recv(fd, buf); });
}

Result<std::size_t> UnixStream::write(std::span<const std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::send(fd, buf); });
}

Result<std::size_t> UnixStream::read_vectored(std::span<IoSliceMut> bufs) const {
    return io_.do_io([&](int fd) { return ops::recv_vectored(fd, bufs); });
}

Result<std::size_t> UnixStream::write_vectored(std::span<const IoSlice> bufs) const {
    return io_.do_io([&](int fd) { return ops::send_vectored(fd, bufs); });
}

Result<void> UnixStream::shutdown(Shutdown how) const {
    return io_.do_io([&](int fd) { return ops::shutdown(fd, how); });
}

Result<UnixSocketAddr> UnixStream::local_addr() const { return io_.do_io(ops::unix_local_addr); }

Result<UnixSocketAddr> UnixStream::peer_addr() const { return io_.do_io(ops::unix_peer_addr); }

Result<PeerCredentials> UnixStream::peer_credentials() const {
    return io_.do_io([](int fd) -> Result<PeerCredentials> {
        ::ucred cred{};
        ::socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return last_error();
        return PeerCredentials{cred.pid, cred.uid, cred.gid};
    });
}

Result<std::optional<std::error_code>> UnixStream::take_error() const { return io_.do_io(ops::take_error); }

}  // namespace pollux::net
