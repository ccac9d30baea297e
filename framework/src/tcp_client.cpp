// framework/src/tcp_client.cpp — internal.
//
// The connector is TcpClient::Impl: a small state machine on the client's reactor.
//
//     idle --connect()--> connecting --established--> connected --closed--+
//      ^                   |     ^                        |                |
//      |        error/timeout    | backoff timer          | disconnect()   | reconnect:
//      |                   v     |                        v                | backoff
//      +--- gave up --- backoff -+                       idle   <----------+ (or idle)
//
// stopped is terminal. Everything but the `*_any` members runs on the loop thread.
#include "pollux/framework/tcp_client.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <random>
#include <utility>

#include "connection_host.hpp"
#include "pollux/core/interest.hpp"

namespace pollux::framework {

namespace {
// stop() from another thread: how often it checks that the loop still runs.
constexpr std::chrono::milliseconds kStopProbe{50};
constexpr std::chrono::milliseconds kStopProbeMax{1000};
}  // namespace

struct TcpClient::Impl final : reactor::EventHandler, std::enable_shared_from_this<TcpClient::Impl> {
    enum class State : std::uint8_t { idle, connecting, backoff, connected, stopped };

    Impl(reactor::Reactor& r, const net::SocketAddr& a, TcpClientOptions o)
        : reactor(r),
          addr(a),
          options(std::move(o)),
          metrics(1),
          lambda(callbacks),
          host(r, options.connection, metrics.reactor(0)),
          rng(static_cast<std::uint_fast32_t>(std::random_device{}())) {
        host.set_handlers(&factory, &shared);
        host.set_on_closed([this] { on_closed(); });
    }

    void connect_in_loop();
    void disconnect_in_loop();
    void stop_in_loop();
    void stop_detached();
    void attempt();
    void on_event(const Event& ev) override;
    void on_connect_timeout();
    void established();
    void fail(std::error_code ec);
    void abandon_attempt() noexcept;
    void on_closed();
    std::chrono::milliseconds backoff(std::uint32_t failed);
    void set_ref(ConnectionRef r) {
        std::lock_guard lock(ref_mutex);
        ref = r;
    }

    // Set at creation, read-only afterwards (the handlers: before the first connect).
    reactor::Reactor& reactor;
    const net::SocketAddr addr;
    const TcpClientOptions options;
    Metrics metrics;
    ConnectionCallbacks callbacks;
    HandlerFactory factory;
    OnConnectErrorCallback on_connect_error;
    detail::CallbackHandler lambda;
    ConnectionHandler* const shared = &lambda;
    ConnectionHost host;  // after options, metrics, callbacks, factory, lambda, shared

    // Loop thread.
    State state = State::idle;
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
    state = State::connecting;
    attempts.fetch_add(1, std::memory_order_relaxed);
    auto stream = net::TcpStream::connect(addr);
    if (!stream) {
        fail(stream.error());
        return;
    }
    connecting = std::move(*stream);
    auto id = reactor.register_in_loop(connecting, Interest::WRITABLE, *this);
    if (!id) {
        connecting = net::TcpStream();
        fail(id.error());
        return;
    }
    registration = *id;
    timer = reactor.run_after_in_loop(options.connect_timeout, [this] { on_connect_timeout(); });
}

// mio's recipe (tcp_stream.hpp): take_error, then peer_addr; ENOTCONN is spurious.
void TcpClient::Impl::on_event(const Event&) {
    if (state != State::connecting) return;
    auto err = connecting.take_error();
    if (!err) {
        fail(err.error());
        return;
    }
    if (*err) {
        fail(**err);
        return;
    }
    auto peer = connecting.peer_addr();
    if (peer) {
        established();
    } else if (peer.error() != std::errc::not_connected) {
        fail(peer.error());
    }
}

void TcpClient::Impl::on_connect_timeout() {
    timer = {};
    if (state == State::connecting) fail(std::make_error_code(std::errc::timed_out));
}

void TcpClient::Impl::abandon_attempt() noexcept {
    reactor.cancel_timer_in_loop(timer);
    timer = {};
    if (connecting.fd() >= 0) {
        (void)reactor.deregister_in_loop(connecting, registration);
        connecting = net::TcpStream();  // closes the socket
    }
}

void TcpClient::Impl::established() {
    reactor.cancel_timer_in_loop(timer);
    timer = {};
    (void)reactor.deregister_in_loop(connecting, registration);
    net::TcpStream stream = std::move(connecting);
    connecting = net::TcpStream();
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
    abandon_attempt();
    ++failures;
    ConnectError e{ec, failures, std::nullopt};
    if (options.max_attempts == 0 || failures < options.max_attempts) {
        const auto wait = backoff(failures);
        e.retry_in = wait;
        state = State::backoff;
        timer = reactor.run_after_in_loop(wait, [this] {
            timer = {};
            if (state == State::backoff) attempt();
        });
    } else {
        state = State::idle;
    }
    if (on_connect_error) on_connect_error(e);  // last: it may call disconnect/stop
}

std::chrono::milliseconds TcpClient::Impl::backoff(std::uint32_t failed) {
    using std::chrono::milliseconds;
    const milliseconds cap = std::max(options.max_backoff, milliseconds{0});
    milliseconds d = std::min(std::max(options.initial_backoff, milliseconds{0}), cap);
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
        state = State::backoff;
        timer = reactor.run_after_in_loop(options.initial_backoff, [this] {
            timer = {};
            if (state == State::backoff) attempt();
        });
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
    state = State::stopped;
    stopped.store(true, std::memory_order_release);
    abandon_attempt();
    host.abort_all_in_loop(CloseReason::local_close);  // on_close runs here
    // The host may still have a reap deferred on the reactor: keep everything alive
    // until the deferred phase has passed it (deferred tasks run in order).
    reactor.defer_in_loop([self = shared_from_this()] {});
}

// The loop has exited and this thread does not own the reactor (it did not join it), so
// nothing here may touch the reactor: its owner may be tearing down its own
// registrations right now. The loop's last writes happen-before this call (the failed
// post read the reactor's `finished` state with acquire). What a client leaves in a dead
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
    state = State::stopped;
    stopped.store(true, std::memory_order_release);
    connecting = net::TcpStream();  // closing the fd removes it from the dead epoll set
    timer = {};
    set_ref({});
}

