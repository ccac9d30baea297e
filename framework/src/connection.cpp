// framework/src/connection.cpp — internal.
//
// State machine (reason_ is fixed when closing starts):
//
//     open --close()/limit/stop--> closing --queue drained--> lingering --peer EOF--> closed
//       |                            |      (shutdown SHUT_WR)    |  (input discarded)
//       |                            |                            +-- linger timer ----> closed
//       |                            +-- linger timer: output dropped, reset ----------> closed
//       +--abort() (reset) / reset / error / output cap (reset) -----------------------> closed
//
// `closed` is entered by finish() only: deregister, drop buffers (a reset if output was
// dropped), close the fd, hand the object to the host. The host delivers on_close in
// the deferred phase and deletes it (connection_host.hpp).
#include "pollux/framework/connection.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

#include "connection_host.hpp"
#include "stream_source.hpp"
#include "pollux/core/detail/syscall.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/registry.hpp"

namespace pollux::framework {

namespace {

constexpr std::size_t kFlushSlices = 64;

}  // namespace

Connection::Connection(ConnectionHost& host, Stream stream, std::uint32_t slot, std::uint32_t generation)
    : host_(&host),
      stream_(std::move(stream)),
      input_(&host.pool()),
      output_(&host.pool()),
      metrics_(&host.metrics()),
      slot_(slot),
      generation_(generation) {
    output_.set_high_water_mark(host.options().high_water_mark);
}

Connection::~Connection() = default;

ConnectionRef Connection::ref() const noexcept { return ConnectionRef(host_->anchor(), slot_, generation_); }
reactor::Reactor& Connection::reactor() const noexcept { return host_->reactor(); }
const ConnectionOptions& Connection::options() const noexcept { return host_->options(); }
int Connection::fd() const noexcept {
    return std::visit([](const auto& s) { return s.fd(); }, stream_);
}

// ---- life cycle (host) -------------------------------------------------------------

Result<void> Connection::open_in_loop(ConnectionHandler& handler, std::unique_ptr<ConnectionHandler> owned) {
    handler_ = &handler;
    owned_handler_ = std::move(owned);
    detail::StreamSource src{stream_};
    // Registered once for both directions, edge-triggered: no epoll_ctl afterwards.
    auto id = reactor().register_in_loop(src, Interest::READABLE | Interest::WRITABLE, *this);
    if (!id) return std::unexpected(id.error());
    registration_ = *id;
    fd_ = fd();
    return {};
}

void Connection::deliver_open_in_loop() {
    opened_ = true;
    arm_idle_timer();
    handler_->on_open(*this);
}

void Connection::close_for_stop_in_loop(CloseReason reason, std::chrono::milliseconds linger) {
    if (state_ == State::open) begin_close(reason, linger);
}

void Connection::abort_for_stop_in_loop(CloseReason reason) {
    finish(state_ == State::open ? reason : reason_);  // queued output: dropped with a reset
}

// ---- events --------------------------------------------------------------------------

void Connection::on_event(const Event& ev) {
    // The common event of a busy connection: readable, nothing wrong, nothing queued,
    // no partial input. One recv into the reactor's scratch, on_data, done.
    if (ev.is_readable() && !ev.is_error() && !ev.is_read_closed() && state_ == State::open && read_hold_ == 0 &&
        input_.empty() && output_.empty()) [[likely]] {
        ConnectionHost& host = *host_;  // its scratch is intact between reads
        const std::size_t asked = host.scratch_ask();
        const long n = pollux::detail::sys_recv(fd_, host.scratch_at(), asked, 0);
        if (n > 0 && static_cast<std::size_t>(n) < asked) [[likely]] {
            host.scratch_commit(static_cast<std::size_t>(n));
            metrics_->bytes_in.add(static_cast<std::size_t>(n));
            note_activity();
            deliver_scratch(host.scratch());
            return;  // a short read drained the socket (see handle_read)
        }
        if (n == -EAGAIN) return;
        pending_read_ = n;  // EOF, an error, or a full read: handle_read takes it from here
        handle_read(false);
        return;
    }
    on_other_event(ev);
}

// Everything but on_event's fast path. Out of line, so the fast path saves only the
// registers it uses.
void Connection::on_other_event(const Event& ev) {
    if (state_ == State::closed) return;
    if (redeliver_) {  // resume_reading: what was kept while paused comes first
        redeliver_ = false;
        if (state_ == State::open && !is_reading_paused() && !input_.empty()) handler_->on_data(*this, input_);
        if (state_ == State::closed) return;
    }
    if (ev.is_error()) {  // report it even while reading is paused
        auto pending = std::visit([](auto& s) { return s.take_error(); }, stream_);
        if (pending && *pending) {
            fail(**pending);
            return;
        }
    }
    if ((ev.is_writable() || ev.is_error()) && !output_.empty()) flush();
    if (state_ == State::closed) return;
    // A turn that queue_read owed (a budget cut it short, reading resumed, a lingering
    // close began) reads until WouldBlock: the EOF the cut-short event announced may sit
    // behind the data, and no new edge would tell.
    const bool owed = (read_hold_ & kDrainOwed) != 0;
    read_hold_ &= static_cast<std::uint8_t>(~kDrainOwed);
    if (owed || ev.is_readable() || ev.is_read_closed() || ev.is_error()) {
        handle_read(owed || ev.is_read_closed() || ev.is_error());
    }
}

// How much to ask for when reading into the (empty) scratch (ConnectionHost::
// scratch_ask), or 0 when a handler took or shrank the scratch's storage.
[[gnu::always_inline]] inline std::size_t Connection::scratch_ask(const Buffer& scratch) const noexcept {
    return scratch.writable_size() >= ConnectionHost::kScratchSize ? host_->scratch_ask() : 0;
}

namespace {
// The first `n` bytes of `slices` (the slices cut, in place).
std::span<IoSliceMut> first_bytes(std::span<IoSliceMut> slices, std::size_t n) noexcept {
    std::size_t k = 0;
    for (; k < slices.size() && n != 0; ++k) {
        if (slices[k].size() > n) slices[k] = slices[k].bytes().first(n);
        n -= slices[k].size();
    }
    return slices.first(k);
}
}  // namespace

Result<std::size_t> Connection::read_slices(std::span<IoSliceMut> slices) {
    if (auto* tcp = std::get_if<net::TcpStream>(&stream_)) return tcp->read_vectored(slices);
    return std::get<net::UnixStream>(stream_).read_vectored(slices);
}

// The data path goes straight to the kernel on the cached fd (pollux/core/detail/
// syscall.hpp): recv/send are the per-message calls, and the Result layers of
// TcpStream/UnixStream cost more than the rest of the read. Both stream kinds are
// plain stream sockets here, so one call serves both.
[[gnu::always_inline]] inline Result<std::size_t> Connection::write_some(std::span<const std::byte> data) {
    for (;;) {
        const long n = pollux::detail::sys_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) [[likely]] return static_cast<std::size_t>(n);
        if (n != -EINTR) return std::unexpected(errno_code(static_cast<int>(-n)));
    }
}

