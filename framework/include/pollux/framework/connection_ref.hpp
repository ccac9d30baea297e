// pollux/framework/connection_ref.hpp — public.
//
// A `ConnectionRef` names a connection safely from any thread and at any time:
//
//     ConnectionRef ref = conn.ref();          // on the connection's reactor thread
//     std::thread([ref] {
//         ref.send(as_bytes("tick\n"));        // posted to the owning reactor
//         ref.close();
//     }).detach();
//
// The contracts:
//
// * Cheap. 16 bytes, trivially copyable: the connection's host (one per reactor), its
//   slot and the slot's generation. Copy it into any thread.
// * Thread. `send`, `close`, `abort` and `dispatch` may be called from any thread. On
//   the owning reactor's thread they act at once (send writes directly); elsewhere they
//   post a task to that reactor (copying the bytes once: a cross-thread send allocates).
//   Calls from one thread reach the connection in the order they were made.
// * Stale handles are harmless. Each call looks the connection up by slot and
//   generation when it runs on the reactor; a connection that has closed (or whose slot
//   now holds another connection) is not found and the call does nothing. A
//   default-constructed ref names nothing.
// * Return values. True when the call was performed or queued; false when the ref is
//   empty, the reactor has stopped, or (on the owning thread) the connection is gone.
//   A queued call may still find the connection closed when it runs.
// * Lifetime. The ref must not be used after its server (or client) is destroyed:
//   the host it points to is gone. Using it after the server stopped is fine (false).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "pollux/framework/metrics.hpp"

namespace pollux::reactor {
class Reactor;
}

namespace pollux::framework {

class Connection;
class ConnectionHost;  // internal: one per reactor, owns that reactor's connections

class ConnectionRef {
public:
    ConnectionRef() noexcept = default;
    ConnectionRef(ConnectionHost* host, std::uint32_t slot, std::uint32_t generation) noexcept
        : host_(host), slot_(slot), generation_(generation) {}

    // Non-empty (says nothing about whether the connection is still open).
    explicit operator bool() const noexcept { return host_ != nullptr; }

    // Connection::send of a copy of `data`.
    bool send(std::span<const std::byte> data) const;
    bool send(std::string_view text) const;
    // Connection::close(reason) / abort(reason).
    bool close(CloseReason reason = CloseReason::local_close) const;
    bool abort(CloseReason reason = CloseReason::local_close) const;
    // Runs `fn(conn)` on the owning reactor thread if the connection is still open there.
    bool dispatch(std::move_only_function<void(Connection&)> fn) const;

    // The owning reactor (null for an empty ref).
    reactor::Reactor* reactor() const noexcept;
    // Loop thread of the owning reactor only: the connection, or null if it has closed.
    Connection* get_in_loop() const noexcept;

    friend bool operator==(const ConnectionRef&, const ConnectionRef&) noexcept = default;

private:
    ConnectionHost* host_ = nullptr;
    std::uint32_t slot_ = 0;
    std::uint32_t generation_ = 0;
};

}  // namespace pollux::framework
