// TcpClient: connect, echo through the handler API, connect errors with capped
// exponential backoff, connect timeout, reconnect, disconnect and stop, and destruction
// after the reactor's loop has exited.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_client.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "support/close_log.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::CloseLog;
using pollux::test::eventually;

namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<reactor::Reactor> started_reactor() {
    auto r = reactor::Reactor::create().value();
    EXPECT_TRUE(r->start());
    return r;
}

std::unique_ptr<TcpServer> echo_server() {
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    EXPECT_TRUE(server->start());
    return server;
}

// An address nobody listens on: bind a port, then let it go.
net::SocketAddr closed_port() {
    auto l = net::TcpListener::bind(net::SocketAddr::loopback_v4(0)).value();
    return l.local_addr().value();
}

// Received text, written by the reactor thread, read by the test.
struct Inbox {
    void append(std::string_view s) {
        std::lock_guard lock(mutex);
        text += s;
    }
    std::string get() const {
        std::lock_guard lock(mutex);
        return text;
    }
    mutable std::mutex mutex;
    std::string text;
};

std::string_view as_text(const Buffer& in) {
    auto b = in.readable();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The failed attempts of a client, with the time each was reported.
struct ErrorLog {
    void add(const ConnectError& e) {
        std::lock_guard lock(mutex);
        errors.push_back(e);
        times.push_back(Clock::now());
    }
    std::size_t size() const {
        std::lock_guard lock(mutex);
        return errors.size();
    }
    mutable std::mutex mutex;
    std::vector<ConnectError> errors;
    std::vector<Clock::time_point> times;
};

}  // namespace

TEST(TcpClient, connects_to_a_tcp_server_and_echoes_with_the_lambda_api) {
    auto server = echo_server();
    auto reactor = started_reactor();
    auto client = TcpClient::create(*reactor, server->local_addr()).value();
    Inbox inbox;
    CloseLog closes;
    client->on_open([](Connection& conn) { conn.send("hello pollux"); });
    client->on_data([&](Connection&, Buffer& in) {
        inbox.append(as_text(in));
        in.consume_all();
    });
    client->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    client->connect();

    ASSERT_TRUE(eventually([&] { return inbox.get() == "hello pollux"; }));
    ConnectionRef ref = client->connection();
    ASSERT_TRUE(ref);
    EXPECT_TRUE(ref.send(std::string_view(" again")));
    ASSERT_TRUE(eventually([&] { return inbox.get() == "hello pollux again"; }));
    EXPECT_EQ(client->attempts(), 1u);

    client->disconnect();
    ASSERT_TRUE(closes.wait_for(1));
    EXPECT_EQ(closes.reasons(), std::vector{CloseReason::local_close});
    EXPECT_TRUE(eventually([&] { return !client->connection(); }));
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
}

TEST(TcpClient, runs_a_handler_made_by_the_factory_on_the_reactor_thread) {
    struct Pinger final : ConnectionHandler {
        Pinger(std::atomic<int>& replies, std::atomic<bool>& wrong_thread, reactor::Reactor& r)
            : replies_(replies), wrong_thread_(wrong_thread), reactor_(r) {}
        void on_open(Connection& conn) override { conn.send("ping"); }
        void on_data(Connection& conn, Buffer& in) override {
            if (!reactor_.is_in_loop_thread()) wrong_thread_ = true;
            if (in.readable_size() < 4) return;  // keep the partial reply
            in.consume(4);
            if (++replies_ < 10) conn.send("ping");
        }
        std::atomic<int>& replies_;
        std::atomic<bool>& wrong_thread_;
        reactor::Reactor& reactor_;
    };
    auto server = echo_server();
    auto reactor = started_reactor();
    auto client = TcpClient::create(*reactor, server->local_addr()).value();
    std::atomic<int> replies{0};
    std::atomic<bool> wrong_thread{false};
    client->set_handler_factory(
        [&](Connection&) { return std::make_unique<Pinger>(replies, wrong_thread, *reactor); });
    client->connect();
    ASSERT_TRUE(eventually([&] { return replies.load() == 10; }));
    EXPECT_FALSE(wrong_thread.load());
}

