// framework/src/unix_server.cpp — internal.
//
// The accept loop lives here (reactor::Acceptor is TCP only): one UnixListener on
// reactor 0, streams handed round-robin to the pool's reactors by post.
//
//     reactor 0                                    reactor i
//     ---------                                    ---------
//     READABLE -> accept until WouldBlock
//        each stream: i = next++ % n
//          i == 0: open here
//          else pool.post(i, {stream}) ---------->  open_in_loop: max check,
//        EMFILE: shed via the reserve fd, pause       ConnectionHost::open_in_loop
//        ENOBUFS/other: pause
//     pause timer -> accept again
#include "pollux/framework/unix_server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <string>
#include <utility>

#include "connection_host.hpp"
#include "loop_metrics.hpp"
#include "pollux/core/interest.hpp"

namespace pollux::framework {

namespace {
constexpr int kMaxShed = 4096;

OwnedFd open_reserve() noexcept { return OwnedFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

bool is_per_connection(const std::error_code& ec) noexcept {
    return ec == std::errc::interrupted || ec == std::errc::connection_aborted || ec == std::errc::protocol_error ||
           ec == std::errc::operation_not_permitted;
}
}  // namespace

struct UnixServer::Impl final : reactor::EventHandler {
    explicit Impl(UnixServer& s) : server(s), loop_metrics(*s.pool_, s.metrics_) {}

    void on_event(const Event&) override {
        if (!paused) accept_ready();
    }
    void accept_ready();
    void deliver(net::UnixStream stream);
    void open_in_loop(reactor::Reactor& r, net::UnixStream stream);
    void shed() noexcept;
    void pause();
    void close_listener_in_loop() noexcept;

    UnixServer& server;
    std::vector<std::unique_ptr<ConnectionHost>> hosts;
    LoopMetrics loop_metrics;
    // Reactor 0's loop thread (the creating thread before start).
    net::UnixListener listener;
    reactor::RegistrationId registration{};
    reactor::TimerId pause_timer{};
    OwnedFd reserve;  // the spare fd of the EMFILE trick
    std::size_t next = 0;
    bool listening = false;
    bool paused = false;
};

void UnixServer::Impl::accept_ready() {
    while (listening) {
        auto accepted = listener.accept();
        if (accepted) {
            deliver(std::move(accepted->first));
            continue;
        }
        const std::error_code ec = accepted.error();
        if (is_would_block(ec)) return;
        if (is_per_connection(ec)) continue;
        if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
            server.metrics_.reactor(0).emfile_events.add();
            shed();
        }
        pause();  // EMFILE, ENFILE, ENOBUFS, ENOMEM, anything unexpected: never spin
        return;
    }
}

void UnixServer::Impl::shed() noexcept {
    reserve.reset();
    for (int i = 0; i < kMaxShed; ++i) {
        auto accepted = listener.accept();  // closed at once when it goes out of scope
        if (!accepted && !is_per_connection(accepted.error())) break;
    }
    reserve = open_reserve();
}

void UnixServer::Impl::pause() {
    paused = true;
    reactor::Reactor& r = server.pool_->reactor(0);
    pause_timer = r.run_after_in_loop(server.options_.resource_pause, [this] {
        pause_timer = {};
        paused = false;
        accept_ready();  // edge-triggered: the backlog would not be reported again
    });
}

void UnixServer::Impl::deliver(net::UnixStream stream) {
    reactor::ReactorPool& pool = *server.pool_;
    const std::size_t i = next++ % pool.size();
    if (i == 0) {
        open_in_loop(pool.reactor(0), std::move(stream));
        return;
    }
    // One post per connection (the fd rides in the task); a failed post (stopping)
    // destroys the task and so closes the stream.
    (void)pool.post(i, [this, s = std::move(stream)]() mutable {
        open_in_loop(*server.pool_->current(), std::move(s));
    });
}

void UnixServer::Impl::open_in_loop(reactor::Reactor& r, net::UnixStream stream) {
    const std::size_t i = r.index();
    ReactorMetrics& m = server.metrics_.reactor(i);
    const std::size_t max = server.options_.max_connections;
    if (max != 0 && server.open_.fetch_add(1, std::memory_order_relaxed) >= max) {
        server.open_.fetch_sub(1, std::memory_order_relaxed);
        m.connections_rejected.add();
        return;  // the stream closes here
    }
    if (max == 0) server.open_.fetch_add(1, std::memory_order_relaxed);
    m.connections_accepted.add();
    if (hosts[i]->open_in_loop(Connection::Stream(std::move(stream))) == nullptr) {
        server.open_.fetch_sub(1, std::memory_order_relaxed);
    }
}

void UnixServer::Impl::close_listener_in_loop() noexcept {
    if (!listening) return;
    listening = false;
    reactor::Reactor& r = server.pool_->reactor(0);
    r.cancel_timer_in_loop(pause_timer);
    (void)r.deregister_in_loop(listener, registration);
    // Unlink while the socket is still ours: nobody else can have bound the path.
    if (auto path = server.local_addr_.as_pathname(); path && server.options_.unlink_on_stop) {
        (void)::unlink(std::string(*path).c_str());
    }
    listener = net::UnixListener();
    reserve.reset();
}

// ---- UnixServer ----

Result<std::unique_ptr<UnixServer>> UnixServer::bind(std::string_view path, UnixServerOptions options) {
    auto addr = net::UnixSocketAddr::from_pathname(path);
    if (!addr) return std::unexpected(addr.error());
    return bind(*addr, std::move(options));
}

Result<std::unique_ptr<UnixServer>> UnixServer::bind(const net::UnixSocketAddr& addr, UnixServerOptions options) {
    reactor::ReactorPoolOptions pool_options;
    pool_options.threads = options.reactors;
    auto pool = reactor::ReactorPool::create(std::move(pool_options));
    if (!pool) return std::unexpected(pool.error());
    std::unique_ptr<UnixServer> server(new UnixServer(std::move(options), std::move(*pool)));
    UnixServer* s = server.get();
    Impl& impl = *server->impl_;

    reactor::ReactorPool& p = *server->pool_;
    for (std::size_t i = 0; i < p.size(); ++i) {
        auto host = std::make_unique<ConnectionHost>(p.reactor(i), server->options_.connection, server->metrics_.reactor(i));
        host->set_handlers(&server->factory_, &server->shared_handler_);
        host->set_on_closed([s] { s->open_.fetch_sub(1, std::memory_order_relaxed); });
        impl.hosts.push_back(std::move(host));
    }
    p.on_stop([s](reactor::Reactor& r, reactor::ReactorPool::Clock::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - reactor::ReactorPool::Clock::now());
        const auto linger = std::min(left, s->options_.connection.linger_timeout);
        s->impl_->hosts[r.index()]->close_all_in_loop(CloseReason::server_stop, linger);
    });

