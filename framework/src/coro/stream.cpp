// framework/src/coro/stream.cpp — internal: the Stream's awaitables and the handler that
// feeds them from a Connection (coro/stream.hpp).
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>

#include "pollux/framework/coro/stream.hpp"

namespace pollux::coro {

namespace {

class StreamCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "pollux.coro"; }
    std::string message(int ev) const override {
        switch (static_cast<StreamErrc>(ev)) {
            case StreamErrc::eof: return "end of stream before the read completed";
        }
        return "unknown pollux.coro error";
    }
};

std::error_code not_connected() noexcept { return std::make_error_code(std::errc::not_connected); }

}  // namespace

const std::error_category& stream_category() noexcept {
    static const StreamCategory category;
    return category;
}

// ---- Stream ------------------------------------------------------------------------------

void Stream::close() noexcept {
    if (conn_ != nullptr) conn_->close();
}

void Stream::shutdown_write() noexcept {
    if (conn_ != nullptr) conn_->shutdown_write();
}

// ---- reads -------------------------------------------------------------------------------

void ReadOp::abandon(Waiter& w) noexcept {
    auto& r = static_cast<ReadOp&>(w);
    if (r.s_->reader_ == &r) r.s_->reader_ = nullptr;
}

bool ReadOp::ready_slow() noexcept {
    Stream& s = *s_;
    if (cancelled_early()) return true;
    if (s.conn_ == nullptr) {
        set_error(not_connected());
        return true;
    }
    if (s.reader_ != nullptr) {
        set_error(std::make_error_code(std::errc::operation_in_progress));
        return true;
    }
    if (s.in_ != nullptr) {  // inside on_data: the input is at hand
        s.consume_view();
        if (try_complete(*s.in_)) return true;
    }
    if ((s.slow_read_ & Stream::kEof) != 0) {
        if (kind_ == Kind::exact || kind_ == Kind::line) set_error(StreamErrc::eof);
        got_ = 0;  // copy: 0 bytes; view: an empty view
        view_ = nullptr;
        return true;
    }
    return false;
}

// Takes what this read needs from `in`. True when the read is complete.
bool ReadOp::try_complete_slow(framework::Buffer& in) noexcept {
    const auto avail = in.readable();
    switch (kind_) {
        case Kind::copy: {
            if (avail.empty()) return false;
            const std::size_t n = std::min(avail.size(), dst_.size);
            if (n != 0) std::memcpy(dst_.data, avail.data(), n);
            in.consume(n);
            got_ = n;
            return true;
        }
        case Kind::exact: {
            const std::size_t n = std::min(avail.size(), dst_.size - got_);
            if (n != 0) std::memcpy(dst_.data + got_, avail.data(), n);
            in.consume(n);
            got_ += n;
            return got_ == dst_.size;
        }
        case Kind::view: {
            if (avail.empty()) return false;
            view_ = avail.data();
            got_ = avail.size();
            s_->view_ = got_;
            return true;
        }
        case Kind::line: {
            const std::size_t scan = std::min(avail.size(), line_.max);
            const void* hit = scan == 0 ? nullptr : std::memchr(avail.data(), line_.delim, scan);
            if (hit == nullptr) {
                if (avail.size() >= line_.max) {
                    set_error(std::make_error_code(std::errc::message_size));
                    return true;
                }
                return false;
            }
            view_ = avail.data();
            got_ = static_cast<std::size_t>(static_cast<const std::byte*>(hit) - avail.data()) + 1;
            s_->view_ = got_;
            return true;
        }
    }
    return false;
}

// ---- writes ------------------------------------------------------------------------------

void WriteAwaiter::abandon(Waiter& w) noexcept {
    auto& a = static_cast<WriteAwaiter&>(w);
    if (a.s_->writer_ == &a) a.s_->writer_ = nullptr;
}

bool WriteAwaiter::ready_slow() noexcept {
    Stream& s = *s_;
    if (cancelled_early()) return true;
    framework::Connection* c = s.conn_;
    if (c == nullptr) {
        set_error(not_connected());
        return true;
    }
    if (s.writer_ != nullptr) {
        set_error(std::make_error_code(std::errc::operation_in_progress));
        return true;
    }
    c->send(data_);
    if (!c->is_open()) {
        set_error(not_connected());
        return true;
    }
    return c->output_size() < s.high_water_;
}

void WriteAwaiter::wait() noexcept { s_->writer_ = this; }

// ---- the handler -------------------------------------------------------------------------

