// samples/tcp_proxy — a TCP proxy on the framework: each accepted connection is joined
// to a new connection to --upstream, and bytes flow both ways until both sides are done.
//
//     tcp_proxy --upstream HOST:PORT [--listen ADDR:PORT] [--reactors N]
//               [--high-water BYTES] [--connect-timeout-ms MS] [--idle-timeout-ms MS]
//
// Design. A pair is two framework Connections on ONE reactor: the accepted one
// ("down", from TcpServer) and the one to the upstream ("up", from a TcpClient created
// on the accepted connection's reactor, TcpClient::create(conn.reactor(), ...)). Both
// live on the same thread, so each side reaches the other through a plain pointer,
// with no post, no lock and no copy beyond the framework's own: down's on_data calls
// up->send(bytes), which writes straight to the upstream socket. A raw non-blocking
// TcpStream registered on the reactor would avoid the client's own connection host, but
// would need its own output queue, backpressure and honest close, which Connection
// already has. The cost of the TcpClient route: each pair carries a client with its
// own connection host, whose 64 KiB read scratch and buffer pool are the pair's alone
// (the framework has no way to put an outgoing connection on a server's own host). The
// scratch becomes resident as far as the upstream's reads reach; an idle pair costs
// about 7.6 KB of RSS (echo_load --idle 1000 through the proxy, 2026-12-03).
//
//     client <--> down [TcpServer, reactor i] <--> up [TcpClient, reactor i] <--> upstream
//
// The rules, the same both ways:
//   * Connect. Reading from down pauses until up is open; a failed connect (refused,
//     unreachable, --connect-timeout-ms) aborts down: the client gets a reset at once.
//   * Backpressure. When one side's output queue passes --high-water, reading from the
//     other side pauses (on_high_water); it resumes when that output has drained
//     (on_write_complete). So a side that never reads holds at most --high-water plus
//     one read (64 KiB) in the proxy; the rest waits in the kernel and TCP flow control
//     slows the sender.
//   * Half-close. A side's end of stream (on_read_closed) becomes shutdown_write() on the
//     other side, after its queued bytes; the pair keeps carrying the other direction.
//     Once both directions have ended, both sides close.
//   * Resets. A side that closes for a reset, an error, a limit or a linger timeout is
//     passed on as abort(): the other peer gets a reset, never a clean end of a stream
//     that was cut. Any other close (idle timeout, server stop, both ends done) is
//     passed on as a graceful close().
//   * Stop. SIGINT/SIGTERM: the server closes every down side gracefully and a stop hook
//     on each reactor closes every up side (or cancels its connect). Each pair holds a
//     lease on the pool's connection count, so the stop waits for the pairs to drain
//     (5 s grace); what is left then is closed with a reset.
//
// The upstream is resolved once, at start (all its addresses, tried in order by each
// connect). Prints "listening on ADDR", serves until SIGINT or SIGTERM.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pollux/core/log.hpp>
#include <pollux/framework/tcp_client.hpp>
#include <pollux/framework/tcp_server.hpp>
#include <pollux/net/resolve.hpp>

#include "cli.hpp"

using namespace pollux::framework;
namespace cli = pollux::samples::cli;
namespace net = pollux::net;

namespace {

class Pair;

// What every pair shares, and each reactor's list of its pairs (used on that reactor's
// thread only, and by main once the reactors have been joined).
struct Proxy {
    struct alignas(64) Shard {
        Pair* head = nullptr;
        pollux::LogRateLimit connect_errors;  // one stderr line per second per reactor
    };
    Proxy(pollux::reactor::ReactorPool& p, std::vector<net::SocketAddr> up, std::string name, TcpClientOptions o)
        : pool(p), upstream(std::move(up)), upstream_name(std::move(name)), client_options(std::move(o)),
          shards(p.size()) {}

    void stop_in_loop(std::size_t reactor);
    void teardown();

