// framework/src/stream_server.cpp — internal: StreamServer<Listener> for TCP and Unix.
//
//     acceptor (reactor::BasicAcceptor<Listener>)        reactor i
//     -------------------------------------------        ---------
//     accept, balance, hand over ------------------->  accept_in_loop: max_connections,
//                                                       ConnectionHost[i].open_in_loop
//     host[i] on_closed (after on_close): open_ - 1, pool.connection_closed(i)
//     stop: acceptor, pool.stop(grace) -> hook close_all_in_loop on each reactor,
//           drain wait; then abort_all_in_loop on the stopping thread
#include "pollux/framework/stream_server.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connection_host.hpp"
#include "pollux/core/log.hpp"
#include "loop_metrics.hpp"
#include "signal_wait.hpp"

namespace pollux::framework {

template <class Listener>
struct StreamServer<Listener>::Impl {
    Impl(reactor::ReactorPool& pool, Metrics& metrics) : loop_metrics(pool, metrics) {}
    std::vector<std::unique_ptr<ConnectionHost>> hosts;
    LoopMetrics loop_metrics;
    std::uint64_t emfile_seen = 0;  // acceptor reactor's thread: EMFILE events booked
    // Per reactor, written on its thread during stop (the stop hook, then each close),
    // read by the stopping thread after the loops joined: when the grace (and not
    // linger_timeout) bounds the graceful closes, the connections still closing at its
    // end are the ones the grace cut.
    struct GraceWatch {
        std::optional<reactor::ReactorPool::Clock::time_point> end;
        std::size_t closed_at_end = 0;
    };
    std::vector<GraceWatch> grace;
};

template <class Listener>
Result<std::unique_ptr<StreamServer<Listener>>> StreamServer<Listener>::bind(const Addr& addr, Options options) {
    reactor::ReactorPoolOptions pool_options;
    pool_options.threads = options.reactors;
    pool_options.pin_threads = options.pin_threads;
    auto pool = reactor::ReactorPool::create(std::move(pool_options));
    if (!pool) return std::unexpected(pool.error());
    std::unique_ptr<StreamServer> server(new StreamServer(std::move(options), std::move(*pool)));
    StreamServer* s = server.get();

    reactor::ReactorPool& p = *server->pool_;
    for (std::size_t i = 0; i < p.size(); ++i) {
        auto host = std::make_unique<ConnectionHost>(p.reactor(i), s->options_.connection, s->metrics_.reactor(i));
        host->set_handlers(s->handlers());
        host->set_on_closed([s, i] {
            s->open_.fetch_sub(1, std::memory_order_relaxed);
            s->pool_->connection_closed(i);
            auto& watch = s->impl_->grace[i];
            if (watch.end && reactor::ReactorPool::Clock::now() >= *watch.end) [[unlikely]] ++watch.closed_at_end;
        });
        s->impl_->hosts.push_back(std::move(host));
    }
    s->impl_->grace.resize(p.size());

    p.on_stop([s](reactor::Reactor& r, reactor::ReactorPool::Clock::time_point deadline) {
        const auto now = reactor::ReactorPool::Clock::now();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        const auto linger = std::min(left, s->options_.connection.linger_timeout);
        // The linger timers fire at now + linger (never early, up to a tick before the
        // deadline itself): a close from then on was cut by the grace.
        if (left <= s->options_.connection.linger_timeout)
            s->impl_->grace[r.index()].end = now + linger - std::chrono::milliseconds(1);
        s->impl_->hosts[r.index()]->close_all_in_loop(CloseReason::server_stop, linger);
    });

    typename Acceptor::Options acceptor_options;
    acceptor_options.mode = s->options_.accept_mode;
    acceptor_options.balancer = s->options_.balancer;
    acceptor_options.listen = s->options_.listen;
    acceptor_options.resource_pause = s->options_.resource_pause;
    acceptor_options.accept_budget = s->options_.accept_budget;
    auto acceptor = Acceptor::start(
        p, addr, [s](reactor::Reactor& r, Stream stream, Addr) { s->accept_in_loop(r, std::move(stream)); },
        std::move(acceptor_options));
    if (!acceptor) return std::unexpected(acceptor.error());
    s->acceptor_ = std::move(*acceptor);
    return server;
}

template <class Listener>
StreamServer<Listener>::StreamServer(Options options, std::unique_ptr<reactor::ReactorPool> pool)
    : options_(std::move(options)),
      pool_(std::move(pool)),
      metrics_(pool_->size()),
      impl_(std::make_unique<Impl>(*pool_, metrics_)) {}

template <class Listener>
StreamServer<Listener>::~StreamServer() {
    [[maybe_unused]] auto r = stop();
    assert((r || r.error() != std::errc::resource_deadlock_would_occur) && "~StreamServer on one of its reactors");
}

template <class Listener>
void StreamServer<Listener>::accept_in_loop(reactor::Reactor& r, Stream stream) {
    const std::size_t i = r.index();
    ReactorMetrics& m = metrics_.reactor(i);
    const std::size_t max = options_.max_connections;
    if (max != 0 && open_.fetch_add(1, std::memory_order_relaxed) >= max) {
        open_.fetch_sub(1, std::memory_order_relaxed);
        m.connections_rejected.add();
        pool_->connection_closed(i);
        return;  // the stream closes here
    }
    if (max == 0) open_.fetch_add(1, std::memory_order_relaxed);
    m.connections_accepted.add();
    if (impl_->hosts[i]->open_in_loop(Connection::Stream(std::move(stream))) == nullptr) {
        open_.fetch_sub(1, std::memory_order_relaxed);
        pool_->connection_closed(i);
    }
}

// After each LoopMetrics refresh on reactor i (once a second): the pool's cache decays,
// and the acceptor's EMFILE total is booked on the acceptor's reactor (0).
template <class Listener>
void StreamServer<Listener>::refresh_in_loop(std::size_t i) {
    impl_->hosts[i]->maintain_in_loop();
    if (i != 0 || acceptor_ == nullptr) return;
    const std::uint64_t emfile = acceptor_->emfile_events();
    metrics_.reactor(0).emfile_events.add(emfile - impl_->emfile_seen);
    impl_->emfile_seen = emfile;
}

template <class Listener>
Metrics& StreamServer<Listener>::metrics() noexcept {
    impl_->loop_metrics.sample_posted_depth();
    return metrics_;
}

template <class Listener>
const Metrics& StreamServer<Listener>::metrics() const noexcept {
    impl_->loop_metrics.sample_posted_depth();  // a sampled gauge, like a cache
    return metrics_;
}

template <class Listener>
Result<void> StreamServer<Listener>::start() {
    std::lock_guard lock(stop_mutex_);
    if (started_ || stopped_) return error(std::errc::operation_not_permitted);
    // Before start: this thread is every reactor's loop thread.
    impl_->loop_metrics.start_timers([this](std::size_t i) { refresh_in_loop(i); });
    if (auto r = pool_->start(); !r) return r;
    started_ = true;
    return {};
}

template <class Listener>
Result<void> StreamServer<Listener>::stop(std::chrono::milliseconds grace) {
    // From a callback the pool would have to join the thread we are on: refuse, before
    // anything changes.
    if (pool_->current() != nullptr) return error(std::errc::resource_deadlock_would_occur);
    std::lock_guard lock(stop_mutex_);
    if (stopped_) return stop_result_;
    stopped_ = true;
    if (acceptor_ != nullptr) acceptor_->stop();
    stop_result_ = pool_->stop(grace);  // the stop hook: graceful close, bounded by grace
    // The loops have exited and this thread now counts as their loop thread: close what
    // is left (output dropped with a reset, on_close(server_stop) runs here) and free it.
    // Cut by the grace: closed by their linger timers at its end, or still open now.
    std::size_t cut = 0;
    for (auto& host : impl_->hosts) cut += host->size_in_loop();
    for (const auto& watch : impl_->grace) cut += watch.closed_at_end;
    if (cut != 0) {
        log_lazy(LogLevel::warn, [&] {
            return "stop: the grace of " + std::to_string(grace.count()) + " ms ran out with " + std::to_string(cut) +
                   (cut == 1 ? " connection" : " connections") + " still closing on " +
                   (acceptor_ != nullptr ? acceptor_->local_addr().to_string() : std::string("the server")) +
                   "; they were closed, output still queued dropped with a reset";
        });
    }
    for (auto& host : impl_->hosts) host->abort_all_in_loop(CloseReason::server_stop);
    return stop_result_;
}

template <class Listener>
Result<void> StreamServer<Listener>::run_until_signal() {
    return detail::run_until_signal([this] { return start(); }, [this] { return stop(); });
}

template class StreamServer<net::TcpListener>;
template class StreamServer<net::UnixListener>;

}  // namespace pollux::framework
