// framework/src/tcp_client.cpp — internal.
//
// The connector is TcpClient::Impl: a small state machine on the client's reactor.
//
//     idle --connect()--> [resolving] --> connecting --established--> connected --closed--+
//      ^                    |                 |   ^                       |                |
//      |   no address       |   every address |   | backoff timer         | disconnect()   | reconnect:
//      |                    v   failed        v   |                       v                | backoff
//      +--- gave up ------------------------ backoff                     idle   <----------+ (or idle)
//
// resolving: a host name, at the start of each attempt (reactor::Resolver; its answer
// carries the generation it was asked under, and anything that abandons the attempt
// moves the generation on, so a late answer is ignored). connecting walks the address
// list: each failed address moves to the next, the last one fails the attempt.
// stopped is terminal. Everything but the `*_any` members runs on the loop thread.
#include "pollux/framework/tcp_client.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <semaphore>
#include <thread>
#include <mutex>
#include <random>
#include <utility>

#include "connection_host.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/net/resolve.hpp"
#include "pollux/reactor/resolver.hpp"

namespace pollux::framework {

namespace {
// No backoff wait is shorter: initial_backoff = 0 must not turn into a busy retry loop.
constexpr std::chrono::milliseconds kMinBackoff{1};
}  // namespace

struct TcpClient::Impl final : reactor::EventHandler, std::enable_shared_from_this<TcpClient::Impl> {
    enum class State : std::uint8_t { idle, resolving, connecting, backoff, connected, stopped };

    // `fixed`: the addresses to try; empty: resolve `name` on each attempt.
    Impl(reactor::Reactor& r, std::string name, std::uint16_t p, std::vector<net::SocketAddr> addrs,
         TcpClientOptions o, std::shared_ptr<HandlerSetup::Handlers> handlers)
        : reactor(r),
          host_name(std::move(name)),
          port(p),
          fixed(std::move(addrs)),
          addr(fixed.empty() ? net::SocketAddr(net::Ipv4Addr::any(), p) : fixed.front()),
          options(std::move(o)),
          metrics(1),
          host(r, options.connection, metrics.reactor(0)),
          rng(static_cast<std::uint_fast32_t>(std::random_device{}())) {
        host.set_handlers(std::move(handlers));
        host.set_on_closed([this] { on_closed(); });
        if (fixed.empty()) resolver.emplace();
    }

    void connect_in_loop();
    void disconnect_in_loop();
    void stop_in_loop();
    void stop_detached();
    void attempt();
    void on_resolved(std::uint64_t generation, Result<std::vector<net::SocketAddr>> addrs);
    void try_addresses(std::vector<net::SocketAddr> addrs);
    void try_next(std::error_code last);
    void next_address(std::error_code ec);
    void on_event(const Event& ev) override;
    void on_connect_timeout();
    void established();
    void fail(std::error_code ec);
    void close_attempt_socket() noexcept;
    void abandon_attempt() noexcept;
    void on_closed();
    void wait_then_attempt(std::chrono::milliseconds wait);
    std::chrono::milliseconds backoff(std::uint32_t failed);
    void set_ref(ConnectionRef r) {
        std::lock_guard lock(ref_mutex);
        ref = r;
    }

    // Set at creation, read-only afterwards (on_connect_error: before the first connect).
    reactor::Reactor& reactor;
    const std::string host_name;                 // as given, or the IP's text
    const std::uint16_t port;
    const std::vector<net::SocketAddr> fixed;    // empty: resolve host_name
    const net::SocketAddr addr;                  // remote_addr()
    const TcpClientOptions options;
    Metrics metrics;
    OnConnectErrorCallback on_connect_error;
    ConnectionHost host;  // after options and metrics; shares the client's handlers
    // Thread-safe; shut down by stop(), from any thread, so that no answer reaches the
    // reactor afterwards. Present for a host name only.
    std::optional<reactor::Resolver> resolver;

    // Loop thread.
    State state = State::idle;
    std::uint64_t resolve_generation = 0;      // bumped when an attempt is abandoned
    std::vector<net::SocketAddr> candidates;   // this attempt's addresses
    std::size_t next_candidate = 0;
    std::optional<net::SocketAddr> trying;     // the address of `connecting`
    net::TcpStream connecting;         // the attempt in flight (state connecting)
    reactor::RegistrationId registration{};
    reactor::TimerId timer{};          // connect timeout (connecting) or backoff wait
    std::uint32_t failures = 0;        // failed attempts in a row
    std::minstd_rand rng;              // jitter