    pollux::reactor::ReactorPool& pool;
    const std::vector<net::SocketAddr> upstream;
    const std::string upstream_name;
    const TcpClientOptions client_options;
    std::vector<Shard> shards;
};

// Which closes are passed on as a reset.
bool is_abortive(CloseReason reason) {
    return reason == CloseReason::reset || reason == CloseReason::error || reason == CloseReason::limit ||
           reason == CloseReason::linger_timeout;
}

// One side's handler: forwards its callbacks to the pair with the side's name.
template <bool Up>
class Side final : public ConnectionHandler {
public:
    explicit Side(Pair& pair) noexcept : pair_(pair) {}
    // A handler whose connection never opened (its registration failed after the
    // factory ran) gets no on_close: the pair would be left behind.
    ~Side() override;
    void on_open(Connection& conn) override;
    void on_data(Connection& conn, Buffer& in) override;
    void on_high_water(Connection& conn) override;
    void on_write_complete(Connection& conn) override;
    void on_read_closed(Connection& conn) override;
    void on_close(Connection& conn, CloseReason reason) override;

private:
    Pair& pair_;
    bool opened_ = false;
};

class Pair {
public:
    // On the accepted connection's reactor, from the server's handler factory.
    static std::unique_ptr<ConnectionHandler> open(Proxy& proxy, Connection& down) {
        const std::size_t i = down.reactor().index();
        auto client = TcpClient::create(down.reactor(), proxy.upstream, proxy.client_options);
        if (!client) return nullptr;  // the factory's null aborts the connection
        auto* pair = new Pair(proxy, i, std::move(*client));
        pair->down_ = &down;
        return std::make_unique<Side<false>>(*pair);
    }

    // ---- down: the accepted connection ----
    void down_open(Connection& down) {
        down.pause_reading();  // until up is open
        client_->connect();    // may fail at once: on_connect_error aborts down
    }
    void down_data(Buffer& in) {
        if (up_ != nullptr) up_->send(in.readable());
        in.consume_all();
    }
    void down_read_closed() {
        down_eof_ = true;
        if (up_ != nullptr) up_->shutdown_write();
        if (up_eof_) close_both();
    }
    void down_closed(CloseReason reason) {
        down_ = nullptr;
        if (up_ != nullptr) {
            pass_on(*up_, reason);
        } else if (!up_done_) {
            client_->stop();  // cancels the connect; no callback follows
            up_done_ = true;
        }
        finish_if_done();
    }

    // ---- up: the connection to the upstream ----
    void up_open(Connection& up) {
        if (down_ == nullptr || !down_->is_open()) {  // down is closing: the pair is over
            up.close();
            return;
        }
        up_ = &up;
        down_->resume_reading();
    }
    void up_data(Buffer& in) {
        if (down_ != nullptr) down_->send(in.readable());
        in.consume_all();
    }
    void up_read_closed() {
        up_eof_ = true;
        if (down_ != nullptr) down_->shutdown_write();
        if (down_eof_) close_both();
    }
    void up_closed(CloseReason reason) {
        up_ = nullptr;
        up_done_ = true;
        if (down_ != nullptr) pass_on(*down_, reason);
        finish_if_done();
    }
    void connect_failed(const ConnectError& e) {
        up_done_ = true;
        auto& shard = proxy_.shards[reactor_];
        if (auto held = shard.connect_errors.admit(pollux::LogRateLimit::Clock::now())) {
            const std::string where = e.address ? e.address->to_string() : proxy_.upstream_name;
            std::fprintf(stderr, "tcp_proxy: upstream %s: %s (client reset; %llu more since the last report)\n",
                         where.c_str(), e.error.message().c_str(), static_cast<unsigned long long>(*held));
        }
        if (down_ != nullptr) down_->abort(CloseReason::local_close);  // a reset, now
    }

