// pollux/framework/tcp_client.hpp — public.
//
// A `TcpClient` connects to one server from one reactor and runs the same handlers as
// TcpServer (callbacks.hpp) on the connection it makes:
//
//     auto reactor = reactor::Reactor::create().value();
//     auto client = TcpClient::create(*reactor, "localhost", 9000, {.max_attempts = 5}).value();
//     client->on_open([](Connection& conn) { conn.send("hello\n"); });
//     client->on_data([](Connection& conn, Buffer& in) { ...; in.consume_all(); });
//     client->on_connect_error([](const ConnectError& e) { log(e.error, e.retry_in); });
//     reactor->start();
//     client->connect();
//
// The server. One address (`create(reactor, addr)`), a list of addresses to try in
// order, or a host and a port (`create(reactor, "localhost", 9000)`). A numeric host
// ("127.0.0.1", "::1") is parsed at create. A name is resolved again at the start of
// every attempt, by a reactor::Resolver the client owns (resolver.hpp): getaddrinfo runs
// on the resolver's thread, never on the reactor, and the client's reactor gets the
// answer. A failed resolution fails the attempt with its error (e.g.
// net::ResolveErrc::host_not_found, "Name or service not known").
//
// Connecting (the connector, on the reactor thread):
//
//     connect() --> attempt: [resolve the name] --> the addresses, in order:
//                     TcpStream::connect, register WRITABLE, arm connect_timeout
//                     | writable, take_error() empty,    | error / timeout:
//                     | peer_addr() ok                   | the next address
//                     v                                  v   all failed, or resolution failed
//                  Connection (on_open ...)        on_connect_error({ec, n, retry_in, address})
//                     | closed (any reason)               | retry_in: backoff timer
//                     v                                   v   nullopt: gave up (idle)
//           reconnect? wait backoff(1)  ---------->  next attempt
//
//   * One attempt tries every address once, in order (getaddrinfo's order for a name).
//     An address that fails (refused, unreachable, connect_timeout) moves on to the
//     next; the attempt fails when the last one has, with the last address's error.
//   * connect_timeout bounds each address (std::errc::timed_out); the resolution of a
//     name is bounded by the system resolver's own timeouts (resolv.conf). A refused or
//     failed address reports the socket error (ECONNREFUSED, ENETUNREACH, ...).
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
//   disconnect()  cancels a pending attempt (a resolution in progress too: its
//                 answer is ignored) or backoff, closes the connection gracefully
//                 (CloseReason::local_close), no reconnect. connect() may follow.
//   stop()        final: cancels everything (a resolution in progress is dropped
//                 at once, from any thread) and aborts the connection (a reset;
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
#include <string>
#include <system_error>
#include <vector>

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
    // ECONNREFUSED, std::errc::timed_out, net::ResolveErrc::host_not_found, ...
    std::error_code error;
    std::uint32_t attempt = 0;  // 1-based, since connect() or the last established connection
    // The wait before the next attempt; nullopt: max_attempts reached, the client gave up.
    std::optional<std::chrono::milliseconds> retry_in;
    // The last address tried; nullopt when the name did not resolve.
    std::optional<net::SocketAddr> address;
};
using OnConnectErrorCallback = std::function<void(const ConnectError&)>;

class TcpClient : public HandlerSetup {
public:
    // A client on `reactor` (started or not). Nothing is connected until connect().
    static Result<std::unique_ptr<TcpClient>> create(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                                     TcpClientOptions options = {});
    // The same with addresses tried in order on each attempt (std::errc::invalid_argument
    // if empty).
    static Result<std::unique_ptr<TcpClient>> create(reactor::Reactor& reactor, std::vector<net::SocketAddr> addrs,
                                                     TcpClientOptions options = {});
    // By host name or numeric host (resolved on every attempt, see "The server").
    // std::errc::invalid_argument for an empty host or one with a NUL byte.
    static Result<std::unique_ptr<TcpClient>> create(reactor::Reactor& reactor, std::string host, std::uint16_t port,
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
    // The address given to create(); the first of the list; for a host name, the
    // unspecified address with the port (which address answered: the connection's
    // peer address).
    const net::SocketAddr& remote_addr() const noexcept;
    // The host given to create(), or the text of remote_addr()'s IP.
    const std::string& remote_host() const noexcept;
    reactor::Reactor& reactor() const noexcept;
    // One block (the client's reactor); metrics.hpp.
    Metrics& metrics() noexcept;

private:
    struct Impl;
    TcpClient() = default;
    std::shared_ptr<Impl> impl_;  // shared with tasks posted to the reactor
};

}  // namespace pollux::framework
