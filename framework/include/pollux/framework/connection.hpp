// pollux/framework/connection.hpp — public.
//
// A `Connection` is one accepted (or connected) stream socket on one reactor, with its
// input Buffer, its OutputQueue and its handler. The framework creates it, calls the
// handler (callbacks.hpp) and destroys it; the application only ever sees a
// `Connection&` inside a callback, or a ConnectionRef (connection_ref.hpp) elsewhere.
//
//     void on_data(Connection& conn, Buffer& in) override {
//         conn.send(in.readable());     // echo
//         in.consume_all();
//     }
//
// Threads. Every member runs on the connection's reactor thread (inside callbacks,
// timers and tasks of that reactor, or through ConnectionRef::dispatch); debug builds
// assert it. From any other thread, use a ConnectionRef (docs/framework.md has the
// table of which operation lives where).
//
// Writing: `send`.
//   * The direct write comes first: when nothing is queued, `send` calls write(2) at
//     once and queues only what the kernel did not take. Nothing is allocated, no
//     epoll_ctl is made. The bytes are copied into the queue (pooled chunks), so the
//     caller's span may be reused as soon as send returns.
//   * The socket is registered once, READABLE | WRITABLE, edge-triggered. An unused
//     WRITABLE interest costs nothing (the kernel signals it only after a write hit
//     EAGAIN), so there is never an epoll_ctl per message or per backlog episode. On
//     WRITABLE the queue is flushed with sendmsg(2) of up to 64 chunk slices per call.
//   * on_high_water fires when the queue crosses ConnectionOptions::high_water_mark
//     (once per crossing; it may be called from inside send), on_write_complete when it
//     drains. A send that would take the queue above max_output drops the queue and
//     closes the connection at once with CloseReason::limit and a reset.
//   * After close(), abort(), shutdown_write() or on_close, send does nothing.
// Reading. On READABLE, when no input is left over from before, one recv(2) reads into
//   the reactor's 64 KiB scratch Buffer and on_data gets that; whatever the handler
//   leaves is copied into the connection's own input Buffer. With input left over,
//   one readv fills the input Buffer's tail and spills into the scratch. Either way
//   on_data is called after each read with all unconsumed input, and a read that
//   returned less than it asked for ends the turn (the socket is drained; the next
//   byte raises a new edge). At most ConnectionOptions::read_budget bytes are read per
//   turn; then the connection is requeued on its reactor (Reactor::requeue_in_loop:
//   edge-triggered epoll would not tell again) and continues in the next round, after
//   every other connection that was ready and after the poller has run.
//   `pause_reading()` stops
//   calling on_data (the kernel's receive buffer then fills and TCP flow control slows
//   the peer); `resume_reading()` continues. A handler that leaves max_input bytes
//   unconsumed and still needs more closes with CloseReason::limit.
// Closing.
//   * `shutdown_write()`: once the queue has drained, shutdown(SHUT_WR); the peer reads
//     EOF. Reading continues.
//   * `close(reason)`: graceful. Stops reading for the handler, flushes the queue, then
//     shutdown(SHUT_WR), then reads and discards input until the peer's EOF, then closes
//     the fd: the peer never gets a reset that would destroy data it has not read yet
//     (RFC 1122 4.2.2.13; nginx's lingering close). The whole sequence is bounded by
//     ConnectionOptions::linger_timeout. When it runs out with output still queued,
//     that output is dropped and the fd is closed with a reset (SO_LINGER 0), so the
//     peer can tell truncation from success, and the reason becomes
//     CloseReason::linger_timeout (a framework reason -- limit, idle_timeout, deadline,
//     server_stop -- is kept). When only the peer's EOF is missing, the fd is closed
//     as is. A close() after the peer half-closed reports CloseReason::peer_closed.
//   * `abort(reason)`: immediate and abortive: the queue is dropped and the fd is
//     closed with a reset.
//   * Either way on_close(reason) comes later, never inside the call that closed (see
//     callbacks.hpp, "Close first, callback later").
//   * Unix streams have no reset: where TCP resets, a Unix peer reads end of stream;
//     the close reason and metrics (output_dropped) still say what happened.
//   * Errors: ECONNRESET / EPIPE close at once with CloseReason::reset, any other socket
//     error with CloseReason::error.
// Deadline. `set_deadline(d)` arms one absolute deadline per connection (re-arming
//   replaces it; traffic does not move it, unlike idle_timeout): when it passes,
//   on_deadline runs (default: close with CloseReason::deadline). An HTTP server arms
//   it at a request's first byte to bound the headers, whatever the peer trickles.
//   Closing cancels it.
// Lifetime. After on_close the Connection is dead for the application; it is destroyed
//   right after on_close returns. A callback that closes its own connection may keep
//   using the Connection& until it returns (sends are ignored); stale events are dropped
//   by the reactor's generation check.
// Memory. Input and output storage come from the reactor's BufferPool and go back when
//   empty: an idle connection holds sizeof(Connection) plus its handler, nothing else.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <variant>

