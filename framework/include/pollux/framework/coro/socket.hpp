// pollux/framework/coro/socket.hpp — public.
//
// Sockets outside the framework, for a task: accept, connect, UDP datagrams and a plain
// TCP stream as awaits, a thin layer over Readiness (readiness.hpp):
//
//     auto udp = coro::UdpSocket::bind(reactor, net::SocketAddr::loopback_v4(0)).value();
//     auto got = co_await udp.recv_from(buf, 1s);          // Result<pair<size, peer>>
//     if (got) co_await udp.send_to(std::span(buf).first(got->first), got->second);
//
//     auto raw = co_await coro::connect(reactor, addr, 2s);      // Result<net::TcpStream>
//     auto tcp = coro::TcpStream::adopt(reactor, std::move(*raw)).value();
//     co_await tcp.write_all(request, 2s);
//
// * Registration. Each object owns its net socket and one Readiness, registered once
//   when it is made (bind / adopt), edge-triggered: no epoll_ctl per call. It is
//   deregistered, then closed, when the object is destroyed or close()d. coro::connect
//   registers its socket only while it waits: the net::TcpStream it returns is
//   registered nowhere, free to be adopted by a TcpStream, a Readiness, another reactor.
//   A failed registration (bind, adopt) closes the socket and returns the error.
// * Each operation tries the syscall first and waits only on WouldBlock (readable for
//   recv_from, accept and read_some; writable for send_to and write_all), then tries
//   again; EINTR is retried at once. Any other error is returned as is (EMFILE from
//   accept too: the caller backs off; accept also retries ECONNABORTED, a client gone
//   while queued).
// * Deadlines and tokens as in cancel.hpp: the Deadline bounds the whole operation,
//   counted from its first wait (std::errc::timed_out); CancelSource::cancel() ends a
//   wait with std::errc::operation_canceled, and an operation started with a cancelled
//   token fails at once with it, without the syscall. What ended is the wait: bytes a
//   write_all sent before the error are sent.
// * One read-side and one write-side wait at a time per object (a second concurrent
//   wait fails with std::errc::operation_in_progress).
// * Lifetimes. The operations return lazy Tasks: await each where it is made
//   (`co_await s.read_some(buf)`), while the object and the buffer live. Moving the
//   object while an operation waits is safe (its state stays put). Destroying or
//   close()ing it resumes a pending wait with std::errc::operation_canceled. A
//   moved-from, default-made or closed object fails every operation with
//   std::errc::bad_file_descriptor, and its socket() is an empty net socket (EBADF).
// * Threads: the reactor's thread only (bind, adopt, connect, the operations, close,
//   the destructor), before the reactor is destroyed.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

#include "pollux/core/result.hpp"
#include "pollux/framework/coro/cancel.hpp"
#include "pollux/framework/coro/readiness.hpp"
#include "pollux/framework/coro/task.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/net/udp_socket.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::coro {

namespace detail {

// A net socket and its registration, on the heap so that moving the owner never moves
// what the Readiness points at. `ready` is destroyed first: deregistered, then closed.
template <class S>
struct SocketState {
    S socket;
    std::unique_ptr<Readiness<S>> ready;
};

template <class S>
Result<std::unique_ptr<SocketState<S>>> register_socket(reactor::Reactor& reactor, S socket, Interest interest) {
    auto state = std::make_unique<SocketState<S>>();
    state->socket = std::move(socket);
    auto ready = Readiness<S>::register_in_loop(reactor, state->socket, interest);
    if (!ready) return std::unexpected(ready.error());
    state->ready = std::move(*ready);
    return state;
}

// The owner part of the three classes below: the state, moves, close().
template <class S>
class SocketOwner {
public:
    SocketOwner(const SocketOwner&) = delete;
    SocketOwner& operator=(const SocketOwner&) = delete;

    // The net socket, for its options and addresses (an empty one, every call EBADF,
    // when this object holds none). Do not register it elsewhere or take its fd.
    const S& socket() const noexcept {
        static const S empty{};
        return state_ ? state_->socket : empty;
    }
    bool is_open() const noexcept { return state_ != nullptr; }
    // Deregisters and closes the socket; a pending wait resumes with
    // operation_canceled (while it runs, this object is already empty).
    void close() noexcept {
        auto gone = std::move(state_);
        gone.reset();
    }

protected:
    SocketOwner() noexcept = default;
    explicit SocketOwner(std::unique_ptr<SocketState<S>> state) noexcept : state_(std::move(state)) {}
    SocketOwner(SocketOwner&& other) noexcept : state_(std::move(other.state_)) {}
    SocketOwner& operator=(SocketOwner&& other) noexcept {
        if (this != &other) {
            close();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~SocketOwner() { close(); }

    std::unique_ptr<SocketState<S>> state_;
};

}  // namespace detail

// A UDP socket whose receives and sends are awaits (registered READABLE | WRITABLE).
class UdpSocket : public detail::SocketOwner<net::UdpSocket> {
public:
    UdpSocket() noexcept = default;
    UdpSocket(UdpSocket&&) noexcept = default;
    UdpSocket& operator=(UdpSocket&&) noexcept = default;
    ~UdpSocket() = default;