    auto listener = net::UnixListener::bind(addr, server->options_.bind);
    if (!listener) return std::unexpected(listener.error());
    impl.listener = std::move(*listener);
    auto local = impl.listener.local_addr();
    server->local_addr_ = local ? *local : addr;
    impl.reserve = open_reserve();
    if (impl.reserve.get() < 0) return std::unexpected(std::error_code(errno, std::system_category()));
    // Before start the creating thread is every reactor's loop thread.
    auto id = p.reactor(0).register_in_loop(impl.listener, Interest::READABLE, impl);
    if (!id) return std::unexpected(id.error());
    impl.registration = *id;
    impl.listening = true;
    return server;
}

UnixServer::UnixServer(UnixServerOptions options, std::unique_ptr<reactor::ReactorPool> pool)
    : options_(std::move(options)),
      pool_(std::move(pool)),
      metrics_(pool_->size()),
      impl_(std::make_unique<Impl>(*this)) {}

UnixServer::~UnixServer() { stop(); }

Result<void> UnixServer::start() {
    if (started_ || stopped_) return std::unexpected(std::make_error_code(std::errc::operation_not_permitted));
    impl_->loop_metrics.start_timers();  // before start: this thread is every loop thread
    if (auto r = pool_->start(); !r) return r;
    started_ = true;
    return {};
}

Metrics& UnixServer::metrics() noexcept {
    impl_->loop_metrics.sample_posted_depth();
    return metrics_;
}

const Metrics& UnixServer::metrics() const noexcept {
    impl_->loop_metrics.sample_posted_depth();  // a sampled gauge, like a cache
    return metrics_;
}

void UnixServer::stop(std::chrono::milliseconds grace) {
    if (stopped_) return;
    stopped_ = true;
    // Stop accepting first: the path is gone when stop returns.
    (void)pool_->run_and_wait(0, [this] { impl_->close_listener_in_loop(); });
    (void)pool_->stop(grace);  // the stop hook closes every connection gracefully
    // The loops have exited; this thread is their loop thread now.
    impl_->close_listener_in_loop();  // if run_and_wait could not run it
    for (auto& host : impl_->hosts) host->abort_all_in_loop(CloseReason::server_stop);
}

}  // namespace pollux::framework
