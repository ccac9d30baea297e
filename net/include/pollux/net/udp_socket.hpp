// pollux/net/udp_socket.hpp — public.
//
// `UdpSocket` is a non-blocking, close-on-exec UDP socket (mio's net::UdpSocket), IPv4
// or IPv6. It is a `Source`: register it READABLE to learn when datagrams are queued,
// WRITABLE to learn when the send buffer has room again after a WouldBlock.
//
// Datagram rules
//   * Each datagram is received once (a peek leaves it queued). A datagram longer than
//     the buffer is cut: the excess is discarded by the kernel and is NOT returned by
//     the next receive, which gets the next datagram. pollux never hides this:
//     `RecvMeta::truncated` is true and `RecvMeta::full_size` holds the length the
//     datagram had on the wire (every receive passes MSG_TRUNC to the kernel).
//   * A 0-byte datagram is a datagram: a receive returns size 0 and the sender's address.
//   * A datagram never leaves in pieces. A payload too large for UDP (over 65507 bytes
//     for IPv4, 65527 for IPv6) fails with EMSGSIZE; nothing is sent.
//   * Sends pass MSG_NOSIGNAL.
//
// Readiness (edge-triggered, as everywhere in pollux): after a readable event, receive
// until WouldBlock, or no further event is guaranteed. A WouldBlock after an event is
// normal (spurious events exist); wait for the next one.
//
// Connected UDP: `connect` sets the default destination for `send` and filters incoming
// datagrams to that peer; it may be called again to change peer. An ICMP "port
// unreachable" for a datagram sent to a connected peer surfaces ONCE as ECONNREFUSED,
// from the next send/recv/peek (or from `take_error`, which clears it), typically
// announced by an event with `is_error()`. The socket stays usable afterwards.
// Unconnected sockets never see these errors (Linux).
//
// Batches: `recv_many` / `send_many` move up to `kMaxBatch` datagrams in ONE syscall
// (recvmmsg / sendmmsg) and allocate nothing: the mmsghdr, iovec and address arrays
// live on the stack of the call (about 13 KiB). Slots beyond `kMaxBatch` are left
// untouched; the returned count tells how many slots were used, exactly like a short
// write, so callers loop. Each call is one syscall, so pollux never drops an error
// between chunks of its own. Errors met by the kernel after some datagrams moved:
//   recv_many: the kernel keeps the error on the socket; the next call returns it.
//   send_many: the call returns the count before the failing slot; retrying from that
//     slot reports a per-datagram error (EMSGSIZE, EINVAL, ...). A pending ECONNREFUSED
//     that the kernel consumed at that point is lost (sendmmsg(2) does this). On
//     loopback the refusal of datagram k lands while k+1 is sent, so a connected
//     send_many to a closed port returns short counts and never the error: use
//     single sends (or recv/take_error) when refusals matter.
//
// Moved-from sockets hold no fd and every call on them returns EBADF. Every I/O and
// option call is `const` and one syscall on the fd, so several threads may use one
// socket at once (as mio's UdpSocket is Sync); moving it or `into_fd` may not race
// with anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/socket_addr.hpp"

namespace pollux::net {

// Options applied between socket() and bind(); they cannot be changed afterwards.
// Defaults: all off, which is mio's plain bind().
struct UdpOptions {
    // IPV6_V6ONLY on an IPv6 socket: refuse IPv4-mapped traffic. For an IPv6 address
    // the option is always set explicitly (to this value), so the result does not
    // depend on /proc/sys/net/ipv6/bindv6only. EINVAL with an IPv4 address.
    bool only_v6 = false;
    // SO_REUSEADDR.
    bool reuse_addr = false;
    // SO_REUSEPORT: several sockets (e.g. one per reactor) bind the same address and
    // the kernel spreads incoming datagrams over them by flow hash. Every socket of
    // the group must set it, and all must belong to the same user.
    bool reuse_port = false;
};

// What one receive produced.
struct RecvMeta {
    std::size_t size = 0;       // bytes copied into the caller's buffer
    std::size_t full_size = 0;  // length of the datagram on the wire (>= size)
    SocketAddr peer;            // the sender
    bool truncated = false;     // full_size > buffer size: the tail was discarded
};

// One datagram of a `recv_many` batch: the caller owns `buf`; `meta` is filled in.
struct RecvSlot {
    std::span<std::byte> buf;
    RecvMeta meta{};
};

// One datagram of a `send_many` batch. `to` points at the destination, or is nullptr
// to use the connected peer; it must stay valid for the duration of the call.
struct SendSlot {
    std::span<const std::byte> buf;
    const SocketAddr* to = nullptr;
};

class UdpSocket : public IoSourceOwner {
public:
    // Most datagrams one `recv_many` / `send_many` call moves.
    static constexpr std::size_t kMaxBatch = 64;

    // An empty socket: every call returns EBADF.
    UdpSocket() noexcept = default;

    // socket(AF_INET/AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC), the options,
    // then bind(addr). Port 0 picks a free port; read it back with `local_addr`.
    static Result<UdpSocket> bind(const SocketAddr& addr, const UdpOptions& options = {});
    // Adopts a UDP socket fd. The caller makes it non-blocking (the batch calls pass
    // MSG_DONTWAIT anyway; the single calls would block on a blocking fd).
    static UdpSocket from_fd(OwnedFd fd) noexcept { return UdpSocket(std::move(fd)); }