namespace detail {

bool pinned_to_connection(const PromiseBase& p) noexcept {
    const PromiseBase* root = &p;
    while (root->parent_ != nullptr) root = root->parent_;
    return root->end_ == &StreamHandler::end;
}

StreamHandler::~StreamHandler() {
    if (task_ != nullptr) destroy_root(*task_);
}

void StreamHandler::on_open(framework::Connection& conn) {
    stream_.conn_ = &conn;
    const std::size_t high = conn.options().high_water_mark;
    stream_.high_water_ = high == 0 ? SIZE_MAX : high;
    auto h = start_(fn_, stream_).release();
    if (!h) {
        conn.close();
        return;
    }
    task_ = &h.promise();
    task_->end_ = &StreamHandler::end;
    task_->end_ctx_ = this;
    h.resume();
}

std::coroutine_handle<> StreamHandler::end(void* ctx, PromiseBase& p, bool finished) noexcept {
    auto* self = static_cast<StreamHandler*>(ctx);
    self->task_ = nullptr;
    p.self_.destroy();
    framework::Connection* c = self->stream_.conn_;
    if (finished && c != nullptr && c->is_open()) c->close();
    return std::noop_coroutine();
}

void StreamHandler::on_data(framework::Connection& conn, framework::Buffer& in) {
    Stream& s = stream_;
    // The common case, a read_some without a deadline or token waiting for bytes read into
    // the reactor's scratch: the read takes them all, so the scratch is emptied before the
    // task resumes (the bytes stay in place until the reactor's next read, after the task's
    // next co_await) and resuming is the last thing done here.
    if (ReadOp* r = s.reader_;
        r != nullptr && r->kind_ == ReadOp::Kind::view && !r->armed() && conn.reads_scratch(in)) [[likely]] {
        const std::span<const std::byte> v = in.readable();
        assert(!v.empty());
        r->view_ = v.data();
        r->got_ = v.size();
        in.clear_keep_storage();
        s.reader_ = nullptr;
        r->settle_unarmed().resume();
        return;
    }
    deliver(conn, in);
}

// Any other read, or input that is the connection's own: the read takes what it needs,
// and what is left stays in `in` for the task's next read.
void StreamHandler::deliver(framework::Connection& conn, framework::Buffer& in) {
    Stream& s = stream_;
    s.in_ = &in;
    s.slow_read_ |= Stream::kInputAtHand;
    if (ReadOp* r = s.reader_; r != nullptr && r->try_complete(in)) {
        s.reader_ = nullptr;
        r->settle().resume();
    }
    s.consume_view();
    s.in_ = nullptr;
    s.slow_read_ &= static_cast<std::uint8_t>(~Stream::kInputAtHand);
    // Input no read is waiting for stays with the connection; stop reading until one does.
    if (s.reader_ == nullptr && !in.empty() && conn.is_open()) conn.pause_reading();
}

void StreamHandler::on_write_complete(framework::Connection&) {
    if (WriteAwaiter* w = stream_.writer_; w != nullptr) {
        stream_.writer_ = nullptr;
        w->settle().resume();
    }
}

void StreamHandler::on_read_closed(framework::Connection&) {
    Stream& s = stream_;
    s.slow_read_ |= Stream::kEof;
    if (ReadOp* r = s.reader_; r != nullptr) {
        s.reader_ = nullptr;
        const bool partial = r->kind_ == ReadOp::Kind::exact || r->kind_ == ReadOp::Kind::line;
        if (r->kind_ == ReadOp::Kind::copy || r->kind_ == ReadOp::Kind::view) {
            r->got_ = 0;
            r->view_ = nullptr;
        }
        r->settle(partial ? make_error_code(StreamErrc::eof) : std::error_code()).resume();
    }
}

void StreamHandler::on_close(framework::Connection&, framework::CloseReason reason) {
    Stream& s = stream_;
    s.conn_ = nullptr;
    s.slow_read_ |= Stream::kClosed;
    s.closed_ec_ = reason == framework::CloseReason::reset ? std::make_error_code(std::errc::connection_reset)
                                                           : std::make_error_code(std::errc::operation_canceled);
    if (ReadOp* r = s.reader_; r != nullptr) {
        s.reader_ = nullptr;
        r->settle(s.closed_ec_).resume();
    }
    if (WriteAwaiter* w = s.writer_; w != nullptr) {
        s.writer_ = nullptr;
        w->settle(s.closed_ec_).resume();
    }
    s.closed_.cancel();
    // Still suspended (on something that is not the connection's): it ends here.
    if (task_ != nullptr) destroy_root(*task_);
}

}  // namespace detail

}  // namespace pollux::coro