    // net::UdpSocket::bind, then the registration with `reactor`.
    static Result<UdpSocket> bind(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                  const net::UdpOptions& options = {});
    // Registers a non-blocking UDP socket that is registered nowhere.
    static Result<UdpSocket> adopt(reactor::Reactor& reactor, net::UdpSocket socket);

    // One datagram: its size in `buf` and its sender. A datagram longer than `buf` is
    // cut to buf.size() bytes and the rest discarded (net/udp_socket.hpp); use a
    // buffer of 65,536 bytes, or socket().peek_from, when that matters.
    Task<Result<std::pair<std::size_t, net::SocketAddr>>> recv_from(std::span<std::byte> buf, Deadline deadline = {},
                                                                    CancelToken token = {});
    // One datagram to `target` (copied: a temporary is fine). Returns its size.
    Task<Result<std::size_t>> send_to(std::span<const std::byte> buf, const net::SocketAddr& target,
                                      Deadline deadline = {}, CancelToken token = {});

private:
    explicit UdpSocket(std::unique_ptr<detail::SocketState<net::UdpSocket>> s) noexcept : SocketOwner(std::move(s)) {}
};

// A listening TCP socket whose accepts are awaits (registered READABLE).
class TcpListener : public detail::SocketOwner<net::TcpListener> {
public:
    TcpListener() noexcept = default;
    TcpListener(TcpListener&&) noexcept = default;
    TcpListener& operator=(TcpListener&&) noexcept = default;
    ~TcpListener() = default;

    // net::TcpListener::bind (SO_REUSEADDR, listen), then the registration.
    static Result<TcpListener> bind(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                    int backlog = net::TcpListener::kDefaultBacklog);
    // Registers a non-blocking listening socket that is registered nowhere.
    static Result<TcpListener> adopt(reactor::Reactor& reactor, net::TcpListener listener);

    Result<net::SocketAddr> local_addr() const { return socket().local_addr(); }

    // The next connection and its peer address. The stream is non-blocking and
    // registered nowhere (adopt it into a TcpStream, or hand it on).
    Task<Result<std::pair<net::TcpStream, net::SocketAddr>>> accept(Deadline deadline = {}, CancelToken token = {});

private:
    explicit TcpListener(std::unique_ptr<detail::SocketState<net::TcpListener>> s) noexcept
        : SocketOwner(std::move(s)) {}
};

// A TCP connection made outside the framework (coro::connect, TcpListener::accept)
// whose reads and writes are awaits (registered READABLE | WRITABLE). Framework
// connections use coro::Stream (stream.hpp) instead.
class TcpStream : public detail::SocketOwner<net::TcpStream> {
public:
    TcpStream() noexcept = default;
    TcpStream(TcpStream&&) noexcept = default;
    TcpStream& operator=(TcpStream&&) noexcept = default;
    ~TcpStream() = default;

    // Registers a non-blocking, connected stream that is registered nowhere.
    static Result<TcpStream> adopt(reactor::Reactor& reactor, net::TcpStream stream);

    // At least one byte into `buf`, or 0 at end of stream (and for an empty `buf`).
    Task<Result<std::size_t>> read_some(std::span<std::byte> buf, Deadline deadline = {}, CancelToken token = {});
    // Every byte of `bytes`, waiting for room as often as needed. On an error some
    // prefix of `bytes` may have been sent.
    Task<Result<void>> write_all(std::span<const std::byte> bytes, Deadline deadline = {}, CancelToken token = {});

private:
    explicit TcpStream(std::unique_ptr<detail::SocketState<net::TcpStream>> s) noexcept : SocketOwner(std::move(s)) {}
};

// A non-blocking connect to `addr` from `reactor`'s thread: resumes once the handshake
// completed (the stream, registered nowhere), or with the error: ECONNREFUSED
// (std::errc::connection_refused) and the like, timed_out at the deadline,
// operation_canceled on cancel (the half-open socket is closed).
Task<Result<net::TcpStream>> connect(reactor::Reactor& reactor, net::SocketAddr addr, Deadline deadline = {},
                                     CancelToken token = {});

}  // namespace pollux::coro