TEST(TcpClient, refused_connect_is_reported_and_retried_with_doubling_delays_until_max_attempts) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.jitter = false;  // exact doublings
    opts.initial_backoff = 20ms;
    opts.max_backoff = 1000ms;
    opts.max_attempts = 4;
    auto client = TcpClient::create(*reactor, closed_port(), opts).value();
    ErrorLog log;
    std::atomic<int> opens{0};
    client->on_connect_error([&](const ConnectError& e) { log.add(e); });
    client->on_open([&](Connection&) { ++opens; });
    const auto start = Clock::now();
    client->connect();

    ASSERT_TRUE(eventually([&] { return log.size() == 4; }));
    std::this_thread::sleep_for(150ms);  // it gave up: no fifth attempt
    client->stop();
    std::lock_guard lock(log.mutex);
    ASSERT_EQ(log.errors.size(), 4u);
    EXPECT_EQ(client->attempts(), 4u);
    EXPECT_EQ(opens.load(), 0);
    const std::chrono::milliseconds expected[] = {20ms, 40ms, 80ms};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(log.errors[i].error, std::errc::connection_refused) << i;
        EXPECT_EQ(log.errors[i].attempt, i + 1);
        if (i < 3) {
            ASSERT_TRUE(log.errors[i].retry_in.has_value()) << i;
            EXPECT_EQ(*log.errors[i].retry_in, expected[i]) << i;
            // Timers never fire early; the upper bound is generous for sanitizers.
            const auto gap = log.times[i + 1] - log.times[i];
            EXPECT_GE(gap, expected[i]) << i;
            EXPECT_LT(gap, expected[i] + 2s) << i;
        }
    }
    EXPECT_FALSE(log.errors[3].retry_in.has_value());
    EXPECT_GE(log.times[3] - start, 140ms);  // 20 + 40 + 80 at least
}

TEST(TcpClient, retries_against_a_port_that_opens_later_and_then_connects) {
    const net::SocketAddr addr = closed_port();
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.initial_backoff = 20ms;
    opts.max_backoff = 100ms;
    opts.max_attempts = 0;  // unlimited: keep trying until the server appears
    auto client = TcpClient::create(*reactor, addr, opts).value();
    ErrorLog log;
    Inbox inbox;
    client->on_connect_error([&](const ConnectError& e) { log.add(e); });
    client->on_open([](Connection& conn) { conn.send("late hello"); });
    client->on_data([&](Connection&, Buffer& in) {
        inbox.append(as_text(in));
        in.consume_all();
    });
    client->connect();

    // Refused at least twice while nobody listens...
    ASSERT_TRUE(eventually([&] { return log.size() >= 2; }));
    // ...then the server opens on that very port, and a later retry gets through.
    TcpServerOptions server_opts;
    server_opts.reactors = 1;
    auto server = TcpServer::bind(addr, server_opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    ASSERT_TRUE(eventually([&] { return inbox.get() == "late hello"; }));

    client->stop();
    std::lock_guard lock(log.mutex);
    EXPECT_GE(client->attempts(), log.errors.size() + 1);
    for (const ConnectError& e : log.errors) {
        EXPECT_EQ(e.error, std::errc::connection_refused);
        EXPECT_TRUE(e.retry_in.has_value());  // never gave up
    }
}

TEST(TcpClient, backoff_doubles_up_to_max_backoff_and_jitter_stays_within_half_to_full) {
    auto reactor = started_reactor();
    for (bool jitter : {false, true}) {
        TcpClientOptions opts;
        opts.initial_backoff = 4ms;
        opts.max_backoff = 20ms;
        opts.max_attempts = 6;
        opts.jitter = jitter;
        auto client = TcpClient::create(*reactor, closed_port(), opts).value();
        ErrorLog log;
        client->on_connect_error([&](const ConnectError& e) { log.add(e); });
        client->connect();
        ASSERT_TRUE(eventually([&] { return log.size() == 6; }));
        client->stop();
        std::lock_guard lock(log.mutex);
        const std::chrono::milliseconds full[] = {4ms, 8ms, 16ms, 20ms, 20ms};
        for (std::size_t i = 0; i < 5; ++i) {
            ASSERT_TRUE(log.errors[i].retry_in.has_value());
            const auto d = *log.errors[i].retry_in;
            if (jitter) {
                EXPECT_GE(d, full[i] / 2) << i;
                EXPECT_LE(d, full[i]) << i;
            } else {
                EXPECT_EQ(d, full[i]) << i;
            }
        }
        EXPECT_FALSE(log.errors[5].retry_in.has_value());
    }
}

TEST(TcpClient, connect_to_a_listener_with_a_full_backlog_times_out) {
    // backlog 0: the accept queue holds one connection; once it is full, Linux drops
    // further SYNs, so a connect neither completes nor fails until its timeout.
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0), 0).value();
    const auto addr = listener.local_addr().value();
    std::vector<net::TcpStream> fillers;
    for (int i = 0; i < 3; ++i) fillers.push_back(net::TcpStream::connect(addr).value());
    std::this_thread::sleep_for(50ms);  // the first handshake completes: queue full

    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.connect_timeout = 100ms;
    opts.max_attempts = 2;
    opts.initial_backoff = 10ms;
    opts.jitter = false;  // the exact 10 ms below
    auto client = TcpClient::create(*reactor, addr, opts).value();
    ErrorLog log;
    std::atomic<int> opens{0};
    client->on_connect_error([&](const ConnectError& e) { log.add(e); });
    client->on_open([&](Connection&) { ++opens; });
    const auto start = Clock::now();
    client->connect();
    ASSERT_TRUE(eventually([&] { return log.size() == 2; }));
    const auto took = Clock::now() - start;
    client->stop();
    std::lock_guard lock(log.mutex);
    EXPECT_EQ(log.errors[0].error, std::errc::timed_out);
    EXPECT_EQ(log.errors[1].error, std::errc::timed_out);
    EXPECT_FALSE(log.errors[1].retry_in.has_value());
    EXPECT_EQ(opens.load(), 0);
    EXPECT_GE(took, 210ms);  // 100 + 10 + 100
    EXPECT_LT(took, 5s);
}

