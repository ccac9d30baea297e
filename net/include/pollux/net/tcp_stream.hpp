// pollux/net/tcp_stream.hpp — public.
//
// `TcpStream` is a non-blocking TCP connection (mio's net::TcpStream). It owns its fd
// (CLOEXEC, O_NONBLOCK) and closes it on destruction. Register it with a `Registry`
// like any `Source`; every I/O call returns at once, with WouldBlock
// (`pollux::is_would_block`) when the socket is not ready.
//
// Connecting without blocking. `connect` only starts the handshake; the stream it
// returns may not be connected yet. The recipe (mio's, step by step):
//
//     1. auto s = TcpStream::connect(addr);               // returns at once
//     2. registry.register_source(*s, token, Interest::WRITABLE /* | READABLE */);
//     3. wait for an event with `token` that is writable (or error / write-closed);
//     4. s->take_error(): an error (ECONNREFUSED, ETIMEDOUT, ...) -> the connect
//        failed; an empty optional -> go on;
//     5. s->peer_addr(): an address -> connected; ENOTCONN (std::errc::not_connected)
//        -> not yet, a spurious event: back to step 3; any other error -> failed;
//     6. use the stream.
//
// A refused connect shows up as an event that is writable or error, and on Linux
// write-closed; `take_error()` then returns ECONNREFUSED.
//
// Reading and writing. Readiness is edge-triggered: after a readable event, read
// until WouldBlock; after a writable event, write until WouldBlock or until you have
// nothing left.
//   * `read` returning 0 (with a non-empty buffer) is end of stream: the peer shut
//     down its write side or closed. If it only shut down its write side (a
//     half-close), you may still write and it still reads.
//   * A reset peer makes `read` fail with ECONNRESET, and `write` with EPIPE or
//     ECONNRESET. They come back as error codes: every send passes MSG_NOSIGNAL, so
//     no SIGPIPE is ever raised and no SIG_IGN is needed.
//   * Writes may be partial: the returned count is what the kernel took.
//
// Ownership. `fd()` lends the descriptor (do not close it); `into_fd()` gives it
// away (deregister first); `from_fd()` adopts one. A moved-from TcpStream holds no
// fd and every call on it returns EBADF (std::errc::bad_file_descriptor).
//
// Threads. The I/O and option methods are const and hold no state beyond the fd,
// so two threads may, say, read and write the same stream at once (as with mio's
// `&TcpStream`), as long as neither moves or destroys it meanwhile.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_slice.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/shutdown.hpp"
#include "pollux/net/socket_addr.hpp"

namespace pollux {
class Registry;
}

namespace pollux::net {

// TCP keepalive probe timing. A zero field leaves that setting as it is (the system
// default, /proc/sys/net/ipv4/tcp_keepalive_*), since zero is not a valid value for
// any of them.
struct KeepaliveOptions {
    std::chrono::seconds idle{0};      // TCP_KEEPIDLE: quiet time before the first probe
    std::chrono::seconds interval{0};  // TCP_KEEPINTVL: time between probes
    int count = 0;                     // TCP_KEEPCNT: unanswered probes before the reset
};

class TcpStream : public IoSourceOwner {
public:
    // An empty stream: every call returns EBADF.
    TcpStream() noexcept = default;
    TcpStream(TcpStream&&) noexcept = default;
    TcpStream& operator=(TcpStream&&) noexcept = default;

    // Starts a non-blocking connect to `addr` and returns at once; see the recipe in
    // the header comment. Errors detected at once (EADDRNOTAVAIL, ENETUNREACH, a full
    // local port range as EAGAIN, ...) come back here.
    static Result<TcpStream> connect(const SocketAddr& addr);

    // Adopts a connected (or connecting) TCP socket, for example one created by
    // another library. pollux does not change its flags: the caller makes it
    // non-blocking (`set_nonblocking(true)`), otherwise reads and writes block.
    static TcpStream from_fd(OwnedFd fd) noexcept { return TcpStream(std::move(fd)); }

    // recv(2). 0 means end of stream (for a non-empty `buf`).
    Result<std::size_t> read(std::span<std::byte> buf) const;
    // send(2) with MSG_NOSIGNAL. May write fewer bytes than `buf` holds.
    Result<std::size_t> write(std::span<const std::byte> buf) const;
    // recvmsg(2) scattering into `bufs` in order. 0 means end of stream. At most the
    // first IOV_MAX (1024) slices are used per call, as a partial read.
    Result<std::size_t> read_vectored(std::span<IoSliceMut> bufs) const;
    // sendmsg(2) with MSG_NOSIGNAL, gathering `bufs` in order. May be partial; at most
    // the first IOV_MAX (1024) slices go out per call.
    Result<std::size_t> write_vectored(std::span<const IoSlice> bufs) const;
    // recv(MSG_PEEK): like read, but the data stays queued for the next read.
    Result<std::size_t> peek(std::span<std::byte> buf) const;
    // Runs `f(fd)` for I/O pollux does not wrap (mio's try_io); `f` must return a
    // Result and report EAGAIN as WouldBlock. EBADF without calling `f` when empty.
    template <class F>
    auto try_io(F&& f) const {
        return io_.do_io(std::forward<F>(f));
    }

    // shutdown(2). After Shutdown::Write the peer reads end of stream; after
    // Shutdown::Read local reads return 0. ENOTCONN if the stream never connected.
    Result<void> shutdown(Shutdown how) const;

    // getpeername: ENOTCONN while a connect is still in progress (recipe step 5).
    Result<SocketAddr> peer_addr() const;
    // getsockname.
    Result<SocketAddr> local_addr() const;

    // TCP_NODELAY: true disables Nagle's algorithm (send small writes at once).
    Result<void> set_nodelay(bool on) const;
    Result<bool> nodelay() const;
    // IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6).
    Result<void> set_ttl(std::uint32_t ttl) const;
    Result<std::uint32_t> ttl() const;
    // SO_KEEPALIVE, plus the probe timing in `options` (zero fields untouched).
    Result<void> set_keepalive(bool on, const KeepaliveOptions& options = {}) const;
    Result<bool> keepalive() const;
    // The effective probe timing (the system defaults unless set).
    Result<KeepaliveOptions> keepalive_options() const;
    // SO_SNDBUF / SO_RCVBUF. Linux doubles the requested size for its bookkeeping and
    // clamps it to net.core.{w,r}mem_max, so the getter returns the kernel's figure.
    Result<void> set_send_buffer_size(std::size_t bytes) const;
    Result<std::size_t> send_buffer_size() const;
    Result<void> set_recv_buffer_size(std::size_t bytes) const;
    Result<std::size_t> recv_buffer_size() const;
    // SO_LINGER. nullopt (the default): close returns at once and the kernel sends
    // what is queued, then FIN. A positive duration: close (the destructor) blocks
    // up to that long while unsent data drains — on Linux even for a non-blocking
    // socket, so avoid it on an event-loop thread. Zero seconds: close discards
    // unsent data and sends RST at once, so the peer sees ECONNRESET.
    Result<void> set_linger(std::optional<std::chrono::seconds> linger) const;
    Result<std::optional<std::chrono::seconds>> linger() const;
    // O_NONBLOCK on or off; for adopted fds (from_fd). pollux's own are non-blocking.
    Result<void> set_nonblocking(bool on) const;

    // SO_ERROR, cleared by the read: empty when there is no pending error.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit TcpStream(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

}  // namespace pollux::net