Result<std::size_t> Connection::write_slices(std::span<const IoSlice> slices) {
    for (;;) {
        auto r = std::visit([&](auto& s) { return s.write_vectored(slices); }, stream_);
        if (r || !is_interrupted(r.error())) return r;
    }
}

// One read, into one of two places:
//
//   input_ empty (the handler consumed everything last time, the common case)
//       recv(2) into the reactor's scratch Buffer; on_data gets the scratch; what the
//       handler leaves is copied into input_ afterwards. No pool chunk is touched.
//   input_ holds a partial message
//       readv(2) into input_'s tail, spilling into the scratch's storage (muduo's
//       extrabuf, shared per reactor instead of 64 KiB of stack per call).
//
// Sets `into` to where the bytes are and `asked` to how many were asked for. The
// scratch is empty between reads; if it is not (a read nested inside on_data), the
// input_ path with a stack spill area is used instead.
[[gnu::always_inline]] inline Result<std::size_t> Connection::read_once(Buffer*& into, std::size_t& asked, std::size_t max_input) {
    Buffer& scratch = host_->scratch();
    if (input_.empty() && scratch.empty()) [[likely]] {
        if (scratch.writable_size() < ConnectionHost::kScratchSize) [[unlikely]] {
            scratch.ensure_writable(ConnectionHost::kScratchSize);  // a handler took or shrank it
        }
        asked = scratch_ask(scratch);
        into = &scratch;
        long n = pending_read_;  // on_event's read, if it made one (same scratch, same size)
        if (n == kNoSyscall) [[likely]] {
            n = pollux::detail::sys_recv(fd_, scratch.writable().data(), asked, 0);
        } else {
            pending_read_ = kNoSyscall;
        }
        if (n <= 0) {
            if (n == 0) return 0;
            return std::unexpected(errno_code(static_cast<int>(-n)));
        }
        const auto got = static_cast<std::size_t>(n);
        scratch.commit(got);
        if (got > max_input) [[unlikely]] {
            scratch.consume_all();
            return error(std::errc::message_size);
        }
        return got;
    }
    assert(pending_read_ == kNoSyscall);
    into = &input_;
    // The handler left `have` bytes and wants more. Read at most the room left, so what
    // the handler may still consume never counts against it. A full input_ with more
    // bytes waiting is the limit: the message in it is larger than max_input.
    const std::size_t have = input_.readable_size();
    if (have >= max_input) [[unlikely]] {
        std::byte probe;
        asked = 1;
        const long n = pollux::detail::sys_recv(fd_, &probe, 1, MSG_PEEK);
        if (n <= 0) return n == 0 ? Result<std::size_t>(0) : std::unexpected(errno_code(static_cast<int>(-n)));
        return error(std::errc::message_size);
    }
    const std::size_t room = max_input - have;
    const auto readv = [this, &asked](std::span<IoSliceMut> s) { return read_slices(first_bytes(s, asked)); };
    if (!scratch.empty()) [[unlikely]] {
        asked = std::min(input_.writable_size() + Buffer::kExtraReadSize, room);
        return input_.read_with(readv, max_input);
    }
    const std::span<std::byte> extra = scratch.writable();
    asked = std::min(input_.writable_size() + extra.size(), room);
    return input_.read_with(readv, max_input, extra);
}

