// framework/src/connection_host.hpp — internal.
//
// A `ConnectionHost` owns the connections of one reactor: the BufferPool their buffers
// come from, the slot table that ConnectionRef's (slot, generation) pairs resolve
// against, the metrics block they write, and the deferred destruction of closed ones.
// TcpServer makes one per reactor; TcpClient / UnixServer can do the same.
//
//     slots_:  [ conn*, gen ] [ null, gen ] [ conn*, gen ] ...   free_: LIFO of null slots
//     zombies_: connections past on_close, deleted by one deferred task per batch
//
// Everything here runs on the reactor's loop thread, except `reactor()`, which any
// thread may call (ConnectionRef posts through it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "pollux/framework/buffer_pool.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::framework {

class ConnectionHost {
public:
    // `options` and `metrics` must outlive the host.
    ConnectionHost(reactor::Reactor& reactor, const ConnectionOptions& options, ReactorMetrics& metrics);
    // Deletes the zombies. Abort live connections first (abort_all_in_loop).
    ~ConnectionHost();
    ConnectionHost(const ConnectionHost&) = delete;
    ConnectionHost& operator=(const ConnectionHost&) = delete;

    reactor::Reactor& reactor() const noexcept { return reactor_; }
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
    // Bytes to ask for per read into the scratch: kScratchSize, or one more than
    // max_input (to tell "full" from "over") when that is less.
    std::size_t scratch_ask() const noexcept { return scratch_ask_; }

    // Where handlers come from: `factory` if set, else the shared handler `*shared`
    // (not owned; read when each connection opens, since on_data may replace it).
    void set_handlers(HandlerFactory* factory, ConnectionHandler* const* shared) noexcept {
        factory_ = factory;
        shared_handler_ = shared;
    }
    // Called once for every connection that opened, after its on_close.
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
    // Immediate close of every live connection (open ones get `reason`).
    void abort_all_in_loop(CloseReason reason);
    // Live connections (opened, on_close not yet delivered).
    std::size_t size_in_loop() const noexcept { return live_; }

    // Connection::finish: frees the slot, schedules the deletion, reports the close.
    void retire_in_loop(Connection& conn);

private:
    struct Slot {
        Connection* conn = nullptr;
        std::uint32_t generation = 1;
    };
    void reap() noexcept;

    BufferPool pool_;  // first: destroyed after every connection's buffers
    Buffer scratch_;
    Chunk* scratch_chunk_ = nullptr;  // what scratch_intact() compares against
    std::byte* scratch_at_ = nullptr;
    std::size_t scratch_capacity_ = 0;
    std::size_t scratch_ask_;
    reactor::Reactor& reactor_;
    const ConnectionOptions& options_;
    ReactorMetrics& metrics_;
    HandlerFactory* factory_ = nullptr;
    ConnectionHandler* const* shared_handler_ = nullptr;
    std::function<void()> on_closed_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::vector<Connection*> zombies_;
    std::vector<Connection*> reaping_;
    std::size_t live_ = 0;
    bool reap_scheduled_ = false;
};

}  // namespace pollux::framework
