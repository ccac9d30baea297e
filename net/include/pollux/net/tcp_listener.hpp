// pollux/net/tcp_listener.hpp — public.
//
// `TcpListener` is a non-blocking listening TCP socket (mio's net::TcpListener). It
// owns its fd (CLOEXEC, O_NONBLOCK) and closes it on destruction.
//
//     auto listener = TcpListener::bind(SocketAddr::loopback_v4(8080)).value();
//     poll.registry().register_source(listener, kServer, Interest::READABLE);
//     // on every readable event for kServer:
//     for (;;) {
//         auto accepted = listener.accept();
//         if (!accepted) {
//             if (is_would_block(accepted.error())) break;   // drained: wait for the next event
//             ...                                           // ECONNABORTED, EMFILE, ...
//         }
//         auto& [stream, peer] = *accepted;                 // register and keep `stream`
//     }
//
// A readable event means one or more connections are queued. Readiness is
// edge-triggered, so accept until WouldBlock; stopping early may leave connections
// queued with no new event to announce them. Accepted streams are non-blocking and
// CLOEXEC (accept4), ready to register.
//
// Errors from accept are per-connection or per-process (ECONNABORTED: the client gave
// up while queued; EMFILE/ENFILE: out of fds). The listener stays usable after them;
// a server short of fds should back off rather than spin on the readable event.
//
// Ownership. `fd()` lends the descriptor; `into_fd()` gives it away (deregister
// first); `from_fd()` adopts a listening socket, which the caller makes non-blocking
// (`set_nonblocking(true)`), otherwise accept blocks. A moved-from TcpListener holds
// no fd and every call on it returns EBADF.
#pragma once

#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_stream.hpp"

namespace pollux {
class Registry;
}

namespace pollux::net {

class TcpListener : public IoSourceOwner {
public:
    // The listen(2) backlog `bind` uses unless told otherwise. The kernel caps it at
    // net.core.somaxconn.
    static constexpr int kDefaultBacklog = 1024;

    // An empty listener: every call returns EBADF.
    TcpListener() noexcept = default;
    TcpListener(TcpListener&&) noexcept = default;
    TcpListener& operator=(TcpListener&&) noexcept = default;

    // socket, SO_REUSEADDR, bind, listen. Port 0 picks a free port; read it back with
    // `local_addr()`. EADDRINUSE when another socket holds the address.
    static Result<TcpListener> bind(const SocketAddr& addr, int backlog = kDefaultBacklog);
    // As `bind`, plus SO_REUSEPORT: several listeners (each created this way, by the
    // same user) may bind the same address, and the kernel spreads incoming
    // connections across them by a hash of the 4-tuple. One listener per reactor
    // thread, with no shared accept queue.
    static Result<TcpListener> bind_reuseport(const SocketAddr& addr, int backlog = kDefaultBacklog);

    // Adopts a listening socket; the caller makes it non-blocking (see above).
    static TcpListener from_fd(OwnedFd fd) noexcept { return TcpListener(std::move(fd)); }

    // accept4(SOCK_NONBLOCK | SOCK_CLOEXEC): the next queued connection and its peer
    // address, or WouldBlock when none is queued.
    Result<std::pair<TcpStream, SocketAddr>> accept() const;
    // As `accept`, without asking the kernel for the peer address.
    Result<TcpStream> accept_stream() const;

    Result<SocketAddr> local_addr() const;
    // IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6); accepted streams inherit it.
    Result<void> set_ttl(std::uint32_t ttl) const;
    Result<std::uint32_t> ttl() const;
    // O_NONBLOCK on or off; for adopted fds (from_fd).
    Result<void> set_nonblocking(bool on) const;
    // SO_ERROR, cleared by the read: empty when there is no pending error.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit TcpListener(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

}  // namespace pollux::net