    // ---- Unconnected I/O -----------------------------------------------------------
    // sendto(2). Returns the bytes sent (always the whole datagram). WouldBlock when the
    // send buffer is full; EMSGSIZE when the payload cannot be one datagram.
    Result<std::size_t> send_to(std::span<const std::byte> buf, const SocketAddr& target) const;
    // recvmsg(2). WouldBlock when no datagram is queued.
    Result<RecvMeta> recv_from(std::span<std::byte> buf) const;
    // As recv_from, but the datagram stays queued (MSG_PEEK).
    Result<RecvMeta> peek_from(std::span<std::byte> buf) const;

    // ---- Connected I/O -------------------------------------------------------------
    // Sets the default peer and the receive filter. Reconnecting is allowed.
    Result<void> connect(const SocketAddr& addr) const;
    // send(2) to the connected peer; EDESTADDRREQ when not connected.
    Result<std::size_t> send(std::span<const std::byte> buf) const;
    // Receive from whoever may send (only the peer, once connected). Same result as
    // recv_from; `peer` is the sender's address.
    Result<RecvMeta> recv(std::span<std::byte> buf) const;
    Result<RecvMeta> peek(std::span<std::byte> buf) const;

    // ---- Batches (see the header comment) ------------------------------------------
    // recvmmsg(MSG_DONTWAIT | MSG_TRUNC): fills slots[0..n) (each slot's `meta`) and
    // returns n >= 1, or WouldBlock when nothing is queued. At most kMaxBatch slots per
    // call; n < slots.size() usually means the queue ran dry, but drain until
    // WouldBlock all the same. An empty span returns 0.
    Result<std::size_t> recv_many(std::span<RecvSlot> slots) const;
    // sendmmsg(MSG_NOSIGNAL | MSG_DONTWAIT): sends slots[0..n) in order and returns
    // n >= 1 (n < slots.size() when the buffer filled up or slot n failed; the next
    // call starting at slot n reports the error). WouldBlock when nothing could be
    // sent. At most kMaxBatch slots per call. An empty span returns 0.
    Result<std::size_t> send_many(std::span<const SendSlot> slots) const;

    // ---- Addresses -----------------------------------------------------------------
    Result<SocketAddr> local_addr() const;
    // ENOTCONN when not connected.
    Result<SocketAddr> peer_addr() const;

    // ---- Options -------------------------------------------------------------------
    Result<void> set_broadcast(bool on) const;  // SO_BROADCAST, default off
    Result<bool> broadcast() const;
    Result<void> set_ttl(std::uint32_t ttl) const;  // IP_TTL (IPv4 unicast)
    Result<std::uint32_t> ttl() const;
    // IPV6_V6ONLY as set by UdpOptions::only_v6 (IPv6 sockets only).
    Result<bool> only_v6() const;

    // SO_SNDBUF / SO_RCVBUF. The kernel doubles the request (bookkeeping overhead) and
    // caps it at net.core.wmem_max / rmem_max; the getters return the kernel's value.
    Result<void> set_send_buffer_size(std::size_t bytes) const;
    Result<std::size_t> send_buffer_size() const;
    Result<void> set_recv_buffer_size(std::size_t bytes) const;
    Result<std::size_t> recv_buffer_size() const;

    // ---- Multicast -----------------------------------------------------------------
    // IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP on the interface that owns `iface`
    // (Ipv4Addr::any(): the kernel picks by route).
    Result<void> join_multicast_v4(Ipv4Addr group, Ipv4Addr iface) const;
    Result<void> leave_multicast_v4(Ipv4Addr group, Ipv4Addr iface) const;
    // IPV6_ADD_MEMBERSHIP / IPV6_DROP_MEMBERSHIP on interface index `ifindex`
    // (0: the kernel picks by route).
    Result<void> join_multicast_v6(Ipv6Addr group, std::uint32_t ifindex) const;
    Result<void> leave_multicast_v6(Ipv6Addr group, std::uint32_t ifindex) const;
    // IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface outgoing multicast leaves by.
    Result<void> set_multicast_if_v4(Ipv4Addr iface) const;
    Result<Ipv4Addr> multicast_if_v4() const;
    Result<void> set_multicast_if_v6(std::uint32_t ifindex) const;
    Result<std::uint32_t> multicast_if_v6() const;
    // IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: deliver our own multicast to local
    // members too. Default on.
    Result<void> set_multicast_loop_v4(bool on) const;
    Result<bool> multicast_loop_v4() const;
    Result<void> set_multicast_loop_v6(bool on) const;
    Result<bool> multicast_loop_v6() const;
    // IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS. Default 1.
    Result<void> set_multicast_ttl_v4(std::uint32_t ttl) const;
    Result<std::uint32_t> multicast_ttl_v4() const;
    Result<void> set_multicast_hops_v6(std::uint32_t hops) const;
    Result<std::uint32_t> multicast_hops_v6() const;

    // SO_ERROR, cleared by the read: the pending asynchronous error (ECONNREFUSED on a
    // connected socket), or an empty optional.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit UdpSocket(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
    Result<RecvMeta> recv_with(std::span<std::byte> buf, int flags) const;
};

}  // namespace pollux::net
