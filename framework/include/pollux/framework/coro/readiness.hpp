// pollux/framework/coro/readiness.hpp — public.
//
// Readiness of any registered source, for a task: the poller's edge-triggered events as
// awaits, for sockets the framework does not wrap (a UdpSocket, a pipe, a timerfd...):
//
//     auto sock = net::UdpSocket::bind(addr).value();
//     auto ready = coro::Readiness<net::UdpSocket>::register_in_loop(reactor, sock,
//                                                                   Interest::READABLE).value();
//     for (;;) {
//         if (!co_await ready->readable(30s)) break;          // an edge, or the deadline
//         while (auto got = sock.recv_from(buf)) { ... }      // drain until WouldBlock
//     }
//
// * Registration. register_in_loop registers `source` with the reactor once
//   (edge-triggered, no epoll_ctl per wait); the source must outlive the Readiness, and
//   the Readiness is destroyed on the reactor's thread (it deregisters).
// * Edges. An event is remembered until a wait consumes it: readable() returns at once
//   when the source became readable since the last readable() returned, else it
//   suspends until the next edge. Edge-triggered: after a wait returns, do the I/O until
//   WouldBlock before waiting again, or the next edge may never come. An error or hang-up
//   event counts as both readable and writable (the I/O call then reports it).
// * One readable() and one writable() wait at a time (a second fails with
//   std::errc::operation_in_progress); each takes a Deadline and a CancelToken
//   (cancel.hpp). Destroying the Readiness resumes a pending wait with
//   std::errc::operation_canceled.
// * Threads: the reactor's thread only (register_in_loop, the waits, the destructor).
#pragma once

#include <coroutine>
#include <memory>
#include <system_error>

#include "pollux/core/event.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/source.hpp"
#include "pollux/framework/coro/cancel.hpp"
#include "pollux/reactor/event_handler.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::coro {

namespace detail {

// The source-independent part: edge flags and the two waits.
class ReadinessCore : public reactor::EventHandler {
public:
    class Awaiter final : public Waiter {
    public:
        Awaiter(ReadinessCore& core, int dir, Deadline d, CancelToken t) noexcept
            : Waiter(d, t), core_(&core), dir_(dir) {}
        ~Awaiter() {
            if (core_ != nullptr && core_->waiter_[dir_] == this) core_->waiter_[dir_] = nullptr;
        }
        bool await_ready() noexcept;
        template <class P>
        void await_suspend(std::coroutine_handle<P> h) noexcept {
            suspend(h, &Awaiter::abandon);
            core_->waiter_[dir_] = this;
        }
        Result<void> await_resume() const noexcept {
            if (failed()) return std::unexpected(error());
            return {};
        }

    private:
        friend class ReadinessCore;
        static void abandon(Waiter& w) noexcept;
        ReadinessCore* core_;
        int dir_;
    };

    Awaiter readable(Deadline d = {}, CancelToken t = {}) noexcept { return {*this, 0, d, t}; }
    Awaiter writable(Deadline d = {}, CancelToken t = {}) noexcept { return {*this, 1, d, t}; }

protected:
    ReadinessCore() noexcept = default;
    ~ReadinessCore();
    void on_event(const Event& ev) override;

private:
    bool edge_[2] = {false, false};
    Awaiter* waiter_[2] = {nullptr, nullptr};
};

}  // namespace detail

template <Source S>
class Readiness final : public detail::ReadinessCore {
public:
    static Result<std::unique_ptr<Readiness>> register_in_loop(reactor::Reactor& reactor, S& source,
                                                               Interest interest) {
        std::unique_ptr<Readiness> r(new Readiness(reactor, source));
        auto id = reactor.register_in_loop(source, interest, *r);
        if (!id) return std::unexpected(id.error());
        r->id_ = *id;
        return r;
    }
    Readiness(const Readiness&) = delete;
    Readiness& operator=(const Readiness&) = delete;
    ~Readiness() { (void)reactor_->deregister_in_loop(*source_, id_); }

private:
    Readiness(reactor::Reactor& reactor, S& source) noexcept : reactor_(&reactor), source_(&source) {}
    reactor::Reactor* reactor_;
    S* source_;
    reactor::RegistrationId id_{};
};

}  // namespace pollux::coro