TEST(TcpClient, reconnects_after_the_server_closes_when_reconnect_is_on) {
    TcpServerOptions sopts;
    sopts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), sopts).value();
    std::atomic<int> accepted{0};
    server->on_open([&](Connection& conn) {
        ++accepted;
        conn.close();  // the server hangs up on every connection
    });
    ASSERT_TRUE(server->start());

    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.reconnect = true;
    opts.initial_backoff = 10ms;
    auto client = TcpClient::create(*reactor, server->local_addr(), opts).value();
    std::atomic<int> opens{0};
    CloseLog closes;
    client->on_open([&](Connection&) { ++opens; });
    client->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    client->connect();
    ASSERT_TRUE(eventually([&] { return opens.load() >= 3 && closes.size() >= 3; }));
    client->stop();
    const int opened = opens.load();
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(opens.load(), opened);  // stop ended the reconnect loop
    for (CloseReason r : closes.reasons()) {
        EXPECT_TRUE(r == CloseReason::peer_closed || r == CloseReason::local_close) << to_string(r);
    }
    EXPECT_GE(accepted.load(), 3);
}

TEST(TcpClient, does_not_reconnect_after_a_close_when_reconnect_is_off) {
    TcpServerOptions sopts;
    sopts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), sopts).value();
    server->on_open([](Connection& conn) { conn.close(); });
    ASSERT_TRUE(server->start());

    auto reactor = started_reactor();
    auto client = TcpClient::create(*reactor, server->local_addr()).value();
    CloseLog closes;
    client->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    client->connect();
    ASSERT_TRUE(closes.wait_for(1));
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(client->attempts(), 1u);
    EXPECT_EQ(closes.reasons(), std::vector{CloseReason::peer_closed});
    EXPECT_FALSE(client->connection());

    client->connect();  // idle again: connect() starts over
    ASSERT_TRUE(closes.wait_for(2));
    EXPECT_EQ(client->attempts(), 2u);
}

TEST(TcpClient, stop_cancels_a_pending_retry_and_no_callback_runs_afterwards) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.initial_backoff = 50ms;  // unlimited attempts
    auto client = TcpClient::create(*reactor, closed_port(), opts).value();
    std::atomic<int> errors{0};
    std::atomic<bool> after_stop{false};
    std::atomic<bool> stopped{false};
    client->on_connect_error([&](const ConnectError&) {
        if (stopped) after_stop = true;
        ++errors;
    });
    client->connect();
    ASSERT_TRUE(eventually([&] { return errors.load() >= 1; }));
    client->stop();  // a backoff timer is pending now
    stopped = true;
    const auto attempts = client->attempts();
    std::this_thread::sleep_for(250ms);
    EXPECT_EQ(client->attempts(), attempts);
    EXPECT_FALSE(after_stop.load());
    client->connect();  // stopped is final
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(client->attempts(), attempts);
}

