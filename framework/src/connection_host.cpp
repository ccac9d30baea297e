// framework/src/connection_host.cpp — internal.
#include "connection_host.hpp"

#include <cassert>
#include <utility>

namespace pollux::framework {

ConnectionHost::ConnectionHost(reactor::Reactor& reactor, const ConnectionOptions& options,
                               ReactorMetrics& metrics)
    : scratch_ask_(options.max_input < kScratchSize ? options.max_input + 1 : kScratchSize),
      reactor_(reactor),
      options_(options),
      metrics_(metrics) {
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
    assert(live_ == 0);
    for (Connection* c : zombies_) delete c;
    for (Connection* c : reaping_) delete c;
}

Connection* ConnectionHost::open_in_loop(Connection::Stream stream) {
    assert(reactor_.is_in_loop_thread());
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
    ConnectionHandler* handler = shared_handler_ != nullptr ? *shared_handler_ : nullptr;
    if (factory_ != nullptr && *factory_) {
        owned = (*factory_)(*conn);
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
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (Connection* c = slots_[i].conn) c->abort_for_stop_in_loop(reason);
    }
    reap();
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
    zombies_.push_back(&conn);
    if (!reap_scheduled_) {
        reap_scheduled_ = true;
        reactor_.defer_in_loop([this] { reap(); });
    }
    if (on_closed_) on_closed_();
}

void ConnectionHost::reap() noexcept {
    reap_scheduled_ = false;
    // Destructors may release buffers only; they call no handler. Swap so that the
    // vectors keep their capacity (no allocation in steady state).
    reaping_.swap(zombies_);
    for (Connection* c : reaping_) delete c;
    reaping_.clear();
}

}  // namespace pollux::framework
