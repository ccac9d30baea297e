// framework/src/tcp_server.cpp — internal.
#include "pollux/framework/tcp_server.hpp"

#include <pthread.h>
#include <signal.h>

#include <cassert>
#include <utility>

#include "connection_host.hpp"
#include "loop_metrics.hpp"

namespace pollux::framework {

struct TcpServer::Impl {
    Impl(reactor::ReactorPool& pool, Metrics& metrics) : loop_metrics(pool, metrics) {}
    std::vector<std::unique_ptr<ConnectionHost>> hosts;
    LoopMetrics loop_metrics;
    std::uint64_t emfile_seen = 0;  // reactor 0's thread: acceptor EMFILE events booked
};

Result<std::unique_ptr<TcpServer>> TcpServer::bind(const net::SocketAddr& addr, TcpServerOptions options) {
    reactor::ReactorPoolOptions pool_options;
    pool_options.threads = options.reactors;
    auto pool = reactor::ReactorPool::create(std::move(pool_options));
    if (!pool) return std::unexpected(pool.error());
    std::unique_ptr<TcpServer> server(new TcpServer(std::move(options), std::move(*pool)));

    reactor::ReactorPool& p = *server->pool_;
    for (std::size_t i = 0; i < p.size(); ++i) {
        auto host = std::make_unique<ConnectionHost>(p.reactor(i), server->options_.connection, server->metrics_.reactor(i));
        host->set_handlers(&server->factory_, &server->shared_handler_);
        TcpServer* s = server.get();
        host->set_on_closed([s, i] {
            s->open_.fetch_sub(1, std::memory_order_relaxed);
            s->pool_->connection_closed(i);
        });
        server->impl_->hosts.push_back(std::move(host));
    }

    TcpServer* s = server.get();
    p.on_stop([s](reactor::Reactor& r, reactor::ReactorPool::Clock::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - reactor::ReactorPool::Clock::now());
        const auto linger = std::min(left, s->options_.connection.linger_timeout);
        s->impl_->hosts[r.index()]->close_all_in_loop(CloseReason::server_stop, linger);
    });

    reactor::AcceptorOptions acceptor_options;
    acceptor_options.mode = server->options_.accept_mode;
    acceptor_options.balancer = server->options_.balancer;
    acceptor_options.backlog = server->options_.backlog;
    acceptor_options.nodelay = server->options_.nodelay;
    auto acceptor = reactor::Acceptor::start(
        p, addr, [s](reactor::Reactor& r, net::TcpStream stream, net::SocketAddr) {
            s->accept_in_loop(r, std::move(stream));
        },
        std::move(acceptor_options));
    if (!acceptor) return std::unexpected(acceptor.error());
    server->acceptor_ = std::move(*acceptor);
    return server;
}

TcpServer::TcpServer(TcpServerOptions options, std::unique_ptr<reactor::ReactorPool> pool)
    : options_(std::move(options)),
      pool_(std::move(pool)),
      metrics_(pool_->size()),
      impl_(std::make_unique<Impl>(*pool_, metrics_)) {}

TcpServer::~TcpServer() { stop(); }

void TcpServer::accept_in_loop(reactor::Reactor& r, net::TcpStream stream) {
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

// After each LoopMetrics refresh on reactor i.
void TcpServer::book_emfile_in_loop(std::size_t i) {
    if (i != 0 || acceptor_ == nullptr) return;  // the acceptor's total, booked on reactor 0
    const std::uint64_t emfile = acceptor_->emfile_events();
    metrics_.reactor(0).emfile_events.add(emfile - impl_->emfile_seen);
    impl_->emfile_seen = emfile;
}

Metrics& TcpServer::metrics() noexcept {
    impl_->loop_metrics.sample_posted_depth();
    return metrics_;
}

const Metrics& TcpServer::metrics() const noexcept {
    impl_->loop_metrics.sample_posted_depth();  // a sampled gauge, like a cache
    return metrics_;
}

Result<void> TcpServer::start() {
    if (started_ || stopped_) return std::unexpected(std::make_error_code(std::errc::operation_not_permitted));
    // Before start: this thread is every reactor's loop thread.
    impl_->loop_metrics.start_timers([this](std::size_t i) { book_emfile_in_loop(i); });
    if (auto r = pool_->start(); !r) return r;
    started_ = true;
    return {};
}

void TcpServer::stop(std::chrono::milliseconds grace) {
    if (stopped_) return;
    stopped_ = true;
    if (acceptor_ != nullptr) acceptor_->stop();
    (void)pool_->stop(grace);  // runs the stop hook: graceful close, bounded by grace
    // The loops have exited and this thread now counts as their loop thread: close what
    // is left (on_close(server_stop) runs here) and free it.
    for (auto& host : impl_->hosts) host->abort_all_in_loop(CloseReason::server_stop);
}

Result<void> TcpServer::run_until_signal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (int e = pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
        return std::unexpected(std::error_code(e, std::system_category()));
    }
    if (auto r = start(); !r) return r;
    int sig = 0;
    (void)sigwait(&set, &sig);
    stop();
    return {};
}

}  // namespace pollux::framework