TEST(TcpClient, stop_aborts_the_live_connection_with_one_local_close_before_returning) {
    auto server = echo_server();
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.reconnect = true;
    auto client = TcpClient::create(*reactor, server->local_addr(), opts).value();
    CloseLog closes;
    std::atomic<bool> open{false};
    client->on_open([&](Connection&) { open = true; });
    client->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    client->connect();
    ASSERT_TRUE(eventually([&] { return open.load(); }));
    client->stop();
    EXPECT_EQ(closes.reasons(), std::vector{CloseReason::local_close});  // already, no waiting
    client.reset();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(closes.size(), 1u);
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
}

TEST(TcpClient, may_be_destroyed_from_its_own_connect_error_callback) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.initial_backoff = 1ms;
    auto client = TcpClient::create(*reactor, closed_port(), opts).value();
    std::atomic<int> errors{0};
    TcpClient* raw = client.release();
    raw->on_connect_error([&errors, raw](const ConnectError&) {
        if (++errors == 2) delete raw;  // stop() runs inline; the state outlives the call
    });
    raw->connect();
    ASSERT_TRUE(eventually([&] { return errors.load() >= 2; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(errors.load(), 2);
}

TEST(TcpClient, create_on_a_pool_checks_the_reactor_index) {
    auto pool = reactor::ReactorPool::create({.threads = 1}).value();
    EXPECT_EQ(TcpClient::create(*pool, closed_port(), {}, 1).error(), std::errc::invalid_argument);
    auto client = TcpClient::create(*pool, closed_port(), {}, 0).value();
    EXPECT_EQ(&client->reactor(), &pool->reactor(0));
}

// ---- Destroyed after the reactor's loop exited, on a thread that did not join it ----

namespace {

// Stops `reactor` and waits (bounded) until its loop has exited: a post is refused.
bool stop_and_wait_for_exit(reactor::Reactor& reactor) {
    reactor.stop();
    return eventually([&] { return !reactor.post([] {}); }, 10s);
}

}  // namespace

TEST(TcpClient, destroyed_in_backoff_after_the_loop_exited_on_another_thread_frees_its_state) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.initial_backoff = 60s;  // a timer pending in the reactor when the loop exits
    auto client = TcpClient::create(*reactor, closed_port(), opts).value();
    auto token = std::make_shared<int>(0);  // held by a callback, i.e. by the client's state
    std::atomic<int> errors{0};
    client->on_connect_error([&errors, token](const ConnectError&) { ++errors; });
    client->connect();
    ASSERT_TRUE(eventually([&] { return errors.load() == 1; }));
    ASSERT_TRUE(stop_and_wait_for_exit(*reactor));

    std::thread([&] { client.reset(); }).join();  // not the reactor's owner
    EXPECT_EQ(token.use_count(), 1);              // the state and its callbacks are gone
    EXPECT_EQ(errors.load(), 1);
    ASSERT_TRUE(reactor->join());
    reactor.reset();  // drops the dead timer unrun (ASan: it never touches the freed state)
}

TEST(TcpClient, destroyed_while_connecting_after_the_loop_exited_on_another_thread_frees_its_state) {
    // A full backlog: the attempt stays in flight (see connect_to_a_listener_with_a_full_backlog_times_out).
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4(0), 0).value();
    const auto addr = listener.local_addr().value();
    std::vector<net::TcpStream> fillers;
    for (int i = 0; i < 3; ++i) fillers.push_back(net::TcpStream::connect(addr).value());
    std::this_thread::sleep_for(50ms);

    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.connect_timeout = 60s;
    auto client = TcpClient::create(*reactor, addr, opts).value();
    auto token = std::make_shared<int>(0);
    std::atomic<int> events{0};
    client->on_connect_error([&events, token](const ConnectError&) { ++events; });
    client->on_open([&events, token](Connection&) { ++events; });
    client->connect();
    ASSERT_TRUE(eventually([&] { return client->attempts() == 1; }));
    // The task that counted the attempt also registered it; a later post from this
    // thread runs after it (per-producer FIFO).
    std::atomic<bool> ran{false};
    ASSERT_TRUE(reactor->post([&ran] { ran = true; }));
    ASSERT_TRUE(eventually([&] { return ran.load(); }));
    ASSERT_TRUE(stop_and_wait_for_exit(*reactor));

    std::thread([&] { client.reset(); }).join();
    EXPECT_EQ(token.use_count(), 1);
    EXPECT_EQ(events.load(), 0);
    ASSERT_TRUE(reactor->join());
    reactor.reset();
}

