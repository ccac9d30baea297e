// framework/src/udp_server.cpp — UdpServer: one SO_REUSEPORT socket per reactor.
#include "pollux/framework/udp_server.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstring>
#include <utility>

#include "loop_metrics.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/reactor/event_handler.hpp"
#include "signal_wait.hpp"

namespace pollux::framework {

namespace {

constexpr std::size_t kMaxDatagramSize = 65536;
constexpr std::size_t kMaxSendArea = std::size_t{64} << 20;

Result<void> validate(const UdpServerOptions& o) {
    if (o.reactors && *o.reactors == 0) return error(std::errc::invalid_argument);
    if (o.batch == 0 || o.batch > net::UdpSocket::kMaxBatch) return error(std::errc::invalid_argument);
    if (o.datagram_size == 0 || o.datagram_size > kMaxDatagramSize) return error(std::errc::invalid_argument);
    if (o.event_budget == 0) return error(std::errc::invalid_argument);
    if (o.send_area > kMaxSendArea) return error(std::errc::invalid_argument);
    return {};
}

}  // namespace

namespace detail {

// One reactor's share of the server. Everything but the constant references is touched
// by the reactor's loop thread only (after create, which ran before start's post); the
// metrics block is written by it and read by anyone.
struct UdpWorker final : reactor::EventHandler, std::enable_shared_from_this<UdpWorker> {
    UdpWorker(reactor::Reactor& r, net::UdpSocket s, const UdpServerOptions& o, const DatagramCallback& cb,
              ReactorMetrics& m)
        : reactor(r),
          socket(std::move(s)),
          callback(cb),
          metrics(m),
          batch(o.batch),
          event_budget(o.event_budget),
          storage(std::make_unique_for_overwrite<std::byte[]>(o.batch * o.datagram_size)),
          slots(o.batch),
          send_area(std::make_unique_for_overwrite<std::byte[]>(o.send_area)),
          send_area_size(o.send_area) {
        for (std::size_t i = 0; i < batch; ++i) slots[i].buf = {storage.get() + i * o.datagram_size, o.datagram_size};
    }

    void on_event(const Event&) override {
        if (!stopped) drain();
    }

    // Receive until WouldBlock or until the budget is spent; then requeue (next round).
    void drain() {
        std::size_t budget = event_budget;
        while (budget > 0) {
            auto got = socket.recv_many(std::span(slots).first(std::min(batch, budget)));
            if (!got) {
                if (is_would_block(got)) return;
                metrics.datagram_recv_errors.add();  // consumed with the call (SO_ERROR); keep draining
                --budget;
                continue;
            }
            budget -= *got;
            for (std::size_t i = 0; i < *got; ++i) deliver(slots[i]);
            flush();  // the batch's replies: one sendmmsg
        }
        metrics.datagram_budget_yields.add();
        if (id) (void)reactor.requeue_in_loop(*id);  // next round, after the other sources
    }

    void deliver(const net::RecvSlot& slot) {
        const net::RecvMeta& m = slot.meta;
        metrics.datagrams_in.add();
        metrics.datagram_bytes_in.add(m.size);
        if (m.truncated) metrics.datagrams_truncated.add();
        UdpContext ctx(reactor, *this, m.peer, m.full_size);
        callback(ctx, std::span<const std::byte>(slot.buf.data(), m.size), m.truncated);
    }

    // A reply or send_to from the callback: queued into the send area (sent by the
    // flush at the end of the batch), or sent at once when it cannot be queued.
    Result<void> send(std::span<const std::byte> bytes, const net::SocketAddr& to) {
        if (send_area_size == 0 || bytes.size() > send_area_size) {
            flush();  // keeps the order of everything this batch sent so far
            return send_now(bytes, to);
        }
        if (pending == send_slots.size() || send_area_size - send_used < bytes.size()) flush();
        std::byte* at = send_area.get() + send_used;
        if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
        send_used += bytes.size();
        send_addrs[pending] = to;
        send_slots[pending] = {std::span<const std::byte>(at, bytes.size()), &send_addrs[pending]};
        ++pending;
        return {};
    }

