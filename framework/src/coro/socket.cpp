// framework/src/coro/socket.cpp — internal: the socket awaits (coro/socket.hpp), each a
// loop of "try the syscall, on WouldBlock wait for the Readiness edge, on EINTR try again".
#include "pollux/framework/coro/socket.hpp"

#include <chrono>
#include <system_error>

namespace pollux::coro {

namespace {

using Clock = std::chrono::steady_clock;

// One operation's deadline over all its waits, counted from the first one.
class OpDeadline {
public:
    explicit OpDeadline(Deadline d) noexcept : d_(d) {}

    Deadline next() noexcept {
        // A deadline this far off never comes; keep it per wait (no time_point overflow).
        if (d_.none() || d_.after >= std::chrono::hours(24 * 365)) return d_;
        const auto now = Clock::now();
        if (!started_) {
            started_ = true;
            end_ = now + d_.after;
            return d_;
        }
        if (now >= end_) return Deadline(std::chrono::milliseconds(0));
        return Deadline(end_ - now);  // rounded up to whole milliseconds
    }

private:
    Deadline d_;
    bool started_ = false;
    Clock::time_point end_{};
};

using UdpState = detail::SocketState<net::UdpSocket>;
using ListenerState = detail::SocketState<net::TcpListener>;
using StreamState = detail::SocketState<net::TcpStream>;

// The operations take the state, not the owner: moving the owner while one waits is safe.
// After a failed wait nothing of the state is touched (a destroyed owner resumes it).

Task<Result<std::pair<std::size_t, net::SocketAddr>>> recv_from_op(UdpState* st, std::span<std::byte> buf,
                                                                   Deadline deadline, CancelToken token) {
    if (st == nullptr) co_return error(std::errc::bad_file_descriptor);
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    OpDeadline d(deadline);
    for (;;) {
        auto got = st->socket.recv_from(buf);
        if (got) co_return std::pair<std::size_t, net::SocketAddr>(got->size, got->peer);
        if (is_interrupted(got.error())) continue;  // a signal: try again
        if (!is_would_block(got.error())) co_return std::unexpected(got.error());
        if (auto w = co_await st->ready->readable(d.next(), token); !w) co_return std::unexpected(w.error());
    }
}

Task<Result<std::size_t>> send_to_op(UdpState* st, std::span<const std::byte> buf, net::SocketAddr target,
                                     Deadline deadline, CancelToken token) {
    if (st == nullptr) co_return error(std::errc::bad_file_descriptor);
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    OpDeadline d(deadline);
    for (;;) {
        auto sent = st->socket.send_to(buf, target);
        if (sent) co_return *sent;
        if (is_interrupted(sent.error())) continue;  // a signal: try again
        if (!is_would_block(sent.error())) co_return std::unexpected(sent.error());
        if (auto w = co_await st->ready->writable(d.next(), token); !w) co_return std::unexpected(w.error());
    }
}

Task<Result<std::pair<net::TcpStream, net::SocketAddr>>> accept_op(ListenerState* st, Deadline deadline,
                                                                   CancelToken token) {
    if (st == nullptr) co_return error(std::errc::bad_file_descriptor);
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    OpDeadline d(deadline);
    for (;;) {
        auto got = st->socket.accept();
        if (got) co_return std::move(*got);
        const std::error_code ec = got.error();
        if (ec == std::errc::connection_aborted || is_interrupted(ec)) continue;  // left while queued; a signal
        if (!is_would_block(ec)) co_return std::unexpected(ec);  // EMFILE, ENFILE, ...: the caller decides
        if (auto w = co_await st->ready->readable(d.next(), token); !w) co_return std::unexpected(w.error());
    }
}

Task<Result<std::size_t>> read_some_op(StreamState* st, std::span<std::byte> buf, Deadline deadline,
                                       CancelToken token) {
    if (st == nullptr) co_return error(std::errc::bad_file_descriptor);
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    OpDeadline d(deadline);
    for (;;) {
        auto n = st->socket.read(buf);
        if (n) co_return *n;
        if (is_interrupted(n.error())) continue;  // a signal: try again
        if (!is_would_block(n.error())) co_return std::unexpected(n.error());
        if (auto w = co_await st->ready->readable(d.next(), token); !w) co_return std::unexpected(w.error());
    }
}

Task<Result<void>> write_all_op(StreamState* st, std::span<const std::byte> bytes, Deadline deadline,
                                CancelToken token) {
    if (st == nullptr) co_return error(std::errc::bad_file_descriptor);
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    OpDeadline d(deadline);
    std::size_t done = 0;
    while (done < bytes.size()) {
        auto n = st->socket.write(bytes.subspan(done));
        if (n) {
            done += *n;
            continue;
        }
        if (is_interrupted(n.error())) continue;  // a signal: try again
        if (!is_would_block(n.error())) co_return std::unexpected(n.error());
        if (auto w = co_await st->ready->writable(d.next(), token); !w) co_return std::unexpected(w.error());
    }
    co_return Result<void>();
}

}  // namespace

// ---- UdpSocket ---------------------------------------------------------------------------

Result<UdpSocket> UdpSocket::bind(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                  const net::UdpOptions& options) {
    auto sock = net::UdpSocket::bind(addr, options);
    if (!sock) return std::unexpected(sock.error());
    return adopt(reactor, std::move(*sock));
}

Result<UdpSocket> UdpSocket::adopt(reactor::Reactor& reactor, net::UdpSocket socket) {
    auto st = detail::register_socket(reactor, std::move(socket), Interest::READABLE | Interest::WRITABLE);
    if (!st) return std::unexpected(st.error());
    return UdpSocket(std::move(*st));
}

Task<Result<std::pair<std::size_t, net::SocketAddr>>> UdpSocket::recv_from(std::span<std::byte> buf,
                                                                           Deadline deadline, CancelToken token) {
    return recv_from_op(state_.get(), buf, deadline, token);
}

Task<Result<std::size_t>> UdpSocket::send_to(std::span<const std::byte> buf, const net::SocketAddr& target,
                                             Deadline deadline, CancelToken token) {
    return send_to_op(state_.get(), buf, target, deadline, token);
}

// ---- TcpListener -------------------------------------------------------------------------

Result<TcpListener> TcpListener::bind(reactor::Reactor& reactor, const net::SocketAddr& addr, int backlog) {
    auto listener = net::TcpListener::bind(addr, backlog);
    if (!listener) return std::unexpected(listener.error());
    return adopt(reactor, std::move(*listener));
}

Result<TcpListener> TcpListener::adopt(reactor::Reactor& reactor, net::TcpListener listener) {
    auto st = detail::register_socket(reactor, std::move(listener), Interest::READABLE);
    if (!st) return std::unexpected(st.error());
    return TcpListener(std::move(*st));
}

Task<Result<std::pair<net::TcpStream, net::SocketAddr>>> TcpListener::accept(Deadline deadline, CancelToken token) {
    return accept_op(state_.get(), deadline, token);
}

// ---- TcpStream ---------------------------------------------------------------------------

Result<TcpStream> TcpStream::adopt(reactor::Reactor& reactor, net::TcpStream stream) {
    auto st = detail::register_socket(reactor, std::move(stream), Interest::READABLE | Interest::WRITABLE);
    if (!st) return std::unexpected(st.error());
    return TcpStream(std::move(*st));
}

Task<Result<std::size_t>> TcpStream::read_some(std::span<std::byte> buf, Deadline deadline, CancelToken token) {
    return read_some_op(state_.get(), buf, deadline, token);
}

Task<Result<void>> TcpStream::write_all(std::span<const std::byte> bytes, Deadline deadline, CancelToken token) {
    return write_all_op(state_.get(), bytes, deadline, token);
}

// ---- connect -----------------------------------------------------------------------------

Task<Result<net::TcpStream>> connect(reactor::Reactor& reactor, net::SocketAddr addr, Deadline deadline,
                                     CancelToken token) {
    if (token.cancelled()) co_return error(std::errc::operation_canceled);
    auto stream = net::TcpStream::connect(addr);
    if (!stream) co_return std::unexpected(stream.error());
    {
        // Registered only while the handshake runs: leaving this block deregisters it.
        auto ready = Readiness<net::TcpStream>::register_in_loop(reactor, *stream, Interest::WRITABLE);
        if (!ready) co_return std::unexpected(ready.error());
        OpDeadline d(deadline);
        for (;;) {
            if (auto w = co_await (*ready)->writable(d.next(), token); !w) co_return std::unexpected(w.error());
            auto pending = stream->take_error();  // SO_ERROR: ECONNREFUSED, ETIMEDOUT, ...
            if (!pending) co_return std::unexpected(pending.error());
            if (*pending) co_return std::unexpected(**pending);
            auto peer = stream->peer_addr();
            if (peer) break;                                          // connected
            if (peer.error() != std::errc::not_connected) co_return std::unexpected(peer.error());
            // ENOTCONN: still connecting (a spurious edge); wait for the next one.
        }
    }
    co_return std::move(*stream);
}

}  // namespace pollux::coro
