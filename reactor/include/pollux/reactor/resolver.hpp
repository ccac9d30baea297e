// pollux/reactor/resolver.hpp — public.
//
// Name resolution that never blocks a reactor. `net::resolve` (getaddrinfo) blocks for
// as long as a name server takes; a `Resolver` runs it on a thread of its own and posts
// each answer to the reactor the request named:
//
//     reactor::Resolver resolver;
//     resolver.resolve_async(reactor, "localhost", 8080, [](Result<std::vector<net::SocketAddr>> r) {
//         // on reactor's loop thread
//         if (!r) { std::fprintf(stderr, "localhost: %s\n", r.error().message().c_str()); return; }
//         ... connect to r->front(), then the next on failure ...
//     });
//
// Design: one worker thread per Resolver, started by the first request and ended when
// the queue is empty, so an idle Resolver holds no thread. Requests are resolved one at
// a time, in order (a slow name delays the ones behind it); make several Resolvers for
// parallel lookups. The worker is detached: destroying a Resolver never waits for a
// getaddrinfo in progress, which may take seconds. The worker then finishes that call,
// touches nothing but its own shared state, and exits.
//
// Delivery. The callback runs on the named reactor's loop thread, as a posted task,
// with net::resolve's result: the addresses in getaddrinfo's order, or its error
// (resolve.hpp). Requests to one reactor are delivered in the order they were made.
//
// Cancellation: requests are dropped, never answered with an error. After `shutdown()`
// or the destructor returns, no callback of this Resolver runs or is running, on any
// thread (a callback in progress on another thread is waited for; one in progress on
// the calling thread, which is shutting its own Resolver down from inside a callback,
// is not). Each dropped callback is destroyed unrun:
//   * a request not yet answered: on the thread calling shutdown();
//   * an answer already posted: on its reactor's thread, when the task runs or the
//     exiting loop destroys it;
//   * an answer the reactor refused because its loop had begun to exit (`post` returned
//     false): on the resolver's thread.
// So a callback should own nothing whose destruction must happen on a given thread
// (capture a weak_ptr, not the last shared_ptr of reactor-bound state).
//
// Lifetime. A reactor must outlive the requests addressed to it: destroy (or
// shutdown()) the Resolver before the reactors it posts to. Any thread may call
// resolve_async and shutdown, including a reactor thread inside a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/net/socket_addr.hpp"

namespace pollux::reactor {

class Reactor;

class Resolver {
public:
    using Callback = std::move_only_function<void(Result<std::vector<net::SocketAddr>>)>;

    Resolver();
    // shutdown(): pending requests are dropped, no callback runs afterwards.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Queues the resolution of `host`:`port`; `callback` runs on `reactor`'s loop
    // thread with the result. Errors (the callback is then destroyed here, unrun):
    // `std::errc::operation_canceled` after shutdown(), or the error of starting the
    // worker thread.
    Result<void> resolve_async(Reactor& reactor, std::string host, std::uint16_t port, Callback callback);

    // Drops every pending request (see Cancellation); resolve_async fails from now on.
    // Idempotent.
    void shutdown();

    // Requests made and not yet delivered or dropped (queued, being resolved, or posted
    // and not yet run). Any thread; a snapshot.
    std::size_t pending() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;  // shared with the worker and the posted answers
};

}  // namespace pollux::reactor