#include "pollux/core/event.hpp"
#include "pollux/framework/buffer.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection_ref.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/output_queue.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/net/unix_stream.hpp"
#include "pollux/reactor/event_handler.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/registration_table.hpp"
#include "pollux/reactor/timer_wheel.hpp"

namespace pollux::framework {

class ConnectionHost;  // internal: one per reactor, owns that reactor's connections

class Connection final : private reactor::EventHandler {
public:
    // The stream kinds a Connection runs over.
    using Stream = std::variant<net::TcpStream, net::UnixStream>;

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // ---- output ----
    void send(std::span<const std::byte> data);
    void send(std::string_view text) { send(std::as_bytes(std::span(text.data(), text.size()))); }
    // Like send(readable), but may adopt the buffer's chunk instead of copying it.
    // `data` is empty afterwards.
    void send(Buffer&& data);
    // Bytes queued and not yet written.
    std::size_t output_size() const noexcept { return output_.size(); }

    // ---- input ----
    void pause_reading() noexcept { read_hold_ |= kPaused; }
    void resume_reading();
    bool is_reading_paused() const noexcept { return (read_hold_ & kPaused) != 0; }
    // True while on_data runs over the reactor's read scratch (`in` is that scratch, not
    // the connection's own input). Emptying the scratch gives no storage back: its bytes
    // stay where they are until the reactor's next read, which comes only after on_data
    // has returned.
    bool reads_scratch(const Buffer& in) const noexcept { return reading_ == &in; }
    // Bytes received and not yet consumed.
    std::size_t input_size() const noexcept {
        return reading_ != nullptr ? reading_->readable_size() : input_.readable_size();
    }

    // ---- deadline ----
    using Clock = reactor::Reactor::Clock;
    // Arms (or re-arms) the deadline `after` from now (saturating). Ignored once closing.
    void set_deadline(std::chrono::milliseconds after);
    void set_deadline_at(Clock::time_point when);
    void clear_deadline() noexcept;
    bool has_deadline() const noexcept { return deadline_.valid(); }

    // ---- closing ----
    void shutdown_write();
    void close(CloseReason reason = CloseReason::local_close);
    void abort(CloseReason reason = CloseReason::local_close);
    // Open: not closing, not closed (sends are accepted).
    bool is_open() const noexcept { return state_ == State::open; }
    // The peer has shut down its write side.
    bool is_read_closed() const noexcept { return read_closed_; }

    // ---- identity ----
    ConnectionRef ref() const noexcept;
    reactor::Reactor& reactor() const noexcept;
    const ConnectionOptions& options() const noexcept;
    ConnectionHandler& handler() noexcept { return *handler_; }
    // The socket (fd() is -1 once closed). Exactly one of these is non-null while open.
    int fd() const noexcept;
    const net::TcpStream* tcp_stream() const noexcept { return std::get_if<net::TcpStream>(&stream_); }
    const net::UnixStream* unix_stream() const noexcept { return std::get_if<net::UnixStream>(&stream_); }
    // One pointer of application data, never touched by the framework.
    void* context() const noexcept { return context_; }
    void set_context(void* context) noexcept { context_ = context; }

private:
    friend class ConnectionHost;
    enum class State : std::uint8_t { open, closing, lingering, closed };
    enum class WriteSide : std::uint8_t { open, shutdown_pending, shut };