// `until_would_block`: keep reading after a short read. Needed when the event said the
// peer closed (the EOF may sit behind the data just read) and for the turn a requeue
// owes (the cut-short event's news is unknown here). Otherwise a read that returned less than it asked for
// drained the socket, and any byte arriving later raises a new edge (epoll's callback
// runs on every arrival), so the WouldBlock read is skipped: one read per message.
void Connection::handle_read(bool until_would_block) {
    const std::size_t budget = host_->options().read_budget;
    const std::size_t max_input = host_->options().max_input;
    std::size_t got = 0;
    while (state_ != State::closed && !read_closed_) {
        const bool discarding = state_ != State::open;
        if (!discarding && is_reading_paused()) return;
        Buffer* in = nullptr;
        std::size_t asked = 0;
        auto r = read_once(in, asked, max_input);
        if (!r) [[unlikely]] {
            const std::error_code ec = r.error();
            if (is_would_block(ec)) return;
            if (is_interrupted(ec)) continue;
            if (is_limit_exceeded(ec)) {
                input_.release();
                if (state_ == State::open) begin_close(CloseReason::limit, host_->options().linger_timeout);
                continue;
            }
            fail(ec);
            return;
        }
        if (*r == 0) {
            read_closed_ = true;
            if (state_ == State::open) {
                handler_->on_read_closed(*this);
            } else if (state_ == State::lingering) {
                finish(reason_);
            }  // closing: after_drain sees read_closed_ and finishes
            return;
        }
        metrics_->bytes_in.add(*r);
        note_activity();
        got += *r;
        if (discarding) {
            in->consume_all();
        } else if (in == &input_) {
            handler_->on_data(*this, input_);
        } else {
            deliver_scratch(*in);
        }
        if (got >= budget && state_ != State::closed && !read_closed_) {
            queue_read();  // yield to the other connections; continue next round
            return;
        }
        if (*r < asked && !until_would_block) return;
    }
}

// on_data over the reactor's scratch; what the handler leaves stays with the connection.
[[gnu::always_inline]] inline void Connection::deliver_scratch(Buffer& scratch) {
    reading_ = &scratch;
    handler_->on_data(*this, scratch);
    reading_ = nullptr;
    if (host_->scratch_intact()) [[likely]] return;  // the handler consumed it all
    if (state_ == State::open && !scratch.empty()) input_.append(scratch.readable());
    host_->reset_scratch();
}

// Another turn in the next round (Reactor::requeue_in_loop): a readable event after
// the events of the next poll. Generation-checked, so it is dropped if the connection
// has gone by then. Whatever event comes next, that turn reads until WouldBlock.
void Connection::queue_read() {
    read_hold_ |= kDrainOwed;
    (void)reactor().requeue_in_loop(registration_);
}

void Connection::resume_reading() {
    if (!is_reading_paused()) return;
    read_hold_ &= static_cast<std::uint8_t>(~kPaused);
    if (state_ != State::open) return;
    redeliver_ = !input_.empty();
    if (!read_closed_ || redeliver_) queue_read();
}

// ---- output --------------------------------------------------------------------------

