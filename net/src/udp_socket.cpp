// net/src/udp_socket.cpp
#include "pollux/net/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "socket_ops.hpp"

namespace pollux::net {
namespace {

// The RecvMeta for one recvmsg/recvmmsg result made with MSG_TRUNC: the kernel returns
// the datagram's full length and copies at most `capacity` bytes.
RecvMeta make_meta(std::size_t full, std::size_t capacity, int msg_flags, const ::sockaddr_storage& name,
                   ::socklen_t name_len) {
    RecvMeta meta;
    meta.full_size = full;
    meta.size = std::min(full, capacity);
    meta.truncated = (msg_flags & MSG_TRUNC) != 0 || full > capacity;
    const ::socklen_t len = std::min<::socklen_t>(name_len, sizeof name);
    if (auto peer = SocketAddr::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&name), len)) {
        meta.peer = *peer;
    }
    return meta;
}

Result<void> set_bool(int fd, int level, int name, bool on) { return ops::set_int_option(fd, level, name, on ? 1 : 0); }

// GCC 12's std::expected has no transform(), hence the explicit unwrapping below.
Result<bool> get_bool(int fd, int level, int name) {
    auto v = ops::get_int_option(fd, level, name);
    if (!v) return std::unexpected(v.error());
    return *v != 0;
}

Result<void> set_u32(int fd, int level, int name, std::uint32_t value) {
    if (value > static_cast<std::uint32_t>(INT_MAX)) return error(std::errc::invalid_argument);
    return ops::set_int_option(fd, level, name, static_cast<int>(value));
}

Result<std::uint32_t> get_u32(int fd, int level, int name) {
    auto v = ops::get_int_option(fd, level, name);
    if (!v) return std::unexpected(v.error());
    return static_cast<std::uint32_t>(*v);
}

Result<void> set_size(int fd, int name, std::size_t bytes) {
    if (bytes > static_cast<std::size_t>(INT_MAX)) return error(std::errc::invalid_argument);
    return ops::set_int_option(fd, SOL_SOCKET, name, static_cast<int>(bytes));
}

Result<std::size_t> get_size(int fd, int name) {
    auto v = ops::get_int_option(fd, SOL_SOCKET, name);
    if (!v) return std::unexpected(v.error());
    return static_cast<std::size_t>(*v);
}

::in_addr to_in_addr(Ipv4Addr ip) {
    ::in_addr a{};
    std::memcpy(&a.s_addr, ip.octets.data(), 4);  // octets are already network order
    return a;
}

Result<void> membership_v4(int fd, int name, Ipv4Addr group, Ipv4Addr iface) {
    ::ip_mreq mreq{};
    mreq.imr_multiaddr = to_in_addr(group);
    mreq.imr_interface = to_in_addr(iface);
    if (::setsockopt(fd, IPPROTO_IP, name, &mreq, sizeof mreq) < 0) return last_error();
    return {};
}

Result<void> membership_v6(int fd, int name, Ipv6Addr group, std::uint32_t ifindex) {
    ::ipv6_mreq mreq{};
    std::memcpy(&mreq.ipv6mr_multiaddr, group.octets.data(), 16);
    mreq.ipv6mr_interface = ifindex;
    if (::setsockopt(fd, IPPROTO_IPV6, name, &mreq, sizeof mreq) < 0) return last_error();
    return {};
}

}  // namespace

Result<UdpSocket> UdpSocket::bind(const SocketAddr& addr, const UdpOptions& options) {
    if (options.only_v6 && !addr.is_ipv6()) return error(std::errc::invalid_argument);
    auto fd = ops::new_socket(addr.family(), SOCK_DGRAM);
    if (!fd) return std::unexpected(fd.error());
    const int s = fd->get();
    if (addr.is_ipv6()) {
        if (auto r = set_bool(s, IPPROTO_IPV6, IPV6_V6ONLY, options.only_v6); !r) return std::unexpected(r.error());
    }
    if (options.reuse_addr) {
        if (auto r = set_bool(s, SOL_SOCKET, SO_REUSEADDR, true); !r) return std::unexpected(r.error());
    }
    if (options.reuse_port) {
        if (auto r = set_bool(s, SOL_SOCKET, SO_REUSEPORT, true); !r) return std::unexpected(r.error());
    }
    if (auto r = ops::bind(s, addr.as_sockaddr(), addr.len()); !r) return std::unexpected(r.error());
    return UdpSocket(std::move(*fd));
}

// ---- Single datagrams ---------------------------------------------------------------

