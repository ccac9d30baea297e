// reactor/src/acceptor.cpp
// moodycamel uses std::atomic_thread_fence, which GCC's TSan does not model and warns
// about (-Wtsan, an error under -Werror). The pragma must precede the first include of
// <atomic>, because the diagnostic is located in libstdc++'s atomic_base.h.
#if defined(__GNUC__) && !defined(__clang__) && defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "pollux/reactor/acceptor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include <concurrentqueue/concurrentqueue.h>

#include "pollux/core/log.hpp"
#include "pollux/core/owned_fd.hpp"

namespace pollux::reactor {

namespace {

// At most this many connections are accepted-and-closed per EMFILE episode, so a flood
// faster than we can shed still ends in a pause.
constexpr std::size_t kMaxShed = 4096;


enum class AcceptFailure {
    retry,           // EINTR
    skip,            // this connection failed; the next may be fine
    out_of_fds,      // EMFILE, ENFILE
    out_of_memory,   // ENOBUFS, ENOMEM
    unexpected,      // anything else: pause rather than risk a spin
};

AcceptFailure classify(const std::error_code& ec) noexcept {
    if (ec.category() != std::system_category() && ec.category() != std::generic_category())
        return AcceptFailure::unexpected;
    switch (ec.value()) {
        case EINTR:
            return AcceptFailure::retry;
        // accept(2): Linux passes already-pending network errors on the new socket
        // through accept; they concern that connection only.
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EHOSTUNREACH:
        case ENONET:
        case ENOPROTOOPT:
        case EOPNOTSUPP:
        case ETIMEDOUT:
            return AcceptFailure::skip;
        case EMFILE:
        case ENFILE:
            return AcceptFailure::out_of_fds;
        case ENOBUFS:
        case ENOMEM:
            return AcceptFailure::out_of_memory;
        default:
            return AcceptFailure::unexpected;
    }
}

OwnedFd open_reserve() noexcept { return OwnedFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    counter.fetch_add(n, std::memory_order_relaxed);
}

// Per listener type: bind, prepare an accepted stream, accept without the peer, clean up.
template <class Listener>
struct Ops;

template <>
struct Ops<net::TcpListener> {
    static Result<net::TcpListener> bind(const net::SocketAddr& addr, const TcpListenOptions& o, bool reuseport) {
        return reuseport ? net::TcpListener::bind_reuseport(addr, o.backlog) : net::TcpListener::bind(addr, o.backlog);
    }
    static void prepare(net::TcpStream& s, const TcpListenOptions& o) noexcept {
        if (o.nodelay) (void)s.set_nodelay(true);
    }
    static Result<net::TcpStream> accept_only(const net::TcpListener& l) { return l.accept_stream(); }
    static void before_close(const net::TcpListener&, const net::SocketAddr&, const TcpListenOptions&) noexcept {}
};

template <>
struct Ops<net::UnixListener> {
    static Result<net::UnixListener> bind(const net::UnixSocketAddr& addr, const UnixListenOptions& o, bool) {
        return net::UnixListener::bind(addr, o.bind);
    }
    static void prepare(net::UnixStream&, const UnixListenOptions&) noexcept {}
    static Result<net::UnixStream> accept_only(const net::UnixListener& l) {
        auto r = l.accept();
        if (!r) return std::unexpected(r.error());
        return std::move(r->first);
    }
    // Unlink while the socket is still ours: nobody else can have bound the path.
    static void before_close(const net::UnixListener& l, const net::UnixSocketAddr& addr,
                             const UnixListenOptions& o) noexcept {
        if (!o.unlink_on_stop || l.fd() < 0) return;
        if (auto path = addr.as_pathname(); path && !path->empty()) {
            std::string p(*path);
            (void)::unlink(p.c_str());
        }
    }
};

}  // namespace

// ---- Shared state: what drain tasks on other reactors may still touch -----------------

template <class Listener>
struct BasicAcceptor<Listener>::Shared {
    struct Accepted {
        Stream stream;
        Addr peer;
    };

    // One per target reactor. Producer: the acceptor's loop thread, as moodycamel's
    // implicit producer (no token): its blocks are recycled through the queue's atomic
    // free list. An explicit ProducerToken would save a thread-keyed lookup per enqueue,
    // but it orders block reuse with fences that TSan cannot check. Consumer: `reactor`.
    struct Handoff {
        Reactor* reactor = nullptr;
        moodycamel::ConcurrentQueue<Accepted> queue;
        moodycamel::ConsumerToken consumer{queue};  // `reactor`'s loop thread only
        alignas(64) std::atomic<bool> pending{false};  // a drain task is posted, not yet begun
    };