// The common case in a few instructions: nothing queued, the kernel takes it all.
// Everything else (a partial write, WouldBlock, an error, a closed connection) is
// send_rest's; splitting them keeps this path free of register saves.
void Connection::send(std::span<const std::byte> data) {
    assert(reactor().is_in_loop_thread());
    if (state_ == State::open && write_side_ == WriteSide::open && output_.empty() && !data.empty()) [[likely]] {
        const long n = pollux::detail::sys_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (static_cast<std::size_t>(n) == data.size()) [[likely]] {
            metrics_->bytes_out.add(data.size());
            note_activity();
            return;
        }
        send_rest(data, n);
        return;
    }
    send_rest(data, kNoSyscall);
}

// `n`: what the direct write in send() returned (bytes, or -errno), or kNoSyscall.
void Connection::send_rest(std::span<const std::byte> data, long n) {
    if (state_ != State::open || write_side_ != WriteSide::open || data.empty()) return;
    if (n == kNoSyscall) {
        n = output_.empty() ? pollux::detail::sys_send(fd_, data.data(), data.size(), MSG_NOSIGNAL) : 0;
    }
    // Nothing here calls out, so the queue stays empty until the loop ends.
    for (;;) {
        if (n > 0) {
            metrics_->bytes_out.add(static_cast<std::size_t>(n));
            note_activity();
            data = data.subspan(static_cast<std::size_t>(n));
            if (data.empty()) return;
        } else if (n == 0 || n == -EAGAIN) {
            break;  // queue the rest; WRITABLE will tell
        } else if (n != -EINTR) {
            fail(errno_code(static_cast<int>(-n)));
            return;
        }
        n = pollux::detail::sys_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    }
    if (output_.would_exceed(data.size(), host_->options().max_output)) {
        finish(CloseReason::limit, Ending::output_cap);  // what was accepted is dropped: reset
        return;
    }
    output_.append(data);
    had_output_ = true;
    if (output_.take_high_water_crossing()) handler_->on_high_water(*this);
}

void Connection::send(Buffer&& data) {
    assert(reactor().is_in_loop_thread());
    if (state_ != State::open || write_side_ != WriteSide::open || data.empty()) {
        data.consume_all();
        return;
    }
    // On_data's buffer is the reactor's scratch: copy, keep it. A chunk of another
    // reactor's pool is copied too: adopting it would tie this queue to a pool that
    // may be destroyed first (its own server's).
    if (&data == &host_->scratch() || (data.pool() != nullptr && data.pool() != &host_->pool())) {
        send(data.readable());
        data.consume_all();
        return;
    }
    while (output_.empty() && !data.empty()) {
        auto r = write_some(data.readable());
        if (!r) {
            if (is_would_block(r.error())) break;
            data.consume_all();
            fail(r.error());
            return;
        }
        metrics_->bytes_out.add(*r);
        note_activity();
        data.consume(*r);
    }
    if (data.empty()) return;
    if (output_.would_exceed(data.readable_size(), host_->options().max_output)) {
        data.consume_all();
        finish(CloseReason::limit, Ending::output_cap);
        return;
    }
    output_.append(std::move(data));
    had_output_ = true;
    if (output_.take_high_water_crossing()) handler_->on_high_water(*this);
}

void Connection::flush() {
    while (!output_.empty()) {
        IoSlice slices[kFlushSlices];
        const std::size_t k = output_.gather(slices);
        auto r = write_slices(std::span<const IoSlice>(slices, k));
        if (!r) {
            if (is_would_block(r.error())) return;  // WRITABLE will tell
            fail(r.error());
            return;
        }
        output_.consume(*r);
        metrics_->bytes_out.add(*r);
        note_activity();
    }
    after_drain();
}

void Connection::after_drain() {
    if (state_ == State::open) {
        if (write_side_ == WriteSide::shutdown_pending) {
            write_side_ = WriteSide::shut;
            (void)std::visit([](auto& s) { return s.shutdown(net::Shutdown::Write); }, stream_);
        }
        if (had_output_) {
            had_output_ = false;
            handler_->on_write_complete(*this);
        }
    } else if (state_ == State::closing) {
        begin_linger();
    }
}

void Connection::shutdown_write() {
    assert(reactor().is_in_loop_thread());
    if (state_ != State::open || write_side_ != WriteSide::open) return;
    if (output_.empty()) {
        write_side_ = WriteSide::shut;
        (void)std::visit([](auto& s) { return s.shutdown(net::Shutdown::Write); }, stream_);
    } else {
        write_side_ = WriteSide::shutdown_pending;
    }
}

}  // namespace pollux::framework
