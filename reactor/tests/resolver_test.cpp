// reactor/tests/resolver_test.cpp — Resolver: answers arrive on the reactor's thread, in
// order; a bad name fails clearly; destroying the Resolver (or stopping the reactor) with
// requests in flight drops them, and no callback runs after the destructor returns.
// Loopback names only ("localhost", numeric hosts, a name under .invalid).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/net/resolve.hpp"
#include "pollux/reactor/reactor.hpp"
#include "pollux/reactor/resolver.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using Addrs = Result<std::vector<net::SocketAddr>>;

std::unique_ptr<Reactor> started_reactor() {
    auto r = Reactor::create();
    EXPECT_TRUE(r);
    EXPECT_TRUE((*r)->start());
    return std::move(*r);
}

// What one callback saw.
struct Answer {
    std::atomic<bool> done{false};
    bool on_loop_thread = false;
    bool current_is_reactor = false;
    Addrs result = std::unexpected(std::error_code());
};

TEST(Resolver, delivers_the_addresses_of_localhost_on_the_reactor_thread) {
    auto reactor = started_reactor();
    Resolver resolver;
    Answer a;
    ASSERT_TRUE(resolver.resolve_async(*reactor, "localhost", 8080, [&](Addrs r) {
        a.on_loop_thread = reactor->is_in_loop_thread();
        a.current_is_reactor = Reactor::current() == reactor.get();
        a.result = std::move(r);
        a.done.store(true, std::memory_order_release);
    }));
    ASSERT_TRUE(test::wait_until([&] { return a.done.load(std::memory_order_acquire); }));
    EXPECT_TRUE(a.on_loop_thread);
    EXPECT_TRUE(a.current_is_reactor);
    ASSERT_TRUE(a.result) << a.result.error().message();
    EXPECT_NE(std::find(a.result->begin(), a.result->end(), net::SocketAddr::loopback_v4(8080)), a.result->end());
    EXPECT_TRUE(test::wait_until([&] { return resolver.pending() == 0; }));
}

TEST(Resolver, numeric_hosts_and_a_bad_name_are_answered_in_the_order_asked) {
    auto reactor = started_reactor();
    Resolver resolver;
    std::mutex mu;
    std::vector<std::string> seen;  // "host -> first address" or "host -> error"
    const std::vector<std::string> hosts = {"127.0.0.1", "::1", "no-such-host.invalid", "localhost"};
    for (const std::string& host : hosts) {
        ASSERT_TRUE(resolver.resolve_async(*reactor, host, 7, [&, host](Addrs r) {
            std::lock_guard lock(mu);
            seen.push_back(host + " -> " + (r ? r->front().to_string() : r.error().message()));
        }));
    }
    ASSERT_TRUE(test::wait_until([&] {
        std::lock_guard lock(mu);
        return seen.size() == hosts.size();
    }));
    std::lock_guard lock(mu);
    EXPECT_EQ(seen[0], "127.0.0.1 -> 127.0.0.1:7");
    EXPECT_EQ(seen[1], "::1 -> [::1]:7");
    EXPECT_EQ(seen[2], "no-such-host.invalid -> Name or service not known");
    EXPECT_EQ(seen[3].rfind("localhost -> ", 0), 0u) << seen[3];
}

TEST(Resolver, destroyed_with_requests_in_flight_drops_them_and_runs_no_callback_afterwards) {
    auto reactor = started_reactor();
    constexpr int kRequests = 200;
    std::atomic<int> calls{0};
    std::atomic<bool> in_callback{false};
    auto token = std::make_shared<int>(0);  // every callback holds a copy
    std::weak_ptr<int> watch = token;
    int calls_at_destruction = 0;
    {
        Resolver resolver;
        for (int i = 0; i < kRequests; ++i) {
            ASSERT_TRUE(resolver.resolve_async(*reactor, i % 2 ? "localhost" : "127.0.0.1", 80,
                                               [&, token](Addrs) {
                                                   in_callback.store(true);
                                                   if (calls.fetch_add(1) == 0) std::this_thread::sleep_for(30ms);
                                                   in_callback.store(false);
                                               }));
        }
        token.reset();
        // Let some answers through, so that one callback is likely running (the first
        // sleeps) while the destructor runs on this thread.
        (void)test::wait_until([&] { return calls.load() > 0; }, 2s);
    }  // ~Resolver
    EXPECT_FALSE(in_callback.load()) << "a callback was still running after ~Resolver";
    calls_at_destruction = calls.load();
    // Every callback is destroyed unrun: the queued ones in the destructor, the posted ones
    // when the reactor runs their tasks.
    EXPECT_TRUE(test::wait_until([&] { return watch.expired(); })) << "a callback was never destroyed";
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls.load(), calls_at_destruction) << "a callback ran after ~Resolver";
    EXPECT_LT(calls_at_destruction, kRequests);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
}

TEST(Resolver, may_be_shut_down_from_inside_its_own_callback) {
    auto reactor = started_reactor();
    auto resolver = std::make_unique<Resolver>();
    std::atomic<int> calls{0};
    std::atomic<bool> destroyed{false};
    std::atomic<int> accepted{0};
    // The requests are made on the loop thread too: the first answer may arrive before
    // a thread outside the loop could make the third, and `resolver` is reset there.
    ASSERT_TRUE(reactor->post([&] {
        for (int i = 0; i < 3; ++i) {
            auto r = resolver->resolve_async(*reactor, "127.0.0.1", 80, [&](Addrs) {
                calls.fetch_add(1);
                resolver.reset();  // ~Resolver on the loop thread, inside its own callback
                destroyed.store(true);
            });
            if (r) accepted.fetch_add(1);
        }
    }));
    ASSERT_TRUE(test::wait_until([&] { return destroyed.load(); }));
    EXPECT_EQ(accepted.load(), 3);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls.load(), 1);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
}

TEST(Resolver, an_answer_for_a_reactor_that_exited_is_dropped_unrun) {
    auto reactor = started_reactor();
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    Resolver resolver;
    std::atomic<bool> called{false};
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> watch = token;
    ASSERT_TRUE(resolver.resolve_async(*reactor, "localhost", 80, [&called, token](Addrs) { called = true; }));
    token.reset();
    EXPECT_TRUE(test::wait_until([&] { return watch.expired(); }));
    EXPECT_TRUE(test::wait_until([&] { return resolver.pending() == 0; }));
    EXPECT_FALSE(called.load());
}

TEST(Resolver, refuses_requests_after_shutdown) {
    auto reactor = started_reactor();
    Resolver resolver;
    resolver.shutdown();
    bool called = false;
    auto r = resolver.resolve_async(*reactor, "localhost", 80, [&](Addrs) { called = true; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::operation_canceled);
    EXPECT_EQ(resolver.pending(), 0u);
    reactor->stop();
    ASSERT_TRUE(reactor->join());
    EXPECT_FALSE(called);
}

}  // namespace
}  // namespace pollux::reactor
