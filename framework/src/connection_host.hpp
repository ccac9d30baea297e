// framework/src/connection_host.hpp — internal.
//
// A `ConnectionHost` owns the connections of one reactor: the BufferPool their buffers
// come from, the slot table that ConnectionRef's (slot, generation) pairs resolve
// against, the metrics block they write, and the settling of closed ones. A
// StreamServer makes one per reactor; a TcpClient one for its reactor.
//
//     slots_:  [ conn*, gen ] [ null, gen ] [ conn*, gen ] ...   free_: LIFO of null slots
//     closed_: connections past finish(), waiting for the deferred phase, which calls
//              on_close, reports the close (on_closed) and deletes them
//
// Why on_close waits for the deferred phase: a connection can close inside a handler's
// own call (send() hitting the output cap, say); running on_close there would let the
// handler free what its on_data is still using. Deferred work runs after the current
// batch, task or timer has returned (Reactor::defer_in_loop).
//
// The anchor. ConnectionRefs (and the tasks they post) hold a shared HostAnchor, not
// the host: the destructor clears anchor->host and waits until no thread is inside a
// use of it (HostUse), so a ref outliving its server finds null and does nothing.
//
// Everything here runs on the reactor's loop thread, except `reactor()` and the anchor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "pollux/core/log.hpp"
#include "pollux/framework/buffer_pool.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::framework {

class ConnectionHost;

namespace detail {

// What ConnectionRefs share: the host while it exists, and how many threads are using it.
struct HostAnchor {
    explicit HostAnchor(ConnectionHost* h) noexcept : host(h) {}
    std::atomic<ConnectionHost*> host;      // null once the host is being destroyed
    std::atomic<std::uint32_t> users{0};    // HostUse guards alive (any thread)
};

// A use of the host through an anchor: `get()` is the host, or null if it is gone, and
// stays valid until the guard dies. The seq_cst increment-then-load pairs with the
// destructor's store-then-load (Dekker): either this sees null, or the destructor sees
// the use and waits for it. Never destroy the host inside a use on the same thread.
class HostUse {
public:
    explicit HostUse(HostAnchor& a) noexcept : a_(a) {
        a_.users.fetch_add(1, std::memory_order_seq_cst);
        host_ = a_.host.load(std::memory_order_seq_cst);
    }
    ~HostUse() { a_.users.fetch_sub(1, std::memory_order_release); }
    HostUse(const HostUse&) = delete;
    HostUse& operator=(const HostUse&) = delete;
    ConnectionHost* get() const noexcept { return host_; }

private:
    HostAnchor& a_;
    ConnectionHost* host_;
};

}  // namespace detail

class ConnectionHost {
public:
    // `options` and `metrics` must outlive the host.
    ConnectionHost(reactor::Reactor& reactor, const ConnectionOptions& options, ReactorMetrics& metrics);
    // Marks the anchor dead (waiting for uses in flight), settles what is left and
    // deletes it. Abort live connections first (abort_all_in_loop).
    ~ConnectionHost();
    ConnectionHost(const ConnectionHost&) = delete;
    ConnectionHost& operator=(const ConnectionHost&) = delete;

    reactor::Reactor& reactor() const noexcept { return reactor_; }
    const std::shared_ptr<detail::HostAnchor>& anchor() const noexcept { return anchor_; }
    BufferPool& pool() noexcept { return pool_; }
    const ConnectionOptions& options() const noexcept { return options_; }
    ReactorMetrics& metrics() noexcept { return metrics_; }
    // The reactor's read scratch: an unpooled Buffer holding one chunk of at least
    // kScratchSize writable bytes. Connection reads into it when the connection's own
    // input is empty (so an echo never takes a pool chunk), and uses its storage as the
    // readv spill area otherwise. One per reactor; never used by two reads at once.
    //
    // Between reads it is "intact": empty, with the chunk, offsets and capacity that
    // scratch_at() was taken from, so the per-message read needs no checks. A handler
    // may do anything with it inside on_data (consume part, move from it, swap in
    // other storage); Connection calls scratch_intact() afterwards, and reset_scratch()
    // when it is not (after keeping any left-over bytes).
    static constexpr std::size_t kScratchSize = Buffer::kExtraReadSize;
    Buffer& scratch() noexcept { return scratch_; }
    // Where the next read into the intact scratch lands (its writable tail).
    std::byte* scratch_at() const noexcept { return scratch_at_; }
    // Records `n` bytes read at scratch_at().
    void scratch_commit(std::size_t n) noexcept { scratch_chunk_->end += n; }
    bool scratch_intact() const noexcept {
        const Chunk* c = scratch_.chunk_;
        return c == scratch_chunk_ && c->begin == Buffer::kCheapPrepend && c->end == Buffer::kCheapPrepend &&
               c->capacity == scratch_capacity_;
    }
    // Empties the scratch and makes it intact again (new storage if the handler took
    // or shrank it).
    void reset_scratch();
    // Bytes to ask for per read into the scratch: kScratchSize, or max_input when that
    // is less (at least 1: with max_input 0, any byte is over the limit).
    std::size_t scratch_ask() const noexcept { return scratch_ask_; }

