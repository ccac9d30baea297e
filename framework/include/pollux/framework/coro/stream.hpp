// pollux/framework/coro/stream.hpp — public.
//
// The coroutine flavour of a connection: one task per connection, written as a loop.
//
//     server->set_handler_factory(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
//         for (;;) {
//             auto line = co_await s.read_until('\n', 4096, 30s);   // Result<string_view>
//             if (!line) co_return;                                 // EOF, timeout, close...
//             if (!co_await s.write_all(*line)) co_return;
//         }
//     }));
//
// stream_handler(fn) is a HandlerFactory (callbacks.hpp): TcpServer, UnixServer and
// TcpClient take it like any other, so the tasks run on the same Connection engine as
// the callback flavour (same reads, same output queue, same limits and close sequence).
//
// * The task. fn(stream) is called on the connection's reactor thread when it opens;
//   its task runs there until its first suspension, and every resumption comes from that
//   reactor's events or timers. fn must stay callable as long as the server (the factory
//   keeps it); the Stream& is valid until the task ends. When the task ends, the
//   connection closes gracefully (Connection::close: queued output is flushed first).
// * Reads. The Connection reads as usual; its input goes straight to the suspended read:
//     read(buf)               Result<size_t>: copies what is there (at least 1 byte) into
//                             buf; 0 at end of stream (so buf must not be empty).
//     read_exact(buf)         Result<void>: fills buf; StreamErrc::eof if the stream ends
//                             first (what was copied stays in buf).
//     read_some()             Result<span<const byte>>: every byte received and not read
//                             yet, without a copy; empty at end of stream.
//     read_until(c, max)      Result<string_view>: the bytes up to and including the
//                             first `c`; std::errc::message_size when max bytes hold no
//                             `c` (nothing is consumed); StreamErrc::eof when the stream
//                             ends first (an unterminated last line is dropped).
//   The views of read_some and read_until point into the connection's input: they stay
//   valid until the task's next co_await (then the bytes are consumed), so a view can be
//   written (write_all copies it) but not kept. Bytes that arrive while no read waits
//   stay in the connection's input and reading pauses (Connection::pause_reading: the
//   kernel's buffer and TCP flow control hold the peer) until the next read.
// * Writes. write_all(bytes) copies into the output queue at once (the direct write
//   first, as Connection::send), then suspends while the queue holds
//   ConnectionOptions::high_water_mark bytes or more, until it has drained empty:
//   backpressure. A closed connection gives std::errc::not_connected.
// * One thread. A connection's task (its children under when_all included) stays on its
//   connection's reactor: post_to() from it fails with std::errc::operation_not_permitted
//   (its connection's close may destroy it at any moment, from that reactor's thread).
//   Work for another reactor: spawn() a task there, or Reactor::post.
// * One read and one write at a time (a second of either fails with
//   std::errc::operation_in_progress), e.g. a reader and a writer task under when_all.
// * Deadlines and tokens (cancel.hpp): every read and write takes them; they end the wait
//   (std::errc::timed_out, std::errc::operation_canceled) with the connection intact.
// * Close. When the connection closes (peer, limit, idle timeout, Stream::close, server
//   stop...), the suspended read or write resumes with std::errc::connection_reset (the
//   peer reset) or std::errc::operation_canceled (any other reason), then token()'s
//   source is cancelled (so a sleep_for(d, s.token()) ends too). If the task is then
//   still suspended anywhere, it is destroyed where it is (locals' destructors run): no
//   task outlives its connection, and a server's stop() waits for its tasks exactly as
//   for its connections (bounded by the grace).
// * EOF. The peer's shutdown does not close the connection: reads report end of stream
//   and writes still work until the task ends or calls close().
// * Limits. The connection's options apply as in the callback flavour: idle_timeout
//   (no byte in or out for that long closes it, whatever the task awaits), max_input,
//   max_output, linger_timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <coroutine>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "pollux/core/result.hpp"
#include "pollux/framework/buffer.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/coro/cancel.hpp"
#include "pollux/framework/coro/task.hpp"