    // A side's handler was destroyed without on_open (see ~Side).
    void never_opened(bool up) {
        if (up) {
            up_done_ = true;  // the client reports the failed open as a connect error
        } else {
            down_ = nullptr;
            if (!tearing_down_) teardown();
        }
    }

    // ---- backpressure: a side's output above the mark pauses reading the other ----
    Connection* other(bool up) const noexcept { return up ? down_ : up_; }

    // Stop hook (on the reactor): close up gracefully, or cancel its connect.
    void stop_in_loop() {
        if (up_ != nullptr) {
            up_->close(CloseReason::server_stop);
        } else if (!up_done_) {
            client_->stop();
            up_done_ = true;
            finish_if_done();
        }
    }
    // After the reactors were joined (main): whatever is left is closed now, with a
    // reset for output still queued.
    void teardown() {
        tearing_down_ = true;
        client_->stop();  // on the joining thread: up's on_close runs here
        delete this;
    }

    Pair* next_ = nullptr;

private:
    Pair(Proxy& proxy, std::size_t reactor, std::unique_ptr<TcpClient> client)
        : proxy_(proxy), reactor_(reactor), client_(std::move(client)) {
        // Counted like a connection of this reactor, so the pool's stop waits for it.
        proxy_.pool.counts().add(reactor_);
        lease_ = proxy_.pool.adopt_connection(reactor_);
        client_->set_handler_factory([this](Connection&) { return std::make_unique<Side<true>>(*this); });
        client_->on_connect_error([this](const ConnectError& e) { connect_failed(e); });
        auto& shard = proxy_.shards[reactor_];
        next_ = shard.head;
        if (next_ != nullptr) next_->prev_ = this;
        shard.head = this;
    }
    ~Pair() {
        auto& shard = proxy_.shards[reactor_];
        if (prev_ != nullptr) prev_->next_ = next_; else shard.head = next_;
        if (next_ != nullptr) next_->prev_ = prev_;
    }

    static void pass_on(Connection& to, CloseReason reason) {
        if (is_abortive(reason)) {
            to.abort(reason);
        } else {
            to.close(reason == CloseReason::peer_closed ? CloseReason::local_close : reason);
        }
    }
    void close_both() {
        if (down_ != nullptr) down_->close();
        if (up_ != nullptr) up_->close();
    }
    // Both sides closed (or up never opened): free the pair and its client. Inside up's
    // own on_close this destroys the client from its callback, which TcpClient allows.
    void finish_if_done() {
        if (down_ == nullptr && up_done_ && !tearing_down_) delete this;
    }