Result<std::size_t> UdpSocket::send_to(std::span<const std::byte> buf, const SocketAddr& target) const {
    return io_.do_io([&](int fd) -> Result<std::size_t> {
        const ssize_t n = ::sendto(fd, buf.data(), buf.size(), MSG_NOSIGNAL, target.as_sockaddr(), target.len());
        if (n < 0) return last_error();
        return static_cast<std::size_t>(n);
    });
}

Result<RecvMeta> UdpSocket::recv_with(std::span<std::byte> buf, int flags) const {
    return io_.do_io([&](int fd) -> Result<RecvMeta> {
        ::sockaddr_storage name{};
        ::iovec iov{buf.data(), buf.size()};
        ::msghdr msg{};
        msg.msg_name = &name;
        msg.msg_namelen = sizeof name;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const ssize_t n = ::recvmsg(fd, &msg, flags | MSG_TRUNC);
        if (n < 0) return last_error();
        return make_meta(static_cast<std::size_t>(n), buf.size(), msg.msg_flags, name, msg.msg_namelen);
    });
}

Result<RecvMeta> UdpSocket::recv_from(std::span<std::byte> buf) const { return recv_with(buf, 0); }
Result<RecvMeta> UdpSocket::peek_from(std::span<std::byte> buf) const { return recv_with(buf, MSG_PEEK); }
Result<RecvMeta> UdpSocket::recv(std::span<std::byte> buf) const { return recv_with(buf, 0); }
Result<RecvMeta> UdpSocket::peek(std::span<std::byte> buf) const { return recv_with(buf, MSG_PEEK); }

Result<void> UdpSocket::connect(const SocketAddr& addr) const {
    return io_.do_io([&](int fd) { return ops::connect(fd, addr.as_sockaddr(), addr.len()); });
}

Result<std::size_t> UdpSocket::send(std::span<const std::byte> buf) const {
    return io_.do_io([&](int fd) { return ops::send(fd, buf); });
}

// ---- Batches ------------------------------------------------------------------------
// One syscall per call; the kernel-facing arrays live on this stack frame.

Result<std::size_t> UdpSocket::recv_many(std::span<RecvSlot> slots) const {
    return io_.do_io([&](int fd) -> Result<std::size_t> {
        const std::size_t n = std::min(slots.size(), kMaxBatch);
        if (n == 0) return std::size_t{0};
        std::array<::mmsghdr, kMaxBatch> msgs;
        std::array<::iovec, kMaxBatch> iovs;
        std::array<::sockaddr_storage, kMaxBatch> names;
        for (std::size_t i = 0; i < n; ++i) {
            iovs[i] = {slots[i].buf.data(), slots[i].buf.size()};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = sizeof names[i];
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int got = ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT | MSG_TRUNC, nullptr);
        if (got < 0) return last_error();
        const auto count = static_cast<std::size_t>(got);
        for (std::size_t i = 0; i < count; ++i) {
            const ::msghdr& h = msgs[i].msg_hdr;
            slots[i].meta = make_meta(msgs[i].msg_len, slots[i].buf.size(), h.msg_flags, names[i], h.msg_namelen);
        }
        return count;
    });
}

Result<std::size_t> UdpSocket::send_many(std::span<const SendSlot> slots) const {
    return io_.do_io([&](int fd) -> Result<std::size_t> {
        const std::size_t n = std::min(slots.size(), kMaxBatch);
        if (n == 0) return std::size_t{0};
        std::array<::mmsghdr, kMaxBatch> msgs;
        std::array<::iovec, kMaxBatch> iovs;
        for (std::size_t i = 0; i < n; ++i) {
            const SendSlot& s = slots[i];
            iovs[i] = {const_cast<std::byte*>(s.buf.data()), s.buf.size()};
            msgs[i] = {};
            if (s.to != nullptr) {
                msgs[i].msg_hdr.msg_name = const_cast<::sockaddr*>(s.to->as_sockaddr());
                msgs[i].msg_hdr.msg_namelen = s.to->len();
            }
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int sent = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) return last_error();
        return static_cast<std::size_t>(sent);
    });
}

// ---- Addresses and options ----------------------------------------------------------

Result<SocketAddr> UdpSocket::local_addr() const { return io_.do_io(ops::local_addr); }
Result<SocketAddr> UdpSocket::peer_addr() const { return io_.do_io(ops::peer_addr); }

Result<void> UdpSocket::set_broadcast(bool on) const {
    return io_.do_io([&](int fd) { return set_bool(fd, SOL_SOCKET, SO_BROADCAST, on); });
}
Result<bool> UdpSocket::broadcast() const {
    return io_.do_io([](int fd) { return get_bool(fd, SOL_SOCKET, SO_BROADCAST); });
}
Result<void> UdpSocket::set_ttl(std::uint32_t ttl) const {
    return io_.do_io([&](int fd) { return set_u32(fd, IPPROTO_IP, IP_TTL, ttl); });
}
Result<std::uint32_t> UdpSocket::ttl() const {
    return io_.do_io([](int fd) { return get_u32(fd, IPPROTO_IP, IP_TTL); });
}
Result<bool> UdpSocket::only_v6() const {
    return io_.do_io([](int fd) { return get_bool(fd, IPPROTO_IPV6, IPV6_V6ONLY); });
}

