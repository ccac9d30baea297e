// pollux/framework/callbacks.hpp — public.
//
// Every callback and handler type an application sees, in one place (muduo's Callbacks.h):
//
//   ConnectionHandler   subclass it for a protocol: one object per connection, made by a
//                       HandlerFactory, destroyed after its on_close.
//   HandlerFactory      makes that object when a connection opens.
//   On*Callback         the lambda flavour, for small servers: TcpServer::on_data(...)
//                       and friends build one shared handler that calls them
//                       (detail::CallbackHandler; on_data's callable is stored with
//                       its own type, so a message costs one virtual call, as for a
//                       subclass).
//   DatagramCallback    UdpServer's one callback per received datagram (its own
//                       contract is at the end of this header and in udp_server.hpp).
//
// The contract, for both flavours:
//
// * Thread. Every callback runs on the connection's reactor thread, never concurrently
//   for one connection. Use ConnectionRef (connection_ref.hpp) to reach a connection
//   from another thread.
// * Order. on_open first. Then any mix of on_data, on_write_complete, on_high_water,
//   on_read_closed, on_timeout, on_deadline. on_close last, exactly once per connection
//   that was opened, with one CloseReason (metrics.hpp). No callback after on_close:
//   the Connection& is dead once on_close returns (keep a ConnectionRef, not a pointer).
// * Close first, callback later. After close()/abort() (or a limit or error the
//   framework hits) only on_close follows, and never from inside the call that closed:
//   on_close runs after the current callback (or task, or timer) has returned, in the
//   reactor's deferred phase. So a handler may free what it owns in on_close even if
//   its own on_data triggered the close through send(). close() waits for the output
//   to flush, so on_close may come much later (bounded by the linger timeout).
// * on_data(conn, input). `input` holds every byte received and not yet consumed. Call
//   `input.consume(n)` for what you used; the rest stays for the next call. A handler
//   that leaves ConnectionOptions::max_input bytes unconsumed and still needs more (a
//   message larger than max_input) gets the connection closed with CloseReason::limit.
//   Reads stop at the room left, so bytes the handler would have consumed never count. `input` is valid during the call only and need not be the
//   same object each time (when nothing was left over, it is the reactor's shared
//   read buffer); keep bytes, not a pointer to it. Moving from it or sending it with
//   `send(std::move(input))` is fine.
// * on_high_water(conn). The output queue (bytes `send` could not write yet) crossed
//   ConnectionOptions::high_water_mark; once per crossing. Stop producing (e.g.
//   `conn.pause_reading()`) until on_write_complete. Past max_output the connection
//   closes with CloseReason::limit.
// * on_write_complete(conn). The output queue drained to empty after having held bytes.
//   Not called for a send that went out entirely in the direct write.
// * on_read_closed(conn). The peer shut down its write side (read returned 0). The
//   connection stays writable. The default closes gracefully (close(): queued output is
//   flushed first, on_close then reports CloseReason::peer_closed); override it to keep
//   talking and close yourself later.
// * on_timeout(conn). No byte was received or sent for ConnectionOptions::idle_timeout.
//   The default calls conn.close(CloseReason::idle_timeout); an override that does not
//   close keeps the connection for another idle period.
// * on_deadline(conn). The deadline armed with conn.set_deadline(...) passed (one per
//   connection; traffic does not move it). The default calls
//   conn.close(CloseReason::deadline); an override may answer first (an HTTP 408, say),
//   re-arm, or do nothing.
// * on_close(conn, reason). The fd is closed and the connection deregistered:
//   send/close do nothing now. The Connection is deleted when on_close returns.
// * Exceptions. One policy for every callback, task and timer pollux runs: they are
//   called from noexcept code, so an exception escaping one calls std::terminate (the
//   connection's state would be unknown). Catch inside the callback.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include "pollux/framework/buffer.hpp"
#include "pollux/framework/metrics.hpp"

namespace pollux::framework {

class Connection;
class UdpContext;  // udp_server.hpp

class ConnectionHandler {
public:
    virtual ~ConnectionHandler() = default;

    virtual void on_open(Connection&) {}
    virtual void on_data(Connection& conn, Buffer& input) = 0;
    virtual void on_write_complete(Connection&) {}
    virtual void on_high_water(Connection&) {}
    // Default: conn.close() — flush, then close with CloseReason::peer_closed.
    virtual void on_read_closed(Connection& conn);
    // Default: conn.close(CloseReason::idle_timeout).
    virtual void on_timeout(Connection& conn);
    // Default: conn.close(CloseReason::deadline).
    virtual void on_deadline(Connection& conn);
    virtual void on_close(Connection&, CloseReason) {}

protected:
    ConnectionHandler() = default;
    ConnectionHandler(const ConnectionHandler&) = default;
    ConnectionHandler& operator=(const ConnectionHandler&) = default;
};

// Makes the handler of a newly opened connection (on its reactor thread, before
// on_open). Returning null aborts the connection (no on_open, no on_close).
using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>(Connection&)>;

// The lambda flavour. Each is optional; an unset on_data discards input.
using OnOpenCallback = std::function<void(Connection&)>;
using OnDataCallback = std::function<void(Connection&, Buffer&)>;
using OnWriteCompleteCallback = std::function<void(Connection&)>;
using OnHighWaterCallback = std::function<void(Connection&)>;
using OnReadClosedCallback = std::function<void(Connection&)>;  // unset: the default above
using OnTimeoutCallback = std::function<void(Connection&)>;     // unset: the default above
using OnDeadlineCallback = std::function<void(Connection&)>;    // unset: the default above
using OnCloseCallback = std::function<void(Connection&, CloseReason)>;

// The set of lambdas; TcpServer turns it into one handler shared by all connections.
struct ConnectionCallbacks {
    OnOpenCallback on_open;
    OnDataCallback on_data;
    OnWriteCompleteCallback on_write_complete;
    OnHighWaterCallback on_high_water;
    OnReadClosedCallback on_read_closed;
    OnTimeoutCallback on_timeout;
    OnDeadlineCallback on_deadline;
    OnCloseCallback on_close;
};

namespace detail {

// The handler behind the lambda flavour: one object shared by every connection of a
// server, calling the callbacks that were set (or the defaults). Stateless apart from
// them, so sharing it across reactors is safe as long as the lambdas themselves are.
class CallbackHandler : public ConnectionHandler {
public:
    explicit CallbackHandler(const ConnectionCallbacks& callbacks) noexcept : cb_(callbacks) {}