namespace pollux::coro {

enum class StreamErrc {
    eof = 1,  // the stream ended before the read could complete
};
const std::error_category& stream_category() noexcept;
inline std::error_code make_error_code(StreamErrc e) noexcept { return {static_cast<int>(e), stream_category()}; }

}  // namespace pollux::coro

template <>
struct std::is_error_code_enum<pollux::coro::StreamErrc> : std::true_type {};

namespace pollux::coro {

class Stream;

namespace detail {
class StreamHandler;
}

// The suspended part of a read (what the four reads share). Made once per read, so it
// stores only what its kind reads: the destination (copy, exact) or the delimiter and
// the limit (line).
class ReadOp : public Waiter {
public:
    enum class Kind : unsigned char { copy, exact, view, line };
    struct Args {
        std::span<std::byte> buf;  // copy, exact
        char delim;                // line
        std::size_t max;           // line
    };
    template <class... Wait>  // none, or a Deadline and a CancelToken
    [[gnu::always_inline]] ReadOp(Stream& s, Kind kind, Args a, Wait... w) noexcept
        : Waiter(w...), s_(&s), kind_(kind) {
        if (kind == Kind::exact) got_ = 0;
        if (kind == Kind::copy || kind == Kind::exact) {
            dst_ = {a.buf.data(), a.buf.size()};
        } else if (kind == Kind::line) {
            line_ = {a.max, a.delim};
        }
    }

    [[gnu::always_inline]] inline bool await_ready() noexcept;
    template <class P>
    [[gnu::always_inline]] void await_suspend(std::coroutine_handle<P> h) noexcept {
        suspend(h, &ReadOp::abandon);
        wait();
    }

protected:
    [[gnu::always_inline]] inline ~ReadOp();