    // One sendto. WouldBlock: dropped; any other failure: an error. Both returned.
    Result<void> send_now(std::span<const std::byte> bytes, const net::SocketAddr& to) {
        auto r = socket.send_to(bytes, to);
        if (r) {
            metrics.datagrams_out.add();
            metrics.datagram_bytes_out.add(*r);
            return {};
        }
        if (is_would_block(r.error())) {
            metrics.datagram_send_dropped.add();
        } else {
            metrics.datagram_send_errors.add();
        }
        return std::unexpected(r.error());
    }

    // Sends the queued replies in order with sendmmsg. A datagram that fails is counted
    // in send_errors and skipped; WouldBlock (send buffer full) drops the rest, counted
    // in send_dropped. Nothing is retried and the area is empty afterwards.
    void flush() {
        std::size_t i = 0;
        while (i < pending) {
            auto sent = socket.send_many(std::span<const net::SendSlot>(send_slots).subspan(i, pending - i));
            if (sent && *sent > 0) {
                metrics.datagrams_out.add(*sent);
                for (std::size_t k = i; k < i + *sent; ++k) metrics.datagram_bytes_out.add(send_slots[k].buf.size());
                i += *sent;
            } else if (sent || is_would_block(sent.error())) {
                metrics.datagram_send_dropped.add(pending - i);
                break;
            } else {
                metrics.datagram_send_errors.add();  // slot i failed (EMSGSIZE, EAFNOSUPPORT, ...)
                ++i;
            }
        }
        pending = 0;
        send_used = 0;
    }

    Result<void> start_in_loop() {
        assert(reactor.is_in_loop_thread());
        auto r = reactor.register_in_loop(socket, Interest::READABLE, *this);
        if (!r) return std::unexpected(r.error());
        id = *r;
        return {};
    }

    void stop_in_loop() {
        assert(reactor.is_in_loop_thread());
        flush();  // nothing is pending between batches; kept for safety
        stopped = true;
        if (id) (void)reactor.deregister_in_loop(socket, *id);
        id.reset();
        socket = net::UdpSocket{};  // closes: the port is free
    }

    // For a worker no loop will ever run again (or never registered).
    void close_unregistered() {
        stopped = true;
        socket = net::UdpSocket{};
    }