TEST(TcpClient, destroyed_after_the_loop_exited_on_the_joining_thread_closes_the_connection) {
    auto server = echo_server();
    auto reactor = started_reactor();
    auto client = TcpClient::create(*reactor, server->local_addr()).value();
    CloseLog closes;
    std::atomic<bool> open{false};
    client->on_open([&](Connection&) { open = true; });
    client->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    client->connect();
    ASSERT_TRUE(eventually([&] { return open.load(); }));
    reactor->stop();
    ASSERT_TRUE(reactor->join());  // this thread owns the reactor now
    client.reset();                // inline: on_close runs here
    EXPECT_EQ(closes.reasons(), std::vector{CloseReason::local_close});
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
}

// The one misuse with no correct answer (tcp_client.hpp, Lifetime): an open connection,
// an exited loop, a thread that does not own the reactor. It aborts with a message.
TEST(TcpClientDeathTest, destroyed_with_an_open_connection_after_the_loop_exited_on_another_thread_aborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            auto server = echo_server();
            auto reactor = started_reactor();
            auto client = TcpClient::create(*reactor, server->local_addr()).value();
            std::atomic<bool> open{false};
            client->on_open([&](Connection&) { open = true; });
            client->connect();
            if (!eventually([&] { return open.load(); })) return;
            if (!stop_and_wait_for_exit(*reactor)) return;
            std::thread([&] { client.reset(); }).join();
        },
        "open connection after its reactor exited");
}

TEST(TcpClient, a_zero_initial_backoff_still_backs_off_instead_of_spinning) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.initial_backoff = 0ms;
    opts.max_backoff = 1000ms;
    opts.jitter = false;
    auto client = TcpClient::create(*reactor, closed_port(), opts).value();
    ErrorLog log;
    client->on_connect_error([&](const ConnectError& e) { log.add(e); });
    client->connect();
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(client->stop());
    // 1 + 2 + 4 + ... ms: about 8 attempts in 200 ms, never thousands.
    EXPECT_LE(client->attempts(), 12u);
    EXPECT_GE(client->attempts(), 3u);
    std::lock_guard lock(log.mutex);
    for (const auto& e : log.errors) {
        if (e.retry_in) {
            EXPECT_GE(*e.retry_in, 1ms);
        }
    }
}

TEST(TcpClient, reconnects_after_a_close_are_jittered_so_a_crowd_does_not_come_back_at_once) {
    // The server closes every connection at once; each client reconnects after its
    // jittered first backoff, in [50, 100] ms.
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), {.reactors = 1}).value();
    server->on_open([](Connection& c) { c.close(); });
    ASSERT_TRUE(server->start());
    auto reactor = started_reactor();
    constexpr int kClients = 16;
    std::mutex mu;
    std::vector<std::vector<Clock::time_point>> opens(kClients);
    std::vector<std::unique_ptr<TcpClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        TcpClientOptions opts;
        opts.reconnect = true;
        opts.initial_backoff = 100ms;
        auto c = TcpClient::create(*reactor, server->local_addr(), opts).value();
        c->on_open([&, i](Connection&) {
            std::lock_guard lock(mu);
            opens[static_cast<std::size_t>(i)].push_back(Clock::now());
        });
        clients.push_back(std::move(c));
    }
    for (auto& c : clients) c->connect();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mu);
        for (const auto& o : opens)
            if (o.size() < 2) return false;
        return true;
    }));
    for (auto& c : clients) ASSERT_TRUE(c->stop());
    std::lock_guard lock(mu);
    Clock::duration lo = Clock::duration::max(), hi = Clock::duration::min();
    for (const auto& o : opens) {
        const auto gap = o[1] - o[0];
        lo = std::min(lo, gap);
        hi = std::max(hi, gap);
        EXPECT_GE(gap, 50ms);
    }
    EXPECT_GE(hi - lo, 10ms) << "every client reconnected after the same delay";
}
