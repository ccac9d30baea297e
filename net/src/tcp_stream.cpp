// net/src/tcp_stream.cpp
#include "pollux/net/tcp_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <climits>
#include <algorithm>

#include "socket_ops.hpp"

namespace pollux::net {
namespace {

// Buffer sizes travel as int through setsockopt; larger requests are clamped by the
// kernel anyway (net.core.{w,r}mem_max), so saturate instead of wrapping.
int clamp_to_int(std::size_t bytes) noexcept {
    return bytes > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(bytes);
}

Result<std::size_t> get_size_option(int fd, int name) {
    auto value = ops::get_int_option(fd, SOL_SOCKET, name);
    if (!value) return std::unexpected(value.error());
    return static_cast<std::size_t>(*value);
}

// sendmsg/recvmsg refuse more than IOV_MAX slices (EMSGSIZE). On a stream a shorter
// transfer is the ordinary partial read/write, so use the first IOV_MAX slices.
template <class Slice>
std::span<Slice> at_most_iov_max(std::span<Slice> bufs) noexcept {
    return bufs.first(std::min<std::size_t>(bufs.size(), IOV_MAX));
}

Result<bool> get_bool_option(int fd, int level, int name) {
    auto value = ops::get_int_option(fd, level, name);
    if (!value) return std::unexpected(value.error());
    return *value != 0;
}

}  // namespace

Result<TcpStream> TcpStream::connect(const SocketAddr& addr) {
    auto fd = ops::new_socket(addr.family(), SOCK_STREAM);
    if (!fd) return std::unexpected(fd.error());
    if (auto r = ops::connect(fd->get(), addr.as_sockaddr(), addr.len()); !r) return std::unexpected(r.error());
    return TcpStream(std::move(*fd));
}

Result<std::size_t> TcpStream::read(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::recv(fd, buf); });
}

Result<std::size_t> TcpStream::write(std::span<const std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::send(fd, buf); });
}

Result<std::size_t> TcpStream::read_vectored(std::span<IoSliceMut> bufs) const {
    return io_.do_io([&](int fd) { return ops::recv_vectored(fd, at_most_iov_max(bufs)); });
}

Result<std::size_t> TcpStream::write_vectored(std::span<const IoSlice> bufs) const {
    return io_.do_io([&](int fd) { return ops::send_vectored(fd, at_most_iov_max(bufs)); });
}

Result<std::size_t> TcpStream::peek(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::recv(fd, buf, MSG_PEEK); });
}

Result<void> TcpStream::shutdown(Shutdown how) const {
    return io_.do_io([&](int fd) { return ops::shutdown(fd, how); });
}

Result<SocketAddr> TcpStream::peer_addr() const {
    return io_.do_io([](int fd) { return ops::peer_addr(fd); });
}

Result<SocketAddr> TcpStream::local_addr() const {
    return io_.do_io([](int fd) { return ops::local_addr(fd); });
}

Result<void> TcpStream::set_nodelay(bool on) const {
    return io_.do_io([&](int fd) { return ops::set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); });
}

Result<bool> TcpStream::nodelay() const {
    return io_.do_io([](int fd) { return get_bool_option(fd, IPPROTO_TCP, TCP_NODELAY); });
}

Result<void> TcpStream::set_ttl(std::uint32_t ttl) const {
    return io_.do_io([&](int fd) { return ops::set_ttl(fd, ttl); });
}

Result<std::uint32_t> TcpStream::ttl() const {
    return io_.do_io([](int fd) { return ops::ttl(fd); });
}

Result<void> TcpStream::set_keepalive(bool on, const KeepaliveOptions& options) const {
    return io_.do_io([&](int fd) -> Result<void> {
        if (options.idle.count() < 0 || options.interval.count() < 0 || options.count < 0 ||
            options.idle.count() > INT_MAX || options.interval.count() > INT_MAX) {
            return error(std::errc::invalid_argument);
        }
        // Timing first, so that a rejected value leaves SO_KEEPALIVE as it was.
        if (options.idle.count() > 0) {
            const int idle = static_cast<int>(options.idle.count());
            if (auto r = ops::set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle); !r) return r;
        }
        if (options.interval.count() > 0) {
            const int interval = static_cast<int>(options.interval.count());
            if (auto r = ops::set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval); !r) return r;
        }
        if (options.count > 0) {
            if (auto r = ops::set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, options.count); !r) return r;
        }
        return ops::set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
    });
}

Result<bool> TcpStream::keepalive() const {
    return io_.do_io([](int fd) { return get_bool_option(fd, SOL_SOCKET, SO_KEEPALIVE); });
}

Result<KeepaliveOptions> TcpStream::keepalive_options() const {
    return io_.do_io([](int fd) -> Result<KeepaliveOptions> {
        auto idle = ops::get_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE);
        if (!idle) return std::unexpected(idle.error());
        auto interval = ops::get_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL);
        if (!interval) return std::unexpected(interval.error());
        auto count = ops::get_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT);
        if (!count) return std::unexpected(count.error());
        return KeepaliveOptions{std::chrono::seconds(*idle), std::chrono::seconds(*interval), *count};
    });
}

Result<void> TcpStream::set_send_buffer_size(std::size_t bytes) const {
    return io_.do_io([&](int fd) { return ops::set_int_option(fd, SOL_SOCKET, SO_SNDBUF, clamp_to_int(bytes)); });
}

Result<std::size_t> TcpStream::send_buffer_size() const {
    return io_.do_io([](int fd) { return get_size_option(fd, SO_SNDBUF); });
}

Result<void> TcpStream::set_recv_buffer_size(std::size_t bytes) const {
    return io_.do_io([&](int fd) { return ops::set_int_option(fd, SOL_SOCKET, SO_RCVBUF, clamp_to_int(bytes)); });
}

Result<std::size_t> TcpStream::recv_buffer_size() const {
    return io_.do_io([](int fd) { return get_size_option(fd, SO_RCVBUF); });
}

Result<void> TcpStream::set_linger(std::optional<std::chrono::seconds> linger) const {
    return io_.do_io([&](int fd) -> Result<void> {
        ::linger value{};
        if (linger) {
            if (linger->count() < 0 || linger->count() > INT_MAX) return error(std::errc::invalid_argument);
            value.l_onoff = 1;
            value.l_linger = static_cast<int>(linger->count());
        }
        if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof value) < 0) return last_error();
        return {};
    });
}

Result<std::optional<std::chrono::seconds>> TcpStream::linger() const {
    return io_.do_io([](int fd) -> Result<std::optional<std::chrono::seconds>> {
        ::linger value{};
        ::socklen_t len = sizeof value;
        if (::getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &len) < 0) return last_error();
        if (value.l_onoff == 0) return std::optional<std::chrono::seconds>{};
        return std::optional<std::chrono::seconds>{std::chrono::seconds(value.l_linger)};
    });
}

Result<void> TcpStream::set_nonblocking(bool on) const {
    return io_.do_io([&](int fd) { return ops::set_nonblocking(fd, on); });
}

Result<std::optional<std::error_code>> TcpStream::take_error() const {
    return io_.do_io([](int fd) { return ops::take_error(fd); });
}

}  // namespace pollux::net
