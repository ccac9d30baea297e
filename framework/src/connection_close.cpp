// framework/src/connection_close.cpp — internal: how a Connection ends (close, abort,
// linger, errors, finish) and its timers (idle checks, the application's deadline).
// The state machine is drawn at the top of connection.cpp.
#include <algorithm>
#include <cassert>

#include "connection_host.hpp"
#include "pollux/framework/connection.hpp"
#include "stream_source.hpp"

namespace pollux::framework {

namespace {

bool is_reset(const std::error_code& ec) noexcept {
    return ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
}

constexpr std::uint8_t kIdleChecks = 4;  // idle checks per idle_timeout

}  // namespace

// ---- closing -------------------------------------------------------------------------

void Connection::close(CloseReason reason) {
    assert(reactor().is_in_loop_thread());
    if (state_ != State::open) return;
    begin_close(reason, host_->options().linger_timeout);
}

void Connection::abort(CloseReason reason) {
    assert(reactor().is_in_loop_thread());
    finish(reason, Ending::abortive);
}

void Connection::begin_close(CloseReason reason, std::chrono::milliseconds linger) {
    if (read_closed_ && reason == CloseReason::local_close) reason = CloseReason::peer_closed;
    reason_ = reason;
    state_ = State::closing;
    input_.release();
    cancel_timer();
    clear_deadline();
    timer_ = reactor().run_after_in_loop(std::max(linger, std::chrono::milliseconds(0)), [this] { on_linger_timer(); });
    if (output_.empty()) begin_linger();
}

// linger_timeout ran out. Still flushing: the rest of the output is dropped (finish
// resets); only waiting for the peer's EOF: nothing of ours is lost, close as is.
void Connection::on_linger_timer() {
    timer_ = {};
    CloseReason reason = reason_;
    if (state_ == State::closing && (reason == CloseReason::peer_closed || reason == CloseReason::local_close)) {
        reason = CloseReason::linger_timeout;
    }
    finish(reason);
}

void Connection::begin_linger() {
    state_ = State::lingering;
    if (write_side_ != WriteSide::shut) {
        write_side_ = WriteSide::shut;
        auto r = std::visit([](auto& s) { return s.shutdown(net::Shutdown::Write); }, stream_);
        if (!r) {
            finish(reason_);
            return;
        }
    }
    if (read_closed_) {
        finish(reason_);
        return;
    }
    queue_read();  // discard what is already there: the edge may have fired long ago
}

// A socket error ends the connection at once. While closing, a framework reason
// (limit, idle_timeout, deadline, server_stop) is kept; a close the peer or the
// application asked for reports the error instead: the flush or the linger did not
// finish, so the peer may not have everything.
void Connection::fail(const std::error_code& ec) {
    const bool asked_close = reason_ == CloseReason::peer_closed || reason_ == CloseReason::local_close;
    if (state_ != State::open && !asked_close) {
        finish(reason_);
    } else {
        finish(is_reset(ec) ? CloseReason::reset : CloseReason::error);
    }
}

// Dropping output the application had handed to send() ends in a reset, so the peer
// can tell truncation from a clean end: SO_LINGER 0 makes close(2) send RST and discard
// the kernel's send queue too. abort() resets even with nothing queued.
void Connection::finish(CloseReason reason, Ending ending) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    reason_ = reason;
    cancel_timer();
    clear_deadline();
    detail::StreamSource src{stream_};
    (void)reactor().deregister_in_loop(src, registration_);
    const std::size_t dropped = output_.size();
    if (dropped != 0) {
        metrics_->output_dropped.add();
        metrics_->output_dropped_bytes.add(dropped);
    }
    if (dropped != 0 || ending != Ending::graceful) {
        if (auto* tcp = std::get_if<net::TcpStream>(&stream_)) (void)tcp->set_linger(std::chrono::seconds(0));
    }
    output_.clear();
    input_.release();
    metrics_->record_close(reason);
    if (reason == CloseReason::limit) [[unlikely]]
        host_->log_limit_close_in_loop(*this, ending, dropped);
    fd_ = -1;
    std::visit([](auto& s) { s = std::decay_t<decltype(s)>{}; }, stream_);  // closes the fd
    if (opened_) host_->retire_in_loop(*this);  // on_close follows in the deferred phase
}

// ---- idle timer ------------------------------------------------------------------------

void Connection::arm_idle_timer() {
    const auto idle = host_->options().idle_timeout;
    if (idle.count() <= 0) return;
    const auto period = std::max(idle / kIdleChecks, std::chrono::milliseconds(1));
    timer_ = reactor().run_every_in_loop(period, [this] { on_idle_timer(); });
}

void Connection::on_idle_timer() {
    if (state_ != State::open) return;
    // Quiet for more than kIdleChecks whole periods: between 1 and 1.25 idle_timeout.
    if (++quiet_ticks_ <= kIdleChecks) return;
    quiet_ticks_ = 0;
    handler_->on_timeout(*this);
}

// ---- deadline ----------------------------------------------------------------------------

void Connection::set_deadline(std::chrono::milliseconds after) {
    assert(reactor().is_in_loop_thread());
    if (state_ != State::open) return;
    clear_deadline();
    deadline_ = reactor().run_after_in_loop(after, [this] { on_deadline_timer(); });  // saturating
}

void Connection::set_deadline_at(Clock::time_point when) {
    assert(reactor().is_in_loop_thread());
    if (state_ != State::open) return;
    clear_deadline();
    deadline_ = reactor().run_at_in_loop(when, [this] { on_deadline_timer(); });
}

void Connection::clear_deadline() noexcept {
    if (deadline_.valid()) {
        reactor().cancel_timer_in_loop(deadline_);
        deadline_ = {};
    }
}

void Connection::on_deadline_timer() {
    deadline_ = {};
    if (state_ == State::open) handler_->on_deadline(*this);
}

void Connection::cancel_timer() noexcept {
    if (timer_.valid()) {
        reactor().cancel_timer_in_loop(timer_);
        timer_ = {};
    }
}

}  // namespace pollux::framework