    Shared(OnConnection cb, ReactorPool& pool)
        : on_connection(std::move(cb)), counts(&pool.counts()), handoff(std::make_unique<Handoff[]>(pool.size())) {
        for (std::size_t i = 0; i < pool.size(); ++i) handoff[i].reactor = &pool.reactor(i);
    }

    // On handoff[i].reactor's loop thread: delivers everything queued for it.
    void drain(std::size_t i) {
        Handoff& h = handoff[i];
        h.pending.exchange(false, std::memory_order_acq_rel);  // clear *before* dequeuing
        Accepted item;
        while (h.queue.try_dequeue(h.consumer, item)) {
            if (closed.load(std::memory_order_acquire)) {
                drop(i, std::move(item));
                continue;
            }
            on_connection(*h.reactor, std::move(item.stream), item.peer);
        }
    }

    // The target loop has exited (its post failed): nobody else consumes queue i, so
    // the acceptor thread closes what is queued.
    void drop_all(std::size_t i) {
        Handoff& h = handoff[i];
        Accepted item;
        while (h.queue.try_dequeue(h.consumer, item)) drop(i, std::move(item));
        h.pending.store(false, std::memory_order_release);
    }

    void drop(std::size_t i, Accepted&& item) noexcept {
        item.stream = Stream();  // closes it
        counts->remove(i);
        bump(dropped);
    }

    const OnConnection on_connection;
    ConnectionCounts* const counts;       // the pool's; the pool outlives every drain
    std::unique_ptr<Handoff[]> handoff;   // one per reactor (the acceptor's own unused)
    std::atomic<bool> closed{false};      // set by stop(): deliver nothing more

    // Stats (relaxed; reuseport listeners bump them from several threads).
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> connection_errors{0};
    std::atomic<std::uint64_t> emfile_events{0};
    std::atomic<std::uint64_t> pauses{0};
    std::atomic<std::uint64_t> shed{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> budget_yields{0};
};

// ---- One listening socket, registered on one reactor ---------------------------------

template <class Listener>
struct BasicAcceptor<Listener>::Listening final : EventHandler {
    Listening(BasicAcceptor& a, std::size_t i, Listener s, OwnedFd spare)
        : owner(a), index(i), reactor(a.pool_.reactor(i)), socket(std::move(s)), reserve(std::move(spare)) {}

    void on_event(const Event&) override { owner.accept_ready(*this); }