    // Shared.
    std::atomic<std::uint64_t> attempts{0};  // written by the loop, read anywhere
    std::atomic<bool> stopped{false};        // set by stop_in_loop
    mutable std::mutex ref_mutex;            // guards ref (not on a hot path)
    ConnectionRef ref;
};

void TcpClient::Impl::connect_in_loop() {
    assert(reactor.is_in_loop_thread());
    if (state != State::idle) return;
    failures = 0;
    attempt();
}

void TcpClient::Impl::attempt() {
    attempts.fetch_add(1, std::memory_order_relaxed);
    if (!fixed.empty()) {
        try_addresses(fixed);
        return;
    }
    state = State::resolving;
    const std::uint64_t generation = ++resolve_generation;
    // A weak_ptr: the answer may be destroyed on the resolver's thread (resolver.hpp),
    // which must not free the client's state.
    auto asked = resolver->resolve_async(
        reactor, host_name, port,
        [weak = weak_from_this(), generation](Result<std::vector<net::SocketAddr>> addrs) {
            if (auto self = weak.lock()) self->on_resolved(generation, std::move(addrs));
        });
    if (!asked) fail(asked.error());
}

void TcpClient::Impl::on_resolved(std::uint64_t generation, Result<std::vector<net::SocketAddr>> addrs) {
    if (state != State::resolving || generation != resolve_generation) return;  // abandoned since
    if (!addrs) {
        fail(addrs.error());
        return;
    }
    try_addresses(std::move(*addrs));
}

void TcpClient::Impl::try_addresses(std::vector<net::SocketAddr> addrs) {
    state = State::connecting;
    candidates = std::move(addrs);
    next_candidate = 0;
    try_next(std::make_error_code(std::errc::address_not_available));  // only for an empty list
}

// Starts a connect to the next address that gets that far; fails the attempt with the
// last error when none is left.
void TcpClient::Impl::try_next(std::error_code last) {
    while (next_candidate < candidates.size()) {
        trying = candidates[next_candidate++];
        auto stream = net::TcpStream::connect(*trying);
        if (!stream) {
            last = stream.error();
            continue;
        }
        connecting = std::move(*stream);
        auto id = reactor.register_in_loop(connecting, Interest::WRITABLE, *this);
        if (!id) {
            connecting = net::TcpStream();
            last = id.error();
            continue;
        }
        registration = *id;
        timer = reactor.run_after_in_loop(options.connect_timeout, [this] { on_connect_timeout(); });
        return;
    }
    fail(last);
}

// The address in flight failed: close it and go on with the next.
void TcpClient::Impl::next_address(std::error_code ec) {
    close_attempt_socket();
    try_next(ec);
}

// mio's recipe (tcp_stream.hpp): take_error, then peer_addr; ENOTCONN is spurious.
void TcpClient::Impl::on_event(const Event&) {
    if (state != State::connecting) return;
    auto err = connecting.take_error();
    if (!err) {
        next_address(err.error());
        return;
    }
    if (*err) {
        next_address(**err);
        return;
    }
    auto peer = connecting.peer_addr();
    if (peer) {
        established();
    } else if (peer.error() != std::errc::not_connected) {
        next_address(peer.error());
    }
}

void TcpClient::Impl::on_connect_timeout() {
    timer = {};
    if (state == State::connecting) next_address(std::make_error_code(std::errc::timed_out));
}

void TcpClient::Impl::close_attempt_socket() noexcept {
    reactor.cancel_timer_in_loop(timer);
    timer = {};
    if (connecting.fd() >= 0) {
        (void)reactor.deregister_in_loop(connecting, registration);
        connecting = net::TcpStream();  // closes the socket
    }
}

void TcpClient::Impl::abandon_attempt() noexcept {
    close_attempt_socket();
    ++resolve_generation;  // an answer still on its way is ignored
    candidates.clear();
    next_candidate = 0;
}

void TcpClient::Impl::established() {
    reactor.cancel_timer_in_loop(timer);
    timer = {};
    (void)reactor.deregister_in_loop(connecting, registration);
    net::TcpStream stream = std::move(connecting);
    connecting = net::TcpStream();
    trying.reset();
    candidates.clear();
    if (options.nodelay) (void)stream.set_nodelay(true);
    state = State::connected;
    failures = 0;
    metrics.reactor(0).connections_accepted.add();
    Connection* conn = host.open_in_loop(Connection::Stream(std::move(stream)));
    if (conn == nullptr) {  // registration failed or the factory refused
        fail(std::make_error_code(std::errc::connection_aborted));
        return;
    }
    // on_open may already have aborted it (on_closed ran): then publish nothing.
    if (state == State::connected) set_ref(conn->ref());
}

void TcpClient::Impl::fail(std::error_code ec) {
    const bool resolved = state != State::resolving;
    abandon_attempt();
    ++failures;
    ConnectError e{ec, failures, std::nullopt, resolved ? trying : std::nullopt};
    trying.reset();
    if (options.max_attempts == 0 || failures < options.max_attempts) {
        const auto wait = backoff(failures);
        e.retry_in = wait;
        wait_then_attempt(wait);
    } else {
        state = State::idle;
    }
    if (on_connect_error) on_connect_error(e);  // last: it may call disconnect/stop
}

void TcpClient::Impl::wait_then_attempt(std::chrono::milliseconds wait) {
    state = State::backoff;
    timer = reactor.run_after_in_loop(wait, [this] {
        timer = {};
        if (state == State::backoff) attempt();
    });
}

std::chrono::milliseconds TcpClient::Impl::backoff(std::uint32_t failed) {
    using std::chrono::milliseconds;
    const milliseconds cap = std::max(options.max_backoff, kMinBackoff);
    milliseconds d = std::min(std::max(options.initial_backoff, kMinBackoff), cap);
    for (std::uint32_t i = 1; i < failed && d < cap; ++i) d = d > cap / 2 ? cap : d * 2;
    if (options.jitter && d.count() > 1) {
        std::uniform_int_distribution<milliseconds::rep> dist(d.count() / 2, d.count());
        d = milliseconds{dist(rng)};
    }
    return d;
}

void TcpClient::Impl::on_closed() {
    set_ref({});
    if (state != State::connected) return;  // disconnect() or stop() got here first
    if (options.reconnect) {
        failures = 0;
        wait_then_attempt(backoff(1));  // jittered: a crowd does not come back at once
    } else {
        state = State::idle;
    }
}

void TcpClient::Impl::disconnect_in_loop() {
    assert(reactor.is_in_loop_thread());
    if (state == State::stopped) return;
    abandon_attempt();
    const bool was_connected = state == State::connected;
    state = State::idle;
    if (was_connected) {
        ConnectionRef r;
        {
            std::lock_guard lock(ref_mutex);
            r = ref;
        }
        if (Connection* c = r.get_in_loop()) c->close(CloseReason::local_close);
    }
}

void TcpClient::Impl::stop_in_loop() {
    assert(reactor.is_in_loop_thread());
    if (state == State::stopped) return;
    if (resolver) resolver->shutdown();
    state = State::stopped;
    stopped.store(true, std::memory_order_release);
    abandon_attempt();
    // A reset; on_close follows in the deferred phase (inline when the loop no longer
    // runs: this thread joined it).
    host.abort_all_in_loop(CloseReason::local_close);
    // The host may still have a settle deferred on the reactor: keep everything alive
    // until the deferred phase has passed it (deferred tasks run in order).
    reactor.defer_in_loop([self = shared_from_this()] {});
}

// The loop has exited and this thread does not own the reactor (it did not join it), so
// nothing here may touch the reactor: its owner may be tearing down its own
// registrations right now. The loop's last writes happen-before this call (stop() read
// the reactor's exited phase with acquire). What a client leaves in a dead
// reactor is inert: the loop never dispatches or fires again, so the table slot of an
// attempt and the timer tasks (which capture `this` but only run on the loop) may
// outlive the state; ~Reactor destroys the timer tasks without running them. An open
// connection is different: closing it runs Connection's in-loop teardown (deregister,
// timers, on_close) on the reactor, which is not ours to touch. That is the one case
// the client cannot handle, and it stops the process with a message instead of leaking
// or racing (see "Lifetime" in tcp_client.hpp).
void TcpClient::Impl::stop_detached() {
    if (stopped.load(std::memory_order_acquire)) return;  // stop_in_loop already ran
    if (host.size_in_loop() != 0) {
        std::fputs(
            "pollux: TcpClient destroyed/stopped with an open connection after its reactor exited, "
            "on a thread that did not join the reactor; stop or destroy it while the reactor runs "
            "or on the thread that joined it (tcp_client.hpp, Lifetime)\n",
            stderr);
        std::abort();
    }
    if (resolver) resolver->shutdown();
    state = State::stopped;
    stopped.store(true, std::memory_order_release);
    connecting = net::TcpStream();  // closing the fd removes it from the dead epoll set
    timer = {};
    set_ref({});
}

// ---- TcpClient ----

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                                     TcpClientOptions options) {
    return create(reactor, std::vector<net::SocketAddr>{addr}, std::move(options));
}

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::Reactor& reactor, std::vector<net::SocketAddr> addrs,
                                                     TcpClientOptions options) {
    if (addrs.empty()) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    const net::SocketAddr& first = addrs.front();
    std::string ip = first.is_ipv4() ? first.ipv4().to_string() : first.ipv6().to_string();
    const std::uint16_t port = first.port();
    std::unique_ptr<TcpClient> client(new TcpClient());
    client->impl_ =
        std::make_shared<Impl>(reactor, std::move(ip), port, std::move(addrs), std::move(options), client->handlers());
    return client;
}

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::Reactor& reactor, std::string host, std::uint16_t port,
                                                     TcpClientOptions options) {
    std::vector<net::SocketAddr> fixed;
    if (auto numeric = net::resolve_numeric(host, port)) {
        fixed = std::move(*numeric);  // never changes: no resolver needed
    } else if (numeric.error() != net::ResolveErrc::host_not_found) {
        return std::unexpected(numeric.error());  // empty, or a NUL byte
    }
    std::unique_ptr<TcpClient> client(new TcpClient());
    client->impl_ = std::make_shared<Impl>(reactor, std::move(host), port, std::move(fixed), std::move(options),
                                           client->handlers());
    return client;
}

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::ReactorPool& pool, const net::SocketAddr& addr,
                                                     TcpClientOptions options, std::size_t index) {
    if (index >= pool.size()) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    return create(pool.reactor(index), addr, std::move(options));
}

