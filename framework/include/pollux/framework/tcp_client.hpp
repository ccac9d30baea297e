// pollux/framework/tcp_client.hpp — public.
//
// A `TcpClient` connects to one server address from one reactor and runs the same
// handlers as TcpServer (callbacks.hpp) on the connection it makes:
//
//     auto reactor = reactor::Reactor::create().value();
//     auto client = TcpClient::create(*reactor, addr, {.max_attempts = 5}).value();
//     client->on_open([](Connection& conn) { conn.send("hello\n"); });
//     client->on_data([](Connection& conn, Buffer& in) { ...; in.consume_all(); });
//     client->on_connect_error([](const ConnectError& e) { log(e.error, e.retry_in); });
//     reactor->start();
//     client->connect();
//
// Connecting (the connector, on the reactor thread):
//
//     connect() --> attempt: TcpStream::connect, register WRITABLE, arm connect_timeout
//                     | writable, take_error() empty, peer_addr() ok
//                     v                                   error / timeout
//                  Connection (on_open ...)        on_connect_error({ec, n, retry_in})
//                     | closed (any reason)               | retry_in: backoff timer
//                     v                                   v   nullopt: gave up (idle)
//           reconnect? wait backoff(1)  ---------->  next attempt
//
//   * connect_timeout bounds one attempt (std::errc::timed_out). A refused or failed
//     attempt reports the socket error (ECONNREFUSED, ENETUNREACH, ...).
//   * Backoff: attempt n (1-based) that failed waits d = min(initial_backoff *
//     2^(n-1), max_backoff) before attempt n+1; with `jitter` (the default) a uniform
//     value in [d/2, d] ("equal jitter": spreads a crowd of clients, never waits more
//     than d). Waits below 1 ms are raised to 1 ms, so initial_backoff = 0 still
//     backs off (1, 2, 4 ... ms) instead of spinning.
//     max_attempts > 0 gives up after that many failed attempts: the last
//     ConnectError has no retry_in and the client is idle (connect() starts over).
//   * reconnect: when an established connection closes (peer close, reset, idle
//     timeout, even the handler's own conn.close()), the client connects again after
//     the first backoff (initial_backoff, jittered), with a fresh attempt count, so a
//     crowd of clients does not reconnect in the same instant after a server restart.
//     disconnect() and stop() never reconnect.
//
// Handlers. The same setters as the servers (HandlerSetup, callbacks.hpp): lambdas or a
// factory; on_data keeps its callable's type (one virtual call per message). Set them
// before the first connect(), from the thread that created the client.
// Thread rules. `connect`, `disconnect`, `stop`, `connection`, `attempts` are safe
// from any thread: they post to the reactor (connect/disconnect return at once).
// Every callback runs on the reactor thread.
//   connect()     starts connecting if idle; no-op while connecting or connected.
//   disconnect()  cancels a pending attempt or backoff, closes the connection
//                 gracefully (CloseReason::local_close), no reconnect. connect() may
//                 follow.
//   stop()        final: cancels everything and aborts the connection (a reset;
//                 on_close with CloseReason::local_close follows in the reactor's
//                 deferred phase, after the current callback). Blocks until the
//                 reactor has done it (inline on the reactor thread) and, from another
//                 thread, until on_close has run. Before the reactor starts, from a
//                 thread other than its creator, the stop is queued instead and takes
//                 effect when the loop starts. The destructor calls it.
// Lifetime. The reactor must outlive the client. Destroy (or stop()) the client
//   * while its reactor runs: any thread, even inside one of the client's own callbacks;
//   * before the reactor starts: on the thread that created the reactor (from any other
//     thread the stop is queued for the loop's start, see stop());
//   * after the reactor's loop has exited: on the thread that joined it (or ran it) --
//     or on any other thread if the client has no open connection (idle, connecting or
//     in backoff): its state is then freed without touching the reactor, whose dead
//     loop never runs the attempt's registration or timers again.
//   The one case with no correct answer: the loop has exited, the client still has an
//   open connection, and the thread is not the reactor's owner. Closing a connection is
//   loop work on a reactor that now belongs to its joiner, so doing it would race and
//   skipping it would leak: the process aborts with a message instead (a usage error,
//   like destroying a joinable std::thread). Stop the client before stopping its
//   reactor, or destroy it on the joining thread.
//   ConnectionRefs from this client stay safe after it is destroyed: their calls return
//   false (connection_ref.hpp).
// Metrics. One block: connections_accepted counts established connections, the rest
//   as for servers (metrics.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>

#include "pollux/core/result.hpp"
#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "pollux/framework/connection_ref.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/server_options.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::framework {

struct TcpClientOptions {
    // One attempt (SYN to established) may take this long; then std::errc::timed_out.
    std::chrono::milliseconds connect_timeout{5'000};
    // Wait after the first failed attempt; doubles per failure up to max_backoff.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{10'000};
    // Randomise each wait to [d/2, d].
    bool jitter = true;
    // Failed attempts before giving up. Zero: never give up.
    std::uint32_t max_attempts = 0;
    // Connect again after an established connection closed (not after disconnect/stop).
    bool reconnect = false;
    // TCP_NODELAY on the connection.
    bool nodelay = true;
    ConnectionOptions connection{};
};

// One failed attempt, as on_connect_error sees it.
struct ConnectError {
    std::error_code error;      // ECONNREFUSED, std::errc::timed_out, ...
    std::uint32_t attempt = 0;  // 1-based, since connect() or the last established connection
    // The wait before the next attempt; nullopt: max_attempts reached, the client gave up.
    std::optional<std::chrono::milliseconds> retry_in;
};
using OnConnectErrorCallback = std::function<void(const ConnectError&)>;

class TcpClient : public HandlerSetup {
public:
    // A client on `reactor` (started or not). Nothing is connected until connect().
    static Result<std::unique_ptr<TcpClient>> create(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                                     TcpClientOptions options = {});
    // The same on reactor `index` of `pool` (std::errc::invalid_argument if out of range).
    static Result<std::unique_ptr<TcpClient>> create(reactor::ReactorPool& pool, const net::SocketAddr& addr,
                                                     TcpClientOptions options = {}, std::size_t index = 0);

    TcpClient(const TcpClient&) = delete;
    TcpClient& operator=(const TcpClient&) = delete;
    ~TcpClient();

    // ---- handlers: set_handler_factory, on_open, on_data, ... (HandlerSetup) ----
    // Failed attempts (before the first connect, like the others).
    void on_connect_error(OnConnectErrorCallback cb);

    // ---- control (any thread) ----
    void connect();
    void disconnect();
    // Never fails; Result<void> gives it the servers' shape.
    Result<void> stop();

    // ---- observation (any thread) ----
    // The live connection, or an empty ref.
    ConnectionRef connection() const;
    // Attempts started since create().
    std::uint64_t attempts() const noexcept;
    const net::SocketAddr& remote_addr() const noexcept;
    reactor::Reactor& reactor() const noexcept;
    // One block (the client's reactor); metrics.hpp.
    Metrics& metrics() noexcept;

private:
    struct Impl;
    TcpClient() = default;
    std::shared_ptr<Impl> impl_;  // shared with tasks posted to the reactor
};

}  // namespace pollux::framework