    BasicAcceptor& owner;
    const std::size_t index;  // of `reactor` in the pool
    Reactor& reactor;
    // Loop thread of `reactor` (or the starting/stopping thread while no loop runs it).
    Listener socket;
    OwnedFd reserve;          // the spare fd for the EMFILE trick
    RegistrationId id;
    bool registered = false;
    bool paused = false;
    TimerId pause_timer;
    LogRateLimit pause_log;   // one warning per second at most
};

// ---- Start and stop --------------------------------------------------------------------

template <class Listener>
Result<std::unique_ptr<BasicAcceptor<Listener>>> BasicAcceptor<Listener>::start(ReactorPool& pool, const Addr& addr,
                                                                               OnConnection on_connection,
                                                                               Options options) {
    if (!on_connection) return error(std::errc::invalid_argument);
    if (options.mode == AcceptMode::reuseport && !Traits::kReusePort) return error(std::errc::invalid_argument);
    options.accept_budget = std::max<std::size_t>(options.accept_budget, 1);
    if (options.mode == AcceptMode::single) {
        if (options.acceptor_reactor >= pool.size()) return error(std::errc::invalid_argument);
        if (!options.balancer) options.balancer = std::make_shared<RoundRobin>();
    }
    auto shared = std::make_shared<Shared>(std::move(on_connection), pool);
    std::unique_ptr<BasicAcceptor> acceptor(new BasicAcceptor(pool, std::move(options), std::move(shared)));
    if (auto r = acceptor->open_listeners(addr); !r) return std::unexpected(r.error());

    // Lock order, as in ReactorPool::stop: the pool's acceptor list, then this mutex.
    if (auto r = pool.attach(static_cast<StoppableAcceptor&>(*acceptor)); !r) return std::unexpected(r.error());
    std::lock_guard lock(acceptor->mutex_);  // a concurrent pool stop waits for the registration
    if (acceptor->stopped_) return error(std::errc::operation_canceled);  // it came first
    if (auto r = acceptor->register_listeners(); !r) return std::unexpected(r.error());
    return acceptor;
}

template <class Listener>
BasicAcceptor<Listener>::BasicAcceptor(ReactorPool& pool, Options options, std::shared_ptr<Shared> shared)
    : pool_(pool), options_(std::move(options)), shared_(std::move(shared)) {}

template <class Listener>
BasicAcceptor<Listener>::~BasicAcceptor() {
    pool_.detach(static_cast<StoppableAcceptor&>(*this));
    stop();
}

template <class Listener>
Result<void> BasicAcceptor<Listener>::open_listeners(const Addr& addr) {
    const bool reuseport = options_.mode == AcceptMode::reuseport;
    const std::size_t count = reuseport ? pool_.size() : 1;
    Addr bind_addr = addr;
    for (std::size_t k = 0; k < count; ++k) {
        auto socket = Ops<Listener>::bind(bind_addr, options_.listen, reuseport);
        if (!socket) return std::unexpected(socket.error());
        if (k == 0) {
            auto local = socket->local_addr();
            if (!local) return std::unexpected(local.error());
            local_addr_ = *local;
            bind_addr = *local;  // port 0: every reuseport listener shares the chosen port
        }
        OwnedFd spare = open_reserve();
        if (!spare) return last_error();
        const std::size_t index = reuseport ? k : options_.acceptor_reactor;
        listeners_.push_back(std::make_unique<Listening>(*this, index, std::move(*socket), std::move(spare)));
    }
    return {};
}

template <class Listener>
Result<void> BasicAcceptor<Listener>::register_listeners() {
    for (auto& owned : listeners_) {
        Listening& l = *owned;
        Result<void> registered;
        auto ran = pool_.run_and_wait(l.index, [&l, &registered] {
            auto id = l.reactor.register_in_loop(l.socket, Interest::READABLE, l);
            if (!id) {
                registered = std::unexpected(id.error());
                return;
            }
            l.id = *id;
            l.registered = true;
            // A backlog that filled before registration is reported by the kernel at
            // once (EPOLL_CTL_ADD checks readiness), so nothing needs accepting here.
        });
        if (!ran) return ran;
        if (!registered) return registered;
    }
    return {};
}

template <class Listener>
void BasicAcceptor<Listener>::stop() {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    shared_->closed.store(true, std::memory_order_release);
    for (auto& owned : listeners_) {
        Listening* l = owned.get();
        auto ran = pool_.run_and_wait(l->index, [this, l] { close_listener(*l); });
        if (!ran) {
            // No loop runs this reactor (never started, or exited): nothing else touches
            // the listener. Closing the fd removes it from the epoll set; the timer
            // wheel and the table die with the reactor unused.
            l->registered = false;
            l->pause_timer = {};
            l->paused = true;
            Ops<Listener>::before_close(l->socket, local_addr_, options_.listen);
            l->socket = Listener();
            l->reserve.reset();
        }
    }
}

// Loop thread of `l`.
template <class Listener>
void BasicAcceptor<Listener>::close_listener(Listening& l) noexcept {
    if (l.registered) {
        (void)l.reactor.deregister_in_loop(l.socket, l.id);
        l.registered = false;
    }
    if (l.pause_timer.valid()) {
        l.reactor.cancel_timer_in_loop(l.pause_timer);
        l.pause_timer = {};
    }
    l.paused = true;
    Ops<Listener>::before_close(l.socket, local_addr_, options_.listen);
    l.socket = Listener();
    l.reserve.reset();
}

template <class Listener>
AcceptorStats BasicAcceptor<Listener>::stats() const noexcept {
    constexpr auto r = std::memory_order_relaxed;
    const Shared& s = *shared_;
    return AcceptorStats{
        .accepted = s.accepted.load(r),
        .connection_errors = s.connection_errors.load(r),
        .emfile_events = s.emfile_events.load(r),
        .pauses = s.pauses.load(r),
        .shed = s.shed.load(r),
        .dropped = s.dropped.load(r),
        .budget_yields = s.budget_yields.load(r),
    };
}

template <class Listener>
std::uint64_t BasicAcceptor<Listener>::emfile_events() const noexcept {
    return shared_->emfile_events.load(std::memory_order_relaxed);
}

// ---- The accept path (loop thread of the listener) -------------------------------------

template <class Listener>
void BasicAcceptor<Listener>::accept_ready(Listening& l) {
    if (l.paused || !l.registered) return;  // a pause timer will retry
    std::size_t budget = options_.accept_budget;
    for (;;) {
        if (budget == 0) {
            // Yield: the rest of the backlog is taken in the next round, after the other
            // ready sources of this reactor (edge-triggered: nothing else would tell).
            bump(shared_->budget_yields);
            (void)l.reactor.requeue_in_loop(l.id);  // merged if one is already pending
            return;
        }
        auto accepted = l.socket.accept();
        if (accepted) {
            --budget;
            deliver(l, std::move(accepted->first), accepted->second);
            continue;
        }
        const std::error_code ec = accepted.error();
        if (is_would_block(ec)) return;  // drained: wait for the next edge
        switch (classify(ec)) {
            case AcceptFailure::retry:
                continue;
            case AcceptFailure::skip:
                bump(shared_->connection_errors);
                continue;
            case AcceptFailure::out_of_fds:
                bump(shared_->emfile_events);
                pause(l, ec, shed(l));
                return;
            case AcceptFailure::out_of_memory:
            case AcceptFailure::unexpected:
                pause(l, ec, 0);
                return;
        }
    }
}

template <class Listener>
void BasicAcceptor<Listener>::deliver(Listening& l, Stream stream, const Addr& peer) {
    Ops<Listener>::prepare(stream, options_.listen);
    const std::size_t target =
        options_.mode == AcceptMode::reuseport ? l.index : options_.balancer->pick(pool_.counts());
    pool_.counts().add(target);
    bump(shared_->accepted);
    if (target == l.index) {
        shared_->on_connection(l.reactor, std::move(stream), peer);
        return;
    }
    typename Shared::Handoff& h = shared_->handoff[target];
    if (!h.queue.enqueue(typename Shared::Accepted{std::move(stream), peer})) {
        // Out of memory for a new block: the stream (moved into the failed element or
        // still ours) is closed here.
        pool_.counts().remove(target);
        bump(shared_->dropped);
        return;
    }
    if (h.pending.exchange(true, std::memory_order_acq_rel)) return;  // a drain is on its way
    if (!h.reactor->post([s = shared_, target] { s->drain(target); })) shared_->drop_all(target);
}

// EMFILE/ENFILE: free the spare fd, accept-and-close the backlog, take the spare back.
template <class Listener>
std::size_t BasicAcceptor<Listener>::shed(Listening& l) {
    l.reserve.reset();
    std::size_t closed = 0;
    while (closed < kMaxShed) {
        auto s = Ops<Listener>::accept_only(l.socket);  // closed at the end of this iteration
        if (s) {
            ++closed;
            continue;
        }
        if (classify(s.error()) == AcceptFailure::retry || classify(s.error()) == AcceptFailure::skip) continue;
        break;  // WouldBlock (drained), or still no fd (another thread took it)
    }
    if (closed != 0) bump(shared_->shed, closed);
    l.reserve = open_reserve();  // may fail; retried when the pause ends
    return closed;
}

template <class Listener>
void BasicAcceptor<Listener>::pause(Listening& l, const std::error_code& why, std::size_t shed_count) {
    bump(shared_->pauses);
    l.paused = true;
    if (log_enabled(LogLevel::warn)) {
        if (auto unreported = l.pause_log.admit(LogRateLimit::Clock::now())) {
            std::string line = "accepting on " + local_addr_.to_string() + " paused for " +
                               std::to_string(options_.resource_pause.count()) + " ms: " + why.message();
            if (shed_count != 0)
                line += " (shed " + std::to_string(shed_count) + (shed_count == 1 ? " pending connection)" : " pending connections)");
            if (*unreported != 0)
                line += "; " + std::to_string(*unreported) + (*unreported == 1 ? " more pause" : " more pauses") +
                        " since the last report";
            log(LogLevel::warn, line);
        }
    }
    l.pause_timer = l.reactor.run_after_in_loop(options_.resource_pause, [this, &l] {
        l.pause_timer = {};
        l.paused = false;
        if (!l.reserve) l.reserve = open_reserve();
        // Edge-triggered: connections queued during the pause raised no new event
        // we acted on, so look for them now.
        accept_ready(l);
    });
}

template class BasicAcceptor<net::TcpListener>;
template class BasicAcceptor<net::UnixListener>;

}  // namespace pollux::reactor