    // Where handlers come from: the set's factory if set, else its shared handler (read
    // when each connection opens). The host keeps the set alive.
    void set_handlers(std::shared_ptr<HandlerSetup::Handlers> handlers) noexcept { handlers_ = std::move(handlers); }
    // Called once for every connection that opened, right after its on_close.
    void set_on_closed(std::function<void()> fn) { on_closed_ = std::move(fn); }

    // Makes a connection of `stream`, registers it, creates its handler, calls on_open.
    // Null if registration failed or the factory returned null (the stream is closed;
    // on_closed is not called).
    Connection* open_in_loop(Connection::Stream stream);
    // The live connection in `slot` with `generation`, or null.
    Connection* lookup_in_loop(std::uint32_t slot, std::uint32_t generation) const noexcept {
        if (slot >= slots_.size()) return nullptr;
        const Slot& s = slots_[slot];
        return s.generation == generation ? s.conn : nullptr;
    }
    // Graceful close of every open connection, each bounded by `linger`.
    void close_all_in_loop(CloseReason reason, std::chrono::milliseconds linger);
    // Immediate close of every live connection (open ones get `reason`; queued output
    // is dropped with a reset). When the loop is not running (the thread that joined
    // it), on_close runs here, before it returns; on the running loop it is deferred.
    void abort_all_in_loop(CloseReason reason);
    // Live connections (opened, not yet finished).
    std::size_t size_in_loop() const noexcept { return live_; }

    // Connection::finish: frees the slot and queues the connection for settling.
    void retire_in_loop(Connection& conn);
    // Delivers on_close to the retired connections, reports them and deletes them.
    void settle_in_loop() noexcept;
    // Once a second (the server's refresh): lets the buffer pool's cache drain after a
    // burst (BufferPool::decay).
    void maintain_in_loop() noexcept { pool_.decay(); }

    // Connection::finish with CloseReason::limit, before the fd is closed: one warning
    // (log.hpp) naming the peer and the limit, at most one line per second per reactor;
    // the next line counts the closes it did not report. `ending` says which limit:
    // output_cap, a send past max_output (`dropped` queued bytes went with a reset);
    // abortive, the application's abort(CloseReason::limit); graceful, input past
    // max_input (or the application's close(CloseReason::limit)).
    void log_limit_close_in_loop(const Connection& conn, Connection::Ending ending, std::size_t dropped) noexcept;

private:
    struct Slot {
        Connection* conn = nullptr;
        std::uint32_t generation = 1;
    };
    void schedule_settle();

    BufferPool pool_;  // first: destroyed after every connection's buffers
    Buffer scratch_;
    Chunk* scratch_chunk_ = nullptr;  // what scratch_intact() compares against
    std::byte* scratch_at_ = nullptr;
    std::size_t scratch_capacity_ = 0;
    std::size_t scratch_ask_;
    reactor::Reactor& reactor_;
    const ConnectionOptions& options_;
    ReactorMetrics& metrics_;
    std::shared_ptr<HandlerSetup::Handlers> handlers_;
    std::function<void()> on_closed_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::vector<Connection*> closed_;    // finished, on_close not yet delivered
    std::vector<Connection*> settling_;  // the batch settle_in_loop is working on
    std::size_t live_ = 0;
    bool settle_scheduled_ = false;
    LogRateLimit limit_log_;             // log_limit_close_in_loop
    std::shared_ptr<detail::HostAnchor> anchor_;
};

}  // namespace pollux::framework