    Connection(ConnectionHost& host, Stream stream, std::uint32_t slot, std::uint32_t generation);
    ~Connection();

    // Host-side life cycle.
    Result<void> open_in_loop(ConnectionHandler& handler, std::unique_ptr<ConnectionHandler> owned);
    void deliver_open_in_loop();
    void close_for_stop_in_loop(CloseReason reason, std::chrono::milliseconds linger);
    void abort_for_stop_in_loop(CloseReason reason);

    void on_event(const Event& ev) override;
    [[gnu::noinline]] void on_other_event(const Event& ev);
    void handle_read(bool until_would_block);
    void flush();
    void after_drain();
    void begin_close(CloseReason reason, std::chrono::milliseconds linger);
    void begin_linger();
    void on_linger_timer();
    // graceful: close(2) as is; abortive: with a reset (abort()); output_cap: with a
    // reset because a send would pass max_output.
    enum class Ending : std::uint8_t { graceful, abortive, output_cap };
    void finish(CloseReason reason, Ending ending = Ending::graceful);
    void fail(const std::error_code& ec);
    void queue_read();
    void on_deadline_timer();
    void arm_idle_timer();
    void on_idle_timer();
    void cancel_timer() noexcept;
    void note_activity() noexcept { quiet_ticks_ = 0; }
    Result<std::size_t> write_some(std::span<const std::byte> data);
    void send_rest(std::span<const std::byte> data, long n);
    Result<std::size_t> write_slices(std::span<const IoSlice> slices);
    Result<std::size_t> read_slices(std::span<IoSliceMut> slices);
    std::size_t scratch_ask(const Buffer& scratch) const noexcept;
    Result<std::size_t> read_once(Buffer*& into, std::size_t& asked, std::size_t max_input);
    void deliver_scratch(Buffer& scratch);

    ConnectionHost* host_;
    ConnectionHandler* handler_ = nullptr;
    std::unique_ptr<ConnectionHandler> owned_handler_;  // null for a shared (lambda) handler
    void* context_ = nullptr;
    Stream stream_;
    Buffer input_;
    OutputQueue output_;
    const Buffer* reading_ = nullptr;  // the reactor's scratch while on_data reads from it
    reactor::RegistrationId registration_{};
    reactor::TimerId timer_{};  // idle checks while open; the linger deadline while closing
    reactor::TimerId deadline_{};  // set_deadline's timer
    ReactorMetrics* metrics_;  // the host's block
    static constexpr long kNoSyscall = -1 - 4096;  // never an -errno
    long pending_read_ = kNoSyscall;  // a recv result on_event handed to handle_read
    int fd_ = -1;  // the stream's fd while registered (the data path's syscalls use it)
    std::uint32_t slot_;
    std::uint32_t generation_;
    State state_ = State::open;
    CloseReason reason_ = CloseReason::local_close;  // while closing/lingering
    std::uint8_t quiet_ticks_ = 0;                   // idle checks without activity
    bool opened_ = false;          // on_open delivered: on_close is owed
    bool read_closed_ = false;     // read returned 0
    bool redeliver_ = false;       // resume_reading: hand the kept input to on_data again
    // Why the next readable event cannot take on_event's fast path (0: it can):
    // kPaused (pause_reading), kDrainOwed (queue_read: that turn reads until WouldBlock).
    static constexpr std::uint8_t kPaused = 1;
    static constexpr std::uint8_t kDrainOwed = 2;
    std::uint8_t read_hold_ = 0;
    // shutdown_pending: shutdown_write() asked, the queue is not drained yet.
    WriteSide write_side_ = WriteSide::open;
    bool had_output_ = false;      // the queue held bytes since the last on_write_complete
};

}  // namespace pollux::framework
