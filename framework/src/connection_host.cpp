// framework/src/connection_host.cpp — internal.
#include "connection_host.hpp"

#include <algorithm>
#include <cassert>
#include <thread>
#include <utility>

namespace pollux::framework {

ConnectionHost::ConnectionHost(reactor::Reactor& reactor, const ConnectionOptions& options,
                               ReactorMetrics& metrics)
    : scratch_ask_(std::clamp<std::size_t>(options.max_input, 1, kScratchSize)),
      reactor_(reactor),
      options_(options),
      metrics_(metrics),
      anchor_(std::make_shared<detail::HostAnchor>(this)) {
    reset_scratch();
}

void ConnectionHost::reset_scratch() {
    scratch_.consume_all();
    if (scratch_.pool() != nullptr || scratch_.writable_size() < kScratchSize) {
        scratch_ = Buffer();  // a pooled chunk a handler moved in goes back to its pool
        scratch_.ensure_writable(kScratchSize);
    }
    scratch_chunk_ = scratch_.chunk_;
    scratch_at_ = scratch_.writable().data();
    scratch_capacity_ = scratch_.capacity();
    assert(scratch_intact());
}

ConnectionHost::~ConnectionHost() {
    // Refs see null from here on; wait for the uses already under way (a post from
    // another thread, a ref task on the loop) to end before anything is freed.
    anchor_->host.store(nullptr, std::memory_order_seq_cst);
    while (anchor_->users.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    assert(live_ == 0);
    pool_.set_owner_to_this_thread();
    settle_in_loop();
}

Connection* ConnectionHost::open_in_loop(Connection::Stream stream) {
    assert(reactor_.is_in_loop_thread());
    pool_.set_owner_to_this_thread();  // the loop thread once it runs (a store, no fence)
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    auto* conn = new Connection(*this, std::move(stream), slot, s.generation);
    s.conn = conn;

    std::unique_ptr<ConnectionHandler> owned;
    ConnectionHandler* handler = handlers_ != nullptr ? handlers_->shared : nullptr;
    if (handlers_ != nullptr && handlers_->factory) {
        owned = handlers_->factory(*conn);
        handler = owned.get();
    }
    Result<void> r = handler == nullptr ? Result<void>(std::unexpected(std::make_error_code(std::errc::invalid_argument)))
                                        : conn->open_in_loop(*handler, std::move(owned));
    if (!r) {
        // Never opened: no on_close is owed. Free the slot and delete at once (nothing
        // can refer to it yet).
        s.conn = nullptr;
        ++s.generation;
        free_.push_back(slot);
        delete conn;
        return nullptr;
    }
    ++live_;
    metrics_.connections_open.add();
    conn->deliver_open_in_loop();
    return conn;
}

void ConnectionHost::close_all_in_loop(CloseReason reason, std::chrono::milliseconds linger) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (Connection* c = slots_[i].conn) c->close_for_stop_in_loop(reason, linger);
    }
}

void ConnectionHost::abort_all_in_loop(CloseReason reason) {
    pool_.set_owner_to_this_thread();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (Connection* c = slots_[i].conn) c->abort_for_stop_in_loop(reason);
    }
    // No loop will run the deferred phase (it exited; this thread joined it): settle
    // here. On the running loop the deferred phase does it, after the current callback.
    if (reactor::Reactor::current() != &reactor_) settle_in_loop();
}

void ConnectionHost::retire_in_loop(Connection& conn) {
    Slot& s = slots_[conn.slot_];
    assert(s.conn == &conn);
    s.conn = nullptr;
    ++s.generation;
    if (s.generation == 0) s.generation = 1;
    free_.push_back(conn.slot_);
    --live_;
    metrics_.connections_open.sub();
    closed_.push_back(&conn);
    schedule_settle();
}

void ConnectionHost::schedule_settle() {
    if (settle_scheduled_) return;
    settle_scheduled_ = true;
    reactor_.defer_in_loop([this] { settle_in_loop(); });
}

void ConnectionHost::settle_in_loop() noexcept {
    settle_scheduled_ = false;
    // Swap, so that the vectors keep their capacity (no allocation in steady state) and
    // closes caused by these on_close calls land in the next batch.
    while (!closed_.empty()) {
        settling_.swap(closed_);
        for (Connection* c : settling_) {
            if (c->opened_) {
                c->handler_->on_close(*c, c->reason_);
                if (on_closed_) on_closed_();
            }
            delete c;  // its destructor releases buffers only; it calls no handler
        }
        settling_.clear();
    }
}

}  // namespace pollux::framework
