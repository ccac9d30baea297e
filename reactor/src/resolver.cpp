// reactor/src/resolver.cpp — getaddrinfo on a worker thread, answers posted to reactors.
//
//     resolve_async --> queue --> worker: net::resolve --> Reactor::post(deliver)
//                                   (current)                  |
//                                                              v  loop thread
//                                         deliver: closed? drop : callback(result)
//
// Who owns what. State is shared by the Resolver, the detached worker and every posted
// answer. `mutex` guards the queue, the request being resolved (`current`, whose
// callback stays here so shutdown can drop it) and the flags. The worker posts with the
// mutex held, so once shutdown() has set `shut` under it, the worker never touches a
// reactor again. A posted answer may still run later: `closed` and `delivering` make
// the hand-off exact (the Dekker pair below).
#include "pollux/reactor/resolver.hpp"

#include <pthread.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "pollux/net/resolve.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::reactor {

namespace {

// The State whose callback runs on this thread, if any: a shutdown from inside one of
// its own callbacks must not wait for itself.
thread_local const void* t_delivering = nullptr;

// One pending request's share of Resolver::pending(); moves with the request.
class Ticket {
public:
    explicit Ticket(std::atomic<std::size_t>& count) noexcept : count_(&count) {
        count.fetch_add(1, std::memory_order_relaxed);
    }
    Ticket(Ticket&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
        if (count_ != nullptr) count_->fetch_sub(1, std::memory_order_relaxed);
    }

private:
    std::atomic<std::size_t>* count_;
};

}  // namespace

struct Resolver::State {
    struct Request {
        Reactor* reactor;
        std::string host;
        std::uint16_t port;
        Callback callback;
        Ticket ticket;
    };
    // An answer on its way to a reactor: shared by the posted task and the worker, so a
    // refused post destroys the callback after the worker has dropped the mutex.
    struct Answer {
        Callback callback;
        Result<std::vector<net::SocketAddr>> result;
        Ticket ticket;
    };

    std::mutex mutex;
    std::deque<Request> queue;       // guarded by mutex
    std::optional<Request> current;  // guarded: being resolved by the worker
    bool worker_running = false;     // guarded
    bool shut = false;               // guarded

    // shutdown() stores `closed` then loads `delivering`; deliver() increments
    // `delivering` then loads `closed` (all seq_cst): either the answer sees closed, or
    // shutdown sees the delivery and waits for it.
    std::atomic<bool> closed{false};
    std::atomic<std::uint32_t> delivering{0};
    std::atomic<std::size_t> pending{0};  // Tickets alive

    static void work(std::shared_ptr<State> s);
    static void deliver(State& s, Answer& answer);
};

void Resolver::State::work(std::shared_ptr<State> s) {
    (void)::pthread_setname_np(::pthread_self(), "pollux-resolve");
    for (;;) {
        std::string host;
        std::uint16_t port = 0;
        {
            std::lock_guard lock(s->mutex);
            if (s->shut || s->queue.empty()) {
                s->worker_running = false;
                return;
            }
            s->current.emplace(std::move(s->queue.front()));
            s->queue.pop_front();
            host = s->current->host;
            port = s->current->port;
        }
        auto result = net::resolve(host, port);  // blocks; the mutex is free meanwhile
        std::shared_ptr<Answer> keep;
        {
            std::lock_guard lock(s->mutex);
            if (!s->current) continue;  // shutdown() dropped it
            Request req = std::move(*s->current);
            s->current.reset();
            keep = std::make_shared<Answer>(
                Answer{std::move(req.callback), std::move(result), std::move(req.ticket)});
            // Refused once the loop has begun to exit: the task dies here, `keep` below.
            (void)req.reactor->post([s, answer = keep] { deliver(*s, *answer); });
        }
        // `keep` goes here, outside the mutex: the last owner if the post was refused.
    }
}

void Resolver::State::deliver(State& s, Answer& answer) {
    s.delivering.fetch_add(1, std::memory_order_seq_cst);
    if (!s.closed.load(std::memory_order_seq_cst)) {
        const void* outer = std::exchange(t_delivering, &s);
        Callback callback = std::move(answer.callback);  // destroyed before `delivering` drops
        callback(std::move(answer.result));
        t_delivering = outer;
    }
    s.delivering.fetch_sub(1, std::memory_order_release);
}

Resolver::Resolver() : state_(std::make_shared<State>()) {}

Resolver::~Resolver() { shutdown(); }

Result<void> Resolver::resolve_async(Reactor& reactor, std::string host, std::uint16_t port, Callback callback) {
    const std::shared_ptr<State> s = state_;
    std::optional<State::Request> refused;  // destroyed after the mutex is released
    {
        std::lock_guard lock(s->mutex);
        if (s->shut) {
            refused.emplace(State::Request{&reactor, std::move(host), port, std::move(callback), Ticket(s->pending)});
            return error(std::errc::operation_canceled);
        }
        s->queue.push_back(State::Request{&reactor, std::move(host), port, std::move(callback), Ticket(s->pending)});
        if (!s->worker_running) {
            try {
                std::thread(&State::work, s).detach();
            } catch (const std::system_error& e) {
                refused.emplace(std::move(s->queue.back()));
                s->queue.pop_back();
                return std::unexpected(e.code());
            }
            s->worker_running = true;
        }
    }
    return {};
}

void Resolver::shutdown() {
    const std::shared_ptr<State> s = state_;  // a dropped callback may destroy *this
    std::deque<State::Request> dropped;
    std::optional<State::Request> current;
    {
        std::lock_guard lock(s->mutex);
        s->shut = true;
        s->closed.store(true, std::memory_order_seq_cst);
        dropped.swap(s->queue);
        if (s->current) {
            current.emplace(std::move(*s->current));
            s->current.reset();
        }
    }
    dropped.clear();  // the callbacks are destroyed here, outside the mutex
    current.reset();
    const std::uint32_t own = t_delivering == s.get() ? 1 : 0;
    while (s->delivering.load(std::memory_order_seq_cst) > own) std::this_thread::yield();
}

std::size_t Resolver::pending() const noexcept { return state_->pending.load(std::memory_order_relaxed); }

}  // namespace pollux::reactor
