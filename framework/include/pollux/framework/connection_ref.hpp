// pollux/framework/connection_ref.hpp — public.
//
// A `ConnectionRef` names a connection safely from any thread and at any time, even
// after the connection, its server or its client is gone:
//
//     ConnectionRef ref = conn.ref();          // on the connection's reactor thread
//     std::thread([ref] {
//         ref.send("tick\n");                  // posted to the owning reactor
//         ref.close();
//     }).detach();
//
// The contracts:
//
// * What it holds. A shared handle on the connection's host (one per reactor: the
//   object that owns that reactor's connections), plus the connection's slot and the
//   slot's generation. Copying it is one atomic increment; copy it into any thread.
// * Thread. `send`, `close`, `abort` and `dispatch` may be called from any thread. On
//   the owning reactor's thread they act at once (send writes directly); elsewhere they
//   post a task to that reactor (copying the bytes once: a cross-thread send allocates).
//   Calls from one thread reach the connection in the order they were made.
// * Stale handles are harmless. Each call looks the connection up by slot and
//   generation when it runs on the reactor; a connection that has closed (or whose slot
//   now holds another connection) is not found and the call does nothing. A
//   default-constructed ref names nothing.
// * Owner gone. When the server or client that made the connection is destroyed, its
//   hosts mark the handle dead first: from then on every call returns false, and a task
//   posted earlier that runs later does nothing (it checks the handle, not a pointer).
//   A call racing with the destruction either completes its post before the host goes
//   (the destructor waits for it) or sees the handle dead. Nothing dangles.
// * Return values. True when the call was performed or queued; false when the ref is
//   empty, its owner is gone or stopping, or (on the owning thread) the connection is
//   gone. A queued call may still find the connection closed when it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "pollux/framework/metrics.hpp"

namespace pollux::framework {

class Connection;

namespace detail {
struct HostAnchor;  // internal (connection_host.hpp): the host, or null once it is gone
}

class ConnectionRef {
public:
    ConnectionRef() noexcept = default;

    // Non-empty (says nothing about whether the connection is still open).
    explicit operator bool() const noexcept { return anchor_ != nullptr; }

    // Connection::send of a copy of `data`.
    bool send(std::span<const std::byte> data) const;
    bool send(std::string_view text) const;
    // Connection::close(reason) / abort(reason).
    bool close(CloseReason reason = CloseReason::local_close) const;
    bool abort(CloseReason reason = CloseReason::local_close) const;
    // Runs `fn(conn)` on the owning reactor thread if the connection is still open there.
    bool dispatch(std::move_only_function<void(Connection&)> fn) const;

    // True on the owning reactor's loop thread (false for an empty ref or a gone owner).
    bool is_in_loop_thread() const noexcept;
    // Owning reactor's loop thread only: the connection, or null if it has closed.
    Connection* get_in_loop() const noexcept;

    friend bool operator==(const ConnectionRef& a, const ConnectionRef& b) noexcept {
        return a.anchor_ == b.anchor_ && a.slot_ == b.slot_ && a.generation_ == b.generation_;
    }

private:
    friend class Connection;
    ConnectionRef(std::shared_ptr<detail::HostAnchor> anchor, std::uint32_t slot, std::uint32_t generation) noexcept
        : anchor_(std::move(anchor)), slot_(slot), generation_(generation) {}

    template <class Fn>
    bool run_or_post(Fn&& fn) const;

    std::shared_ptr<detail::HostAnchor> anchor_;
    std::uint32_t slot_ = 0;
    std::uint32_t generation_ = 0;
};

}  // namespace pollux::framework