    void on_open(Connection& c) override;
    void on_data(Connection& c, Buffer& in) override;  // unset: discard the input
    void on_write_complete(Connection& c) override;
    void on_high_water(Connection& c) override;
    void on_read_closed(Connection& c) override;
    void on_timeout(Connection& c) override;
    void on_deadline(Connection& c) override;
    void on_close(Connection& c, CloseReason r) override;

private:
    const ConnectionCallbacks& cb_;
};

// HandlerSetup::on_data(fn) keeps fn's own type, so the per-message call is one
// virtual call with fn inlined into it, as for a ConnectionHandler subclass; a
// std::function in between would add a second indirect call per message.
template <class Fn>
class DataCallbackHandler final : public CallbackHandler {
public:
    DataCallbackHandler(const ConnectionCallbacks& callbacks, Fn fn) : CallbackHandler(callbacks), fn_(std::move(fn)) {}
    void on_data(Connection& c, Buffer& in) override { fn_(c, in); }

private:
    Fn fn_;
};

}  // namespace detail

// How a server or client learns its handlers: lambdas (one handler shared by every
// connection) or a factory (one handler per connection; a factory wins over the
// lambdas). TcpServer, UnixServer and TcpClient inherit these setters. Call them before
// start() (a client: before the first connect()), from the thread that created it.
class HandlerSetup {
public:
    HandlerSetup(const HandlerSetup&) = delete;
    HandlerSetup& operator=(const HandlerSetup&) = delete;

    void set_handler_factory(HandlerFactory factory) { set_->factory = std::move(factory); }
    void on_open(OnOpenCallback cb) { set_->callbacks.on_open = std::move(cb); }
    // Any callable as void(Connection&, Buffer&): a lambda, a function pointer, an
    // OnDataCallback. An empty one (or nullptr) means "discard the input".
    template <class Fn>
    void on_data(Fn&& fn) {
        using F = std::decay_t<Fn>;
        static_assert(std::is_invocable_v<F&, Connection&, Buffer&>, "on_data wants void(Connection&, Buffer&)");
        if constexpr (std::is_constructible_v<bool, const F&>) {
            if (!static_cast<bool>(fn)) return on_data(nullptr);
        }
        set_->data_handler = std::make_unique<detail::DataCallbackHandler<F>>(set_->callbacks, std::forward<Fn>(fn));
        set_->shared = set_->data_handler.get();
    }
    void on_data(std::nullptr_t) {
        set_->shared = &set_->default_handler;
        set_->data_handler.reset();
    }
    void on_write_complete(OnWriteCompleteCallback cb) { set_->callbacks.on_write_complete = std::move(cb); }
    void on_high_water(OnHighWaterCallback cb) { set_->callbacks.on_high_water = std::move(cb); }
    void on_read_closed(OnReadClosedCallback cb) { set_->callbacks.on_read_closed = std::move(cb); }
    void on_timeout(OnTimeoutCallback cb) { set_->callbacks.on_timeout = std::move(cb); }
    void on_deadline(OnDeadlineCallback cb) { set_->callbacks.on_deadline = std::move(cb); }
    void on_close(OnCloseCallback cb) { set_->callbacks.on_close = std::move(cb); }

    // What the setters fill in. Shared with the connection hosts, so a late on_close
    // (delivered after its server or client object is gone) still finds its handler.
    struct Handlers {
        ConnectionCallbacks callbacks;
        HandlerFactory factory;
        detail::CallbackHandler default_handler{callbacks};
        std::unique_ptr<ConnectionHandler> data_handler;
        // The handler shared by every connection when there is no factory, read when a
        // connection opens: data_handler once on_data was set, else default_handler.
        ConnectionHandler* shared = &default_handler;
    };
    const std::shared_ptr<Handlers>& handlers() const noexcept { return set_; }

protected:
    HandlerSetup() = default;
    ~HandlerSetup() = default;

private:
    std::shared_ptr<Handlers> set_ = std::make_shared<Handlers>();
};

// UdpServer (udp_server.hpp): called once per received datagram, on the reactor thread
// that owns the receiving socket, never concurrently with itself on one reactor but
// concurrently on different reactors (so it must be thread-safe). `bytes` and `ctx` are
// valid only during the call. `truncated`: the datagram was longer than `bytes` (the
// kernel cut it; ctx.full_size() is its length on the wire). Answer with ctx.reply.
using DatagramCallback = std::function<void(UdpContext& ctx, std::span<const std::byte> bytes, bool truncated)>;

}  // namespace pollux::framework