    Stream* s_;
    // Set when the read completes without an error (exact: from the start).
    std::size_t got_;           // copy, exact: bytes copied; view, line: the view's size
    const std::byte* view_;     // view, line
    Kind kind_;
    struct Destination {
        std::byte* data;
        std::size_t size;
    };
    struct Line {
        std::size_t max;
        char delim;
    };
    union {                     // by kind; the other is never set
        Destination dst_;       // copy, exact
        Line line_;             // line
    };

private:
    friend class detail::StreamHandler;
    bool ready_slow() noexcept;
    [[gnu::always_inline]] inline void wait() noexcept;
    [[gnu::always_inline]] inline bool try_complete(framework::Buffer& in) noexcept;
    bool try_complete_slow(framework::Buffer& in) noexcept;
    static void abandon(Waiter& w) noexcept;
};

template <ReadOp::Kind K>
class ReadAwaiter final : public ReadOp {
public:
    using ReadOp::ReadOp;
    auto await_resume() const noexcept {
        if constexpr (K == Kind::copy) {
            return failed() ? Result<std::size_t>(std::unexpected(error())) : Result<std::size_t>(got_);
        } else if constexpr (K == Kind::exact) {
            return failed() ? Result<void>(std::unexpected(error())) : Result<void>();
        } else if constexpr (K == Kind::view) {
            using R = Result<std::span<const std::byte>>;
            return failed() ? R(std::unexpected(error())) : R(std::span<const std::byte>(view_, got_));
        } else {
            using R = Result<std::string_view>;
            return failed() ? R(std::unexpected(error()))
                            : R(std::string_view(reinterpret_cast<const char*>(view_), got_));
        }
    }
};

class WriteAwaiter final : public Waiter {
public:
    template <class... Wait>  // none, or a Deadline and a CancelToken
    [[gnu::always_inline]] WriteAwaiter(Stream& s, std::span<const std::byte> data, Wait... w) noexcept
        : Waiter(w...), s_(&s), data_(data) {}
    [[gnu::always_inline]] inline ~WriteAwaiter();
    [[gnu::always_inline]] inline bool await_ready() noexcept;
    template <class P>
    [[gnu::always_inline]] void await_suspend(std::coroutine_handle<P> h) noexcept {
        suspend(h, &WriteAwaiter::abandon);
        wait();
    }
    Result<void> await_resume() const noexcept {
        if (failed()) return std::unexpected(error());
        return {};
    }

private:
    friend class detail::StreamHandler;
    bool ready_slow() noexcept;
    void wait() noexcept;
    static void abandon(Waiter& w) noexcept;
    Stream* s_;
    std::span<const std::byte> data_;
};

class Stream {
public:
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Each with and without a deadline and token: a default argument would be one more
    // object in the awaiting coroutine's frame, stored at every call.
    ReadAwaiter<ReadOp::Kind::copy> read(std::span<std::byte> buf) noexcept {
        return {*this, ReadOp::Kind::copy, {buf, '\0', 0}};
    }
    ReadAwaiter<ReadOp::Kind::copy> read(std::span<std::byte> buf, Deadline d, CancelToken t = {}) noexcept {
        return {*this, ReadOp::Kind::copy, {buf, '\0', 0}, d, t};
    }
    ReadAwaiter<ReadOp::Kind::exact> read_exact(std::span<std::byte> buf) noexcept {
        return {*this, ReadOp::Kind::exact, {buf, '\0', 0}};
    }
    ReadAwaiter<ReadOp::Kind::exact> read_exact(std::span<std::byte> buf, Deadline d, CancelToken t = {}) noexcept {
        return {*this, ReadOp::Kind::exact, {buf, '\0', 0}, d, t};
    }
    ReadAwaiter<ReadOp::Kind::view> read_some() noexcept { return {*this, ReadOp::Kind::view, {}}; }
    ReadAwaiter<ReadOp::Kind::view> read_some(Deadline d, CancelToken t = {}) noexcept {
        return {*this, ReadOp::Kind::view, {}, d, t};
    }
    ReadAwaiter<ReadOp::Kind::line> read_until(char delim, std::size_t max) noexcept {
        return {*this, ReadOp::Kind::line, {{}, delim, max}};
    }
    ReadAwaiter<ReadOp::Kind::line> read_until(char delim, std::size_t max, Deadline d, CancelToken t = {}) noexcept {
        return {*this, ReadOp::Kind::line, {{}, delim, max}, d, t};
    }
    WriteAwaiter write_all(std::span<const std::byte> data) noexcept { return {*this, data}; }
    WriteAwaiter write_all(std::span<const std::byte> data, Deadline d, CancelToken t = {}) noexcept {
        return {*this, data, d, t};
    }
    WriteAwaiter write_all(std::string_view text) noexcept { return {*this, std::as_bytes(std::span(text))}; }
    WriteAwaiter write_all(std::string_view text, Deadline d, CancelToken t = {}) noexcept {
        return {*this, std::as_bytes(std::span(text)), d, t};
    }

    // Connection::close / shutdown_write (nothing once closed).
    void close() noexcept;
    void shutdown_write() noexcept;
    // The connection while it is open (null once closed): options, set_deadline, ref...
    framework::Connection* connection() const noexcept { return conn_; }
    // Cancelled when the connection closes: pass it to awaits that are not the Stream's.
    CancelToken token() noexcept { return closed_.token(); }

private:
    friend class ReadOp;
    friend class WriteAwaiter;
    friend class detail::StreamHandler;
    Stream() noexcept = default;
    void consume_view() noexcept {
        if (view_ != 0 && in_ != nullptr) in_->consume(view_);
        view_ = 0;
    }