// ---- TcpClient ----

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::Reactor& reactor, const net::SocketAddr& addr,
                                                     TcpClientOptions options) {
    auto impl = std::make_shared<Impl>(reactor, addr, std::move(options));
    return std::unique_ptr<TcpClient>(new TcpClient(std::move(impl)));
}

Result<std::unique_ptr<TcpClient>> TcpClient::create(reactor::ReactorPool& pool, const net::SocketAddr& addr,
                                                     TcpClientOptions options, std::size_t index) {
    if (index >= pool.size()) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    return create(pool.reactor(index), addr, std::move(options));
}

TcpClient::TcpClient(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

TcpClient::~TcpClient() { stop(); }

void TcpClient::set_handler_factory(HandlerFactory factory) { impl_->factory = std::move(factory); }
void TcpClient::on_open(OnOpenCallback cb) { impl_->callbacks.on_open = std::move(cb); }
void TcpClient::on_data(OnDataCallback cb) { impl_->callbacks.on_data = std::move(cb); }
void TcpClient::on_write_complete(OnWriteCompleteCallback cb) { impl_->callbacks.on_write_complete = std::move(cb); }
void TcpClient::on_high_water(OnHighWaterCallback cb) { impl_->callbacks.on_high_water = std::move(cb); }
void TcpClient::on_read_closed(OnReadClosedCallback cb) { impl_->callbacks.on_read_closed = std::move(cb); }
void TcpClient::on_timeout(OnTimeoutCallback cb) { impl_->callbacks.on_timeout = std::move(cb); }
void TcpClient::on_close(OnCloseCallback cb) { impl_->callbacks.on_close = std::move(cb); }
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

void TcpClient::stop() {
    if (impl_->reactor.is_in_loop_thread()) {
        impl_->stop_in_loop();
        return;
    }
    std::promise<void> done;
    std::future<void> finished = done.get_future();
    auto task = [impl = impl_, p = std::move(done)]() mutable {
        impl->stop_in_loop();
        p.set_value();
    };
    if (impl_->reactor.post(std::move(task))) {
        // Normally the task runs. A post racing with the loop's exit can be accepted and
        // never run (Reactor::post): then a refused probe post says the loop is gone,
        // and the task (holding its own reference to the state) dies with the reactor.
        // The probe interval doubles up to 1 s: a loop that is merely slow (or, misused,
        // never started) collects about one no-op per second, not an unbounded stream.
        for (auto wait = kStopProbe; finished.wait_for(wait) == std::future_status::timeout;) {
            if (!impl_->reactor.post([] {})) break;
            wait = std::min(wait * 2, kStopProbeMax);
        }
        if (finished.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return;
    }
    impl_->stop_detached();  // the loop has exited; the last owner of impl_ frees it
}

ConnectionRef TcpClient::connection() const {
    std::lock_guard lock(impl_->ref_mutex);
    return impl_->ref;
}

std::uint64_t TcpClient::attempts() const noexcept { return impl_->attempts.load(std::memory_order_relaxed); }
const net::SocketAddr& TcpClient::remote_addr() const noexcept { return impl_->addr; }
reactor::Reactor& TcpClient::reactor() const noexcept { return impl_->reactor; }
Metrics& TcpClient::metrics() noexcept { return impl_->metrics; }

}  // namespace pollux::framework