TcpClient::~TcpClient() { (void)stop(); }

void TcpClient::on_connect_error(OnConnectErrorCallback cb) { impl_->on_connect_error = std::move(cb); }

void TcpClient::connect() {
    if (impl_->reactor.is_in_loop_thread()) {
        impl_->connect_in_loop();
        return;
    }
    (void)impl_->reactor.post([impl = impl_] { impl->connect_in_loop(); });
}

void TcpClient::disconnect() {
    if (impl_->reactor.is_in_loop_thread()) {
        impl_->disconnect_in_loop();
        return;
    }
    (void)impl_->reactor.post([impl = impl_] { impl->disconnect_in_loop(); });
}

Result<void> TcpClient::stop() {
    // First, from whatever thread: no answer reaches the reactor after this.
    if (impl_->resolver) impl_->resolver->shutdown();
    reactor::Reactor& r = impl_->reactor;
    if (r.is_in_loop_thread()) {
        impl_->stop_in_loop();
        return {};
    }
    using Phase = reactor::Reactor::Phase;
    if (r.phase() == Phase::created) {
        // Not started, and this is not the creating thread: nothing here may touch the
        // reactor. Queue the stop; it runs first thing when the loop starts (or dies with
        // the reactor), and holds the state alive until then.
        (void)r.post([impl = impl_] { impl->stop_in_loop(); });
        return {};
    }
    if (r.phase() == Phase::running) {
        // The task runs, or dies unrun if the loop exits first (a post the reactor
        // accepted does one or the other before its loop ends), and the Signal it
        // carries is released either way: this wait always ends. On success it is
        // released after on_close has run (deferred after the host's settle), so no
        // callback of this client runs once stop returns.
        struct Wait {
            std::binary_semaphore done{0};
            bool stopped = false;  // written before the release, read after the acquire
        };
        struct Signal {
            std::shared_ptr<Wait> wait;
            bool armed = true;
            explicit Signal(std::shared_ptr<Wait> w) noexcept : wait(std::move(w)) {}
            Signal(Signal&& o) noexcept : wait(std::move(o.wait)), armed(std::exchange(o.armed, false)) {}
            Signal& operator=(Signal&&) = delete;
            ~Signal() {
                if (armed) wait->done.release();
            }
            void fire() {
                wait->stopped = true;
                armed = false;
                wait->done.release();
            }
        };
        auto wait = std::make_shared<Wait>();
        auto task = [impl = impl_, signal = Signal(wait)]() mutable {
            impl->stop_in_loop();
            impl->reactor.defer_in_loop([signal = std::move(signal)]() mutable { signal.fire(); });
        };
        if (r.post(std::move(task))) {
            wait->done.acquire();
            if (wait->stopped) return {};
        }
    }
    // The loop is exiting or has exited. Its exit is bounded (reactor.hpp, Lifecycle):
    // wait for the end, after which nothing on the reactor runs again.
    while (r.phase() != Phase::exited) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    impl_->stop_detached();
    return {};
}

ConnectionRef TcpClient::connection() const {
    std::lock_guard lock(impl_->ref_mutex);
    return impl_->ref;
}

std::uint64_t TcpClient::attempts() const noexcept { return impl_->attempts.load(std::memory_order_relaxed); }
const net::SocketAddr& TcpClient::remote_addr() const noexcept { return impl_->addr; }
const std::string& TcpClient::remote_host() const noexcept { return impl_->host_name; }
reactor::Reactor& TcpClient::reactor() const noexcept { return impl_->reactor; }
Metrics& TcpClient::metrics() noexcept { return impl_->metrics; }

}  // namespace pollux::framework