    framework::Connection* conn_ = nullptr;
    framework::Buffer* in_ = nullptr;  // the input, while on_data runs
    std::size_t view_ = 0;             // bytes of a handed-out view, consumed at the next read
    std::size_t high_water_ = 0;       // the connection's high_water_mark (0: SIZE_MAX)
    ReadOp* reader_ = nullptr;
    WriteAwaiter* writer_ = nullptr;
    // Nonzero when a read must look further than "suspend" (ReadOp::ready_slow): input
    // is at hand (inside on_data), the stream ended (kEof is the end-of-stream flag), or
    // the connection closed.
    enum : std::uint8_t { kInputAtHand = 1, kEof = 2, kClosed = 4 };
    std::uint8_t slow_read_ = 0;
    std::error_code closed_ec_;        // what a pending await gets when the connection closes
    CancelSource closed_;
};

// ---- the per-message paths, inline ----

// Stream::reader_ points to a read only while it is pending (suspended).
ReadOp::~ReadOp() {
    if (pending()) [[unlikely]] abandon(*this);
}

bool ReadOp::try_complete(framework::Buffer& in) noexcept {
    if (kind_ != Kind::view) return try_complete_slow(in);
    const std::size_t n = in.readable_size();
    if (n == 0) return false;
    view_ = in.readable().data();
    got_ = n;
    s_->view_ = n;
    return true;
}

bool ReadOp::await_ready() noexcept {
    Stream& s = *s_;
    // The common case: no input at hand, the stream is open, nothing else waits, no
    // deadline or token: suspend.
    if (s.slow_read_ != 0 || s.reader_ != nullptr || waits()) return ready_slow();
    return false;
}

void ReadOp::wait() noexcept {
    s_->reader_ = this;
    // Input kept while no read waited comes back through on_data in the next round.
    if (s_->conn_->is_reading_paused()) [[unlikely]] s_->conn_->resume_reading();
}

// Stream::writer_ points to a write only while it is pending (suspended).
WriteAwaiter::~WriteAwaiter() {
    if (pending()) [[unlikely]] abandon(*this);
}

bool WriteAwaiter::await_ready() noexcept {
    Stream& s = *s_;
    framework::Connection* c = s.conn_;
    if (c == nullptr || s.writer_ != nullptr || waits()) return ready_slow();
    c->send(data_);
    if (!c->is_open()) {  // the send hit max_output, or the socket failed
        set_error(std::make_error_code(std::errc::not_connected));
        return true;
    }
    return c->output_size() < s.high_water_;
}

namespace detail {

// One per connection: the Stream, the task, and the connection's callbacks feeding them.
class StreamHandler final : public framework::ConnectionHandler {
public:
    using Start = Task<void> (*)(void* fn, Stream& s);
    StreamHandler(Start start, void* fn) noexcept : start_(start), fn_(fn) {}
    ~StreamHandler() override;

    void on_open(framework::Connection& conn) override;
    void on_data(framework::Connection& conn, framework::Buffer& in) override;
    void on_write_complete(framework::Connection& conn) override;
    void on_read_closed(framework::Connection& conn) override;
    void on_close(framework::Connection& conn, framework::CloseReason reason) override;

private:
    friend bool pinned_to_connection(const PromiseBase& p) noexcept;
    static std::coroutine_handle<> end(void* ctx, PromiseBase& p, bool finished) noexcept;
    [[gnu::noinline]] void deliver(framework::Connection& conn, framework::Buffer& in);
    Start start_;
    void* fn_;
    PromiseBase* task_ = nullptr;  // the running root, null once it ended
    Stream stream_;
};

}  // namespace detail

// A HandlerFactory running `fn(Stream&) -> Task<void>` once per connection (see above).
template <class Fn>
    requires std::is_invocable_r_v<Task<void>, Fn&, Stream&>
framework::HandlerFactory stream_handler(Fn fn) {
    auto shared = std::make_shared<Fn>(std::move(fn));
    return [shared](framework::Connection&) -> std::unique_ptr<framework::ConnectionHandler> {
        return std::make_unique<detail::StreamHandler>(
            [](void* f, Stream& s) -> Task<void> { return (*static_cast<Fn*>(f))(s); }, shared.get());
    };
}

}  // namespace pollux::coro