    reactor::Reactor& reactor;
    net::UdpSocket socket;
    const DatagramCallback& callback;  // the server's; set before start, then read-only
    ReactorMetrics& metrics;           // the server's block for this reactor; this thread writes it
    const std::size_t batch;
    const std::size_t event_budget;
    std::unique_ptr<std::byte[]> storage;  // batch x datagram_size, reused forever
    std::vector<net::RecvSlot> slots;
    // The send area: replies of the current batch, copied (bytes and destination).
    std::unique_ptr<std::byte[]> send_area;  // send_area_size bytes, reused forever
    const std::size_t send_area_size;
    std::size_t send_used = 0;  // bytes of send_area taken by the pending replies
    std::size_t pending = 0;    // replies queued in send_slots[0..pending)
    std::array<net::SendSlot, net::UdpSocket::kMaxBatch> send_slots{};
    std::array<net::SocketAddr, net::UdpSocket::kMaxBatch> send_addrs{};
    std::optional<reactor::RegistrationId> id;
    bool stopped = false;
};

}  // namespace detail

Result<void> UdpContext::send_to(std::span<const std::byte> bytes, const net::SocketAddr& to) const {
    return worker_.send(bytes, to);
}

UdpServer::UdpServer(std::unique_ptr<reactor::ReactorPool> own_pool, reactor::ReactorPool& pool,
                     UdpServerOptions options) noexcept
    : own_pool_(std::move(own_pool)),
      pool_(&pool),
      options_(std::move(options)),
      metrics_(pool.size()),
      loop_metrics_(std::make_unique<LoopMetrics>(pool, metrics_)) {}

Result<std::unique_ptr<UdpServer>> UdpServer::bind(const net::SocketAddr& addr, UdpServerOptions options) {
    if (auto v = validate(options); !v) return std::unexpected(v.error());
    auto pool = reactor::ReactorPool::create({.threads = options.reactors});
    if (!pool) return std::unexpected(pool.error());
    reactor::ReactorPool& p = **pool;
    return bind_all(std::unique_ptr<UdpServer>(new UdpServer(std::move(*pool), p, std::move(options))), addr);
}

Result<std::unique_ptr<UdpServer>> UdpServer::bind(reactor::ReactorPool& pool, const net::SocketAddr& addr,
                                                   UdpServerOptions options) {
    if (auto v = validate(options); !v) return std::unexpected(v.error());
    return bind_all(std::unique_ptr<UdpServer>(new UdpServer(nullptr, pool, std::move(options))), addr);
}

// Socket 0 binds `addr` (port 0 picks a port); the others bind the address it got.
Result<std::unique_ptr<UdpServer>> UdpServer::bind_all(std::unique_ptr<UdpServer> server,
                                                       const net::SocketAddr& addr) {
    const UdpServerOptions& o = server->options_;
    const net::UdpOptions sock_options{.only_v6 = o.only_v6, .reuse_addr = false, .reuse_port = true};
    server->workers_.reserve(server->pool_->size());
    for (std::size_t i = 0; i < server->pool_->size(); ++i) {
        auto sock = net::UdpSocket::bind(i == 0 ? addr : server->local_addr_, sock_options);
        if (!sock) return std::unexpected(sock.error());
        if (o.socket_recv_buffer != 0) {
            if (auto r = sock->set_recv_buffer_size(o.socket_recv_buffer); !r) return std::unexpected(r.error());
        }
        if (i == 0) {
            auto local = sock->local_addr();
            if (!local) return std::unexpected(local.error());
            server->local_addr_ = *local;
        }
        server->workers_.push_back(
            std::make_shared<detail::UdpWorker>(server->pool_->reactor(i), std::move(*sock), o,
                                                server->callback_, server->metrics_.reactor(i)));
    }
    return server;
}

UdpServer::~UdpServer() { (void)stop(); }

Metrics& UdpServer::metrics() noexcept {
    loop_metrics_->sample_posted_depth();
    return metrics_;
}

const Metrics& UdpServer::metrics() const noexcept {
    loop_metrics_->sample_posted_depth();  // a sampled gauge, like a cache
    return metrics_;
}

Result<void> UdpServer::run_until_signal() {
    return detail::run_until_signal([this] { return start(); }, [this] { return stop(); });
}

Result<void> UdpServer::on_datagram(DatagramCallback callback) {
    std::lock_guard lock(lifecycle_mutex_);
    if (state_ != State::created) return error(std::errc::operation_not_permitted);
    callback_ = std::move(callback);
    return {};
}

Result<void> UdpServer::start() {
    // start/stop wait on every loop; from one of them that can deadlock.
    if (pool_->current() != nullptr) return error(std::errc::resource_deadlock_would_occur);
    std::unique_lock lock(lifecycle_mutex_);
    if (state_ != State::created) return error(std::errc::operation_not_permitted);
    if (!callback_) return error(std::errc::invalid_argument);
    if (own_pool_) {
        if (auto r = own_pool_->start(); !r) {
            lock.unlock();
            (void)stop();
            return r;
        }
    }
    state_ = State::running;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Result<void> registered;
        auto ran = pool_->run_and_wait(i, [&registered, w = workers_[i].get(), m = loop_metrics_.get(), i] {
            registered = w->start_in_loop();
            if (registered) m->start_in_loop(i);
        });
        if (!ran) registered = std::unexpected(ran.error());
        if (!registered) {
            lock.unlock();
            (void)stop();
            return registered;
        }
    }
    return {};
}

Result<void> UdpServer::stop() {
    if (pool_->current() != nullptr) return error(std::errc::resource_deadlock_would_occur);
    std::lock_guard lock(lifecycle_mutex_);
    if (state_ == State::stopped) return {};
    const bool was_running = state_ == State::running;
    state_ = State::stopped;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        detail::UdpWorker* w = workers_[i].get();
        // Unregistered (never started), or the loop is gone: nothing can call back.
        if (!was_running || !pool_->run_and_wait(i, [w, m = loop_metrics_.get(), i] {
                const bool registered = w->id.has_value();
                w->stop_in_loop();
                if (registered) m->stop_in_loop(i);
            })) {
            w->close_unregistered();
        }
    }
    if (own_pool_) return own_pool_->stop();
    return {};
}

}  // namespace pollux::framework