    Proxy& proxy_;
    const std::size_t reactor_;
    std::unique_ptr<TcpClient> client_;
    pollux::reactor::ConnectionLease lease_;
    Pair* prev_ = nullptr;
    Connection* down_ = nullptr;  // open (not yet on_close) while non-null
    Connection* up_ = nullptr;    // set by up's on_open, cleared by its on_close
    bool down_eof_ = false;
    bool up_eof_ = false;
    bool up_done_ = false;  // up has closed, or will never open
    bool tearing_down_ = false;
};

template <bool Up>
Side<Up>::~Side() {
    if (!opened_) pair_.never_opened(Up);
}
template <bool Up>
void Side<Up>::on_open(Connection& conn) {
    opened_ = true;
    if constexpr (Up) pair_.up_open(conn); else pair_.down_open(conn);
}
template <bool Up>
void Side<Up>::on_data(Connection&, Buffer& in) {
    if constexpr (Up) pair_.up_data(in); else pair_.down_data(in);
}
template <bool Up>
void Side<Up>::on_high_water(Connection&) {
    if (Connection* from = pair_.other(Up)) from->pause_reading();
}
template <bool Up>
void Side<Up>::on_write_complete(Connection&) {
    if (Connection* from = pair_.other(Up)) from->resume_reading();
}
template <bool Up>
void Side<Up>::on_read_closed(Connection&) {
    if constexpr (Up) pair_.up_read_closed(); else pair_.down_read_closed();
}
template <bool Up>
void Side<Up>::on_close(Connection&, CloseReason reason) {
    if constexpr (Up) pair_.up_closed(reason); else pair_.down_closed(reason);
}

void Proxy::stop_in_loop(std::size_t reactor) {
    for (Pair* p = shards[reactor].head; p != nullptr;) {
        Pair* next = p->next_;  // p may free itself
        p->stop_in_loop();
        p = next;
    }
}

void Proxy::teardown() {
    for (auto& shard : shards) {
        while (shard.head != nullptr) shard.head->teardown();
    }
}

// "HOST:PORT" or "[V6]:PORT" -> host, port; empty host on a bad shape.
std::pair<std::string, std::uint16_t> split_host_port(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    std::string_view host = text.substr(0, colon);
    std::string port_text(text.substr(colon + 1));
    if (!cli::in_range<std::uint16_t>(1, 65535)(port_text).empty()) return {};
    if (host.starts_with('[')) {
        if (!host.ends_with(']') || host.size() < 3) return {};
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return {};  // an IPv6 address goes in brackets: "::1:80" is ambiguous
    }
    return {std::string(host), static_cast<std::uint16_t>(std::stoul(port_text))};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A TCP proxy on the pollux framework: every connection joined to one to the upstream.", "tcp_proxy"};
    std::string upstream_text;
    std::string listen = "127.0.0.1:9005";
    std::size_t reactors = 0;
    std::size_t high_water = 256 * 1024;
    std::uint64_t connect_timeout_ms = 5'000;
    std::uint64_t idle_timeout_ms = 600'000;
    app.add_option("--upstream", upstream_text, "where to connect: a host name or address, and a port")
        ->required()
        ->type_name("HOST:PORT")
        ->check(CLI::Validator(
            [](std::string& text) {
                return split_host_port(text).first.empty()
                           ? "'" + text + "' is not HOST:PORT or [IPV6]:PORT (PORT 1..65535)"
                           : std::string();
            },
            "", "HOST:PORT"));
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    cli::add_number<std::size_t>(app, "--high-water", high_water, 1, std::size_t{1} << 30,
                                 "output bytes queued for one side at which reading the other side pauses")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--connect-timeout-ms", connect_timeout_ms, 1, 3'600'000,
                                   "connecting to the upstream may take this long; then the client gets a reset")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--idle-timeout-ms", idle_timeout_ms, 0, 86'400'000,
                                   "close a pair whose side saw no byte for this long (0: never)")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto [host, port] = split_host_port(upstream_text);
    auto upstream = net::resolve(host, port);
    if (!upstream) return cli::fail("tcp_proxy", "upstream " + host, upstream.error());
    auto addr = net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("tcp_proxy", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }

    ConnectionOptions connection;
    connection.high_water_mark = high_water;
    // Never reached: a side's queue stays under the mark plus one read (backpressure).
    connection.max_output = 2 * high_water + 1024 * 1024;
    connection.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.connection = connection;
    TcpClientOptions client_options;
    client_options.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
    client_options.max_attempts = 1;  // one attempt (every address once), no retry
    client_options.connection = connection;

    auto bound = TcpServer::bind(*addr, options);
    if (!bound) return cli::fail("tcp_proxy", addr->to_string(), bound.error());
    TcpServer& server = **bound;
    Proxy proxy(server.pool(), std::move(*upstream), upstream_text, client_options);
    server.set_handler_factory([&proxy](Connection& down) { return Pair::open(proxy, down); });
    // After the server's own hook (which closes the down sides), on each reactor.
    server.pool().on_stop([&proxy](pollux::reactor::Reactor& r, auto) { proxy.stop_in_loop(r.index()); });

    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    // The reactors are joined: this thread owns them now, and closes what is left.
    proxy.teardown();
    if (!ran) return cli::fail("tcp_proxy", "run", ran.error());
    return 0;
}
