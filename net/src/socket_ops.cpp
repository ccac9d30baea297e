// net/src/socket_ops.cpp
#include "socket_ops.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

namespace pollux::net::ops {

Result<OwnedFd> new_socket(int domain, int type, int protocol) {
    const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) return last_error();
    return OwnedFd(fd);
}

Result<void> set_int_option(int fd, int level, int name, int value) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) return last_error();
    return {};
}

Result<int> get_int_option(int fd, int level, int name) {
    int value = 0;
    ::socklen_t len = sizeof value;
    if (::getsockopt(fd, level, name, &value, &len) < 0) return last_error();
    return value;
}

Result<std::optional<std::error_code>> take_error(int fd) {
    auto err = get_int_option(fd, SOL_SOCKET, SO_ERROR);
    if (!err) return std::unexpected(err.error());
    if (*err == 0) return std::optional<std::error_code>{};
    return std::optional<std::error_code>{errno_code(*err)};
}

Result<void> shutdown(int fd, Shutdown how) {
    const int h = how == Shutdown::Read ? SHUT_RD : how == Shutdown::Write ? SHUT_WR : SHUT_RDWR;
    if (::shutdown(fd, h) < 0) return last_error();
    return {};
}

Result<void> connect(int fd, const ::sockaddr* addr, ::socklen_t len) {
    if (::connect(fd, addr, len) < 0 && errno != EINPROGRESS) return last_error();
    return {};
}

Result<void> bind(int fd, const ::sockaddr* addr, ::socklen_t len) {
    if (::bind(fd, addr, len) < 0) return last_error();
    return {};
}

Result<void> listen(int fd, int backlog) {
    if (::listen(fd, backlog) < 0) return last_error();
    return {};
}

Result<SocketAddr> local_addr(int fd) {
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<::sockaddr*>(&ss), &len) < 0) return last_error();
    return SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&ss), len);
}

Result<SocketAddr> peer_addr(int fd) {
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<::sockaddr*>(&ss), &len) < 0) return last_error();
    return SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&ss), len);
}

Result<void> set_nonblocking(int fd, bool on) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return last_error();
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) return last_error();
    return {};
}

Result<bool> is_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return last_error();
    return (flags & O_NONBLOCK) != 0;
}

Result<bool> is_cloexec(int fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return last_error();
    return (flags & FD_CLOEXEC) != 0;
}

Result<int> domain(int fd) { return get_int_option(fd, SOL_SOCKET, SO_DOMAIN); }

namespace {

struct TtlOption {
    int level;
    int name;
};

Result<TtlOption> ttl_option(int fd) {
    auto family = domain(fd);
    if (!family) return std::unexpected(family.error());
    if (*family == AF_INET6) return TtlOption{IPPROTO_IPV6, IPV6_UNICAST_HOPS};
    return TtlOption{IPPROTO_IP, IP_TTL};
}

}  // namespace

Result<void> set_ttl(int fd, std::uint32_t ttl) {
    if (ttl > 255) return error(std::errc::invalid_argument);
    auto opt = ttl_option(fd);
    if (!opt) return std::unexpected(opt.error());
    return set_int_option(fd, opt->level, opt->name, static_cast<int>(ttl));
}

Result<std::uint32_t> ttl(int fd) {
    auto opt = ttl_option(fd);
    if (!opt) return std::unexpected(opt.error());
    auto value = get_int_option(fd, opt->level, opt->name);
    if (!value) return std::unexpected(value.error());
    return static_cast<std::uint32_t>(*value);
}

}  // namespace pollux::net::ops
