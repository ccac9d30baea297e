// reactor/tests/reactor_stale_events_test.cpp — generation-checked dispatch: a freed
// (and reused) registration never receives an event fetched for its previous owner.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::reactor {
namespace {

// A pipe plus a handler whose behaviour the test supplies. The test sets everything up
// before start() (the creating thread counts as the loop thread), makes every pipe
// readable, then runs one batch and inspects the result after join().
struct PipeSource final : EventHandler {
    Sender tx;
    Receiver rx;
    RegistrationId id{};
    std::function<void(PipeSource&)> on_ready;  // runs on the loop thread
    int calls = 0;

    PipeSource() {
        auto p = pollux::pipe().value();
        tx = std::move(p.first);
        rx = std::move(p.second);
    }
    void make_readable() {
        const std::byte b{42};
        ASSERT_TRUE(tx.write({&b, 1}));
    }
    void on_event(const Event&) override {
        ++calls;
        if (on_ready) on_ready(*this);
    }
};

// Runs the reactor until `done` is set by the handlers (or 5 s pass), then stops it.
void run_until(Reactor& reactor, const bool& done) {
    ASSERT_TRUE(reactor.start());
    // Poll from a task chain on the loop thread: stop once `done` (loop-thread state).
    struct Watch {
        Reactor* r;
        const bool* done;
        std::chrono::steady_clock::time_point deadline;
        void operator()() const {
            if (*done || std::chrono::steady_clock::now() > deadline) {
                r->stop();
                return;
            }
            r->run_after_in_loop(std::chrono::milliseconds(1), Watch{*this});
        }
    };
    ASSERT_TRUE(reactor.post(Watch{&reactor, &done, std::chrono::steady_clock::now() + std::chrono::seconds(5)}));
    ASSERT_TRUE(reactor.join());
}

TEST(ReactorStaleEvents, event_of_a_source_closed_in_the_batch_never_reaches_the_new_owner_of_its_fd_and_slot) {
    auto reactor = Reactor::create().value();
    auto a = std::make_unique<PipeSource>();
    auto b = std::make_unique<PipeSource>();
    auto c = std::make_unique<PipeSource>();  // handler object for the newcomer; pipe replaced below
    a->id = reactor->register_in_loop(a->rx, Interest::READABLE, *a).value();
    b->id = reactor->register_in_loop(b->rx, Interest::READABLE, *b).value();

    bool done = false;
    int old_fd = -1;
    int new_fd = -2;
    RegistrationId old_id{};
    RegistrationId new_id{};
    std::vector<PipeSource*> order;
    std::unique_ptr<PipeSource>* victim_holder = nullptr;

    // Whichever of A and B is dispatched first kills the other and puts C in its place.
    auto first = [&](PipeSource& self) {
        order.push_back(&self);
        if (done) return;
        done = true;
        std::unique_ptr<PipeSource>& victim = (&self == a.get()) ? b : a;
        victim_holder = &victim;
        old_fd = victim->rx.fd();
        old_id = victim->id;
        ASSERT_TRUE(reactor->deregister_in_loop(victim->rx, victim->id));
        victim->rx = Receiver();  // close: frees the fd number
        auto p = pollux::pipe().value();
        c->rx = std::move(p.second);  // the read end takes the lowest free fd: the victim's
        c->tx = std::move(p.first);
        new_fd = c->rx.fd();
        new_id = reactor->register_in_loop(c->rx, Interest::READABLE, *c).value();
        c->make_readable();  // C is genuinely ready too, but only from the *next* poll on
    };
    a->on_ready = first;
    b->on_ready = first;
    a->make_readable();
    b->make_readable();

    const auto stale_before = reactor->stats().stale_events_dropped;
    run_until(*reactor, done);

    ASSERT_TRUE(done);
    ASSERT_EQ(order.size(), 1u) << "the victim's handler must not run after its deregistration";
    EXPECT_EQ(new_fd, old_fd) << "precondition: the kernel reused the fd number";
    EXPECT_EQ(new_id.index, old_id.index) << "precondition: C took the victim's slot";
    EXPECT_NE(new_id.generation, old_id.generation);
    EXPECT_EQ((*victim_holder)->calls, 0);
    EXPECT_GE(reactor->stats().stale_events_dropped - stale_before, 1u)
        << "the victim's pending event in the batch must be dropped";
    // C may get its own (real) event in a later batch, but never the victim's: at most one.
    EXPECT_LE(c->calls, 1);
}

TEST(ReactorStaleEvents, deregistered_source_gets_no_event_already_fetched_in_the_batch) {
    auto reactor = Reactor::create().value();
    PipeSource a, b;
    a.id = reactor->register_in_loop(a.rx, Interest::READABLE, a).value();
    b.id = reactor->register_in_loop(b.rx, Interest::READABLE, b).value();
    bool done = false;
    auto first = [&](PipeSource& self) {
        if (done) return;
        done = true;
        PipeSource& other = (&self == &a) ? b : a;
        ASSERT_TRUE(reactor->deregister_in_loop(other.rx, other.id));  // no close
        EXPECT_FALSE(reactor->is_registered_in_loop(other.id));
    };
    a.on_ready = first;
    b.on_ready = first;
    a.make_readable();
    b.make_readable();
    run_until(*reactor, done);
    EXPECT_EQ(a.calls + b.calls, 1);
    EXPECT_GE(reactor->stats().stale_events_dropped, 1u);
}

TEST(ReactorStaleEvents, handler_deregistering_itself_is_destroyed_by_deferred_work_after_the_batch) {
    auto reactor = Reactor::create().value();
    auto self_closing = std::make_unique<PipeSource>();
    PipeSource observer;
    PipeSource* raw = self_closing.get();
    raw->id = reactor->register_in_loop(raw->rx, Interest::READABLE, *raw).value();
    observer.id = reactor->register_in_loop(observer.rx, Interest::READABLE, observer).value();

    bool destroyed = false;
    bool done = false;
    std::optional<bool> destroyed_seen_by_observer;
    std::vector<int> order;  // 1 = self_closing, 2 = observer
    raw->on_ready = [&](PipeSource& self) {
        order.push_back(1);
        ASSERT_TRUE(reactor->deregister_in_loop(self.rx, self.id));
        reactor->defer_in_loop([&, owned = std::move(self_closing)]() mutable {
            owned.reset();  // the handler object (and its pipe) dies here
            destroyed = true;
        });
        EXPECT_FALSE(destroyed) << "deferred work must not run inside the dispatch";
    };
    observer.on_ready = [&](PipeSource&) {
        order.push_back(2);
        destroyed_seen_by_observer = destroyed;
        done = true;
    };
    raw->make_readable();  // ready first: epoll reports in readiness order
    observer.make_readable();
    run_until(*reactor, done);

    ASSERT_EQ(order, (std::vector<int>{1, 2})) << "precondition: both in one batch, self_closing first";
    ASSERT_TRUE(destroyed_seen_by_observer.has_value());
    EXPECT_FALSE(*destroyed_seen_by_observer) << "destruction must wait until the batch is dispatched";
    EXPECT_TRUE(destroyed);
}

TEST(ReactorStaleEvents, stale_id_operations_report_not_registered) {
    auto reactor = Reactor::create().value();
    PipeSource a;
    a.id = reactor->register_in_loop(a.rx, Interest::READABLE, a).value();
    ASSERT_TRUE(reactor->deregister_in_loop(a.rx, a.id));
    EXPECT_EQ(reactor->deregister_in_loop(a.rx, a.id).error(), make_error_code(Errc::not_registered));
    EXPECT_EQ(reactor->reregister_in_loop(a.rx, a.id, Interest::READABLE).error(),
              make_error_code(Errc::not_registered));
    EXPECT_EQ(reactor->registrations_in_loop(), 0u);
}

TEST(ReactorStaleEvents, failed_registration_releases_its_slot) {
    auto reactor = Reactor::create().value();
    PipeSource a;
    a.id = reactor->register_in_loop(a.rx, Interest::READABLE, a).value();
    auto again = reactor->register_in_loop(a.rx, Interest::READABLE, a);  // already registered
    ASSERT_FALSE(again);
    EXPECT_EQ(reactor->registrations_in_loop(), 1u);
}

}  // namespace
}  // namespace pollux::reactor