Result<void> UdpSocket::set_send_buffer_size(std::size_t bytes) const {
    return io_.do_io([&](int fd) { return set_size(fd, SO_SNDBUF, bytes); });
}
Result<std::size_t> UdpSocket::send_buffer_size() const {
    return io_.do_io([](int fd) { return get_size(fd, SO_SNDBUF); });
}
Result<void> UdpSocket::set_recv_buffer_size(std::size_t bytes) const {
    return io_.do_io([&](int fd) { return set_size(fd, SO_RCVBUF, bytes); });
}
Result<std::size_t> UdpSocket::recv_buffer_size() const {
    return io_.do_io([](int fd) { return get_size(fd, SO_RCVBUF); });
}

// ---- Multicast ----------------------------------------------------------------------

Result<void> UdpSocket::join_multicast_v4(Ipv4Addr group, Ipv4Addr iface) const {
    return io_.do_io([&](int fd) { return membership_v4(fd, IP_ADD_MEMBERSHIP, group, iface); });
}
Result<void> UdpSocket::leave_multicast_v4(Ipv4Addr group, Ipv4Addr iface) const {
    return io_.do_io([&](int fd) { return membership_v4(fd, IP_DROP_MEMBERSHIP, group, iface); });
}
Result<void> UdpSocket::join_multicast_v6(Ipv6Addr group, std::uint32_t ifindex) const {
    return io_.do_io([&](int fd) { return membership_v6(fd, IPV6_ADD_MEMBERSHIP, group, ifindex); });
}
Result<void> UdpSocket::leave_multicast_v6(Ipv6Addr group, std::uint32_t ifindex) const {
    return io_.do_io([&](int fd) { return membership_v6(fd, IPV6_DROP_MEMBERSHIP, group, ifindex); });
}

Result<void> UdpSocket::set_multicast_if_v4(Ipv4Addr iface) const {
    return io_.do_io([&](int fd) -> Result<void> {
        const ::in_addr a = to_in_addr(iface);
        if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) < 0) return last_error();
        return {};
    });
}
Result<Ipv4Addr> UdpSocket::multicast_if_v4() const {
    return io_.do_io([](int fd) -> Result<Ipv4Addr> {
        ::in_addr a{};
        ::socklen_t len = sizeof a;
        if (::getsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, &len) < 0) return last_error();
        Ipv4Addr ip;
        std::memcpy(ip.octets.data(), &a.s_addr, 4);
        return ip;
    });
}
Result<void> UdpSocket::set_multicast_if_v6(std::uint32_t ifindex) const {
    return io_.do_io([&](int fd) { return set_u32(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex); });
}
Result<std::uint32_t> UdpSocket::multicast_if_v6() const {
    return io_.do_io([](int fd) { return get_u32(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF); });
}

Result<void> UdpSocket::set_multicast_loop_v4(bool on) const {
    return io_.do_io([&](int fd) { return set_bool(fd, IPPROTO_IP, IP_MULTICAST_LOOP, on); });
}
Result<bool> UdpSocket::multicast_loop_v4() const {
    return io_.do_io([](int fd) { return get_bool(fd, IPPROTO_IP, IP_MULTICAST_LOOP); });
}
Result<void> UdpSocket::set_multicast_loop_v6(bool on) const {
    return io_.do_io([&](int fd) { return set_bool(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on); });
}
Result<bool> UdpSocket::multicast_loop_v6() const {
    return io_.do_io([](int fd) { return get_bool(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP); });
}
Result<void> UdpSocket::set_multicast_ttl_v4(std::uint32_t ttl) const {
    return io_.do_io([&](int fd) { return set_u32(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl); });
}
Result<std::uint32_t> UdpSocket::multicast_ttl_v4() const {
    return io_.do_io([](int fd) { return get_u32(fd, IPPROTO_IP, IP_MULTICAST_TTL); });
}
Result<void> UdpSocket::set_multicast_hops_v6(std::uint32_t hops) const {
    return io_.do_io([&](int fd) { return set_u32(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops); });
}
Result<std::uint32_t> UdpSocket::multicast_hops_v6() const {
    return io_.do_io([](int fd) { return get_u32(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS); });
}

Result<std::optional<std::error_code>> UdpSocket::take_error() const { return io_.do_io(ops::take_error); }

}  // namespace pollux::net
