// pollux/net/unix_datagram.hpp — public.
//
// `UnixDatagram` is a non-blocking, close-on-exec AF_UNIX datagram socket (mio's
// net::UnixDatagram). It is a `Source`: register READABLE to learn when datagrams are
// queued, WRITABLE to learn when a send that got WouldBlock may be retried.
//
//     auto server = UnixDatagram::bind("/run/app.dgram").value();
//     std::byte buf[4096];
//     auto got = server.recv_from(buf);               // after a readable event
//     if (got && !got->peer.is_unnamed()) server.send_to(reply, got->peer);
//
// Datagram rules
//   * Unix datagrams are reliable and ordered: nothing is dropped on the way. A sender
//     whose receiver's queue is full gets WouldBlock (EAGAIN) and retries after a
//     writable event.
//   * Each datagram is received whole or cut, never merged or split. A datagram longer
//     than the buffer is cut: the kernel discards the excess, the next receive gets the
//     next datagram. pollux never hides this: `truncated` is true and `full_size` holds
//     the datagram's real length (every receive passes MSG_TRUNC).
//   * A 0-byte datagram is a datagram: a receive returns size 0.
//   * Sends pass MSG_NOSIGNAL: a send after the peer closed (or after a local
//     shutdown(Write)) fails with EPIPE or ECONNREFUSED, never SIGPIPE.
//
// Addresses. A datagram from an unbound sender carries an unnamed address: there is
// nothing to reply to. (Unlike UnixListener::accept, recv_from reports a sender bound
// to an abstract name as abstract.) The socket file of `bind` follows the rules in
// unix_listener.hpp: exact `mode`, never wider, stale files replaced only on request,
// never unlinked on close.
//
// Ownership. `fd()` lends the descriptor; `into_fd()` gives it away (deregister
// first); `from_fd()` adopts a datagram socket, which the caller makes non-blocking.
// A moved-from UnixDatagram holds no fd and every call on it returns EBADF. I/O calls
// are `const` and one syscall each.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/shutdown.hpp"
#include "pollux/net/unix_socket_addr.hpp"

namespace pollux {
class Registry;
}

namespace pollux::net {

// What one receive produced.
struct UnixRecvMeta {
    std::size_t size = 0;       // bytes copied into the caller's buffer
    std::size_t full_size = 0;  // length of the datagram as sent (>= size)
    UnixSocketAddr peer;        // the sender (unnamed when it was not bound)
    bool truncated = false;     // full_size > buffer size: the tail was discarded
};

class UnixDatagram : public IoSourceOwner {
public:
    // An empty socket: every call returns EBADF.
    UnixDatagram() noexcept = default;
    UnixDatagram(UnixDatagram&&) noexcept = default;
    UnixDatagram& operator=(UnixDatagram&&) noexcept = default;

    // socket(AF_UNIX, SOCK_DGRAM) and bind, creating the socket file as UnixListener
    // does (`options.backlog` is unused). Same errors as UnixListener::bind.
    static Result<UnixDatagram> bind(std::string_view path, const UnixBindOptions& options = {});
    static Result<UnixDatagram> bind(const UnixSocketAddr& addr, const UnixBindOptions& options = {});
    // A socket with no address: it can send, and receive replies only if connected.
    static Result<UnixDatagram> unbound();
    // socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC).
    static Result<std::pair<UnixDatagram, UnixDatagram>> pair();
    // Adopts a datagram socket; the caller makes it non-blocking.
    static UnixDatagram from_fd(OwnedFd fd) noexcept { return UnixDatagram(std::move(fd)); }

    // Sets the default destination for `send` and accepts datagrams only from it.
    // ENOENT / ECONNREFUSED when nothing is bound at the address.
    Result<void> connect(std::string_view path) const;
    Result<void> connect(const UnixSocketAddr& addr) const;

    // sendto(MSG_NOSIGNAL). The whole datagram or nothing: returns buf.size().
    // ENOENT / ECONNREFUSED when nothing is bound at `to`; EMSGSIZE when over the
    // socket's send buffer.
    Result<std::size_t> send_to(std::span<const std::byte> buf, const UnixSocketAddr& to) const;
    Result<std::size_t> send_to(std::span<const std::byte> buf, std::string_view path) const;
    // send(MSG_NOSIGNAL) to the connected peer; ENOTCONN when not connected.
    Result<std::size_t> send(std::span<const std::byte> buf) const;

    // recvmsg(MSG_TRUNC): one datagram, its real length and its sender.
    Result<UnixRecvMeta> recv_from(std::span<std::byte> buf) const;
    // As recv_from (the sender is filled in too); for connected sockets.
    Result<UnixRecvMeta> recv(std::span<std::byte> buf) const;

    Result<void> shutdown(Shutdown how) const;
    Result<UnixSocketAddr> local_addr() const;
    Result<UnixSocketAddr> peer_addr() const;
    // SO_ERROR, cleared by the read: empty when there is no pending error.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit UnixDatagram(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

}  // namespace pollux::net
