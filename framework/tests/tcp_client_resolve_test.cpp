// TcpClient by host name and by address list: "localhost", "127.0.0.1" and "::1"
// connect; every address of an attempt is tried in order; a name that cannot exist
// fails with a clear error on the reactor thread; a client destroyed while its name is
// being resolved runs no callback afterwards. Loopback only.
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
#include "pollux/net/resolve.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::eventually;

namespace {

std::unique_ptr<reactor::Reactor> started_reactor() {
    auto r = reactor::Reactor::create().value();
    EXPECT_TRUE(r->start());
    return r;
}

std::unique_ptr<TcpServer> echo_server(const net::SocketAddr& addr) {
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(addr, opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    EXPECT_TRUE(server->start());
    return server;
}

net::SocketAddr closed_port() {
    auto l = net::TcpListener::bind(net::SocketAddr::loopback_v4(0)).value();
    return l.local_addr().value();
}

// Echoes "ping" through a client made by `make` and reports what the client saw.
struct EchoRun {
    std::mutex mu;
    std::string received;
    std::vector<ConnectError> errors;
    std::atomic<bool> on_loop_thread{true};
    std::string text() {
        std::lock_guard lock(mu);
        return received;
    }
};

void wire(TcpClient& client, reactor::Reactor& reactor, EchoRun& run) {
    client.on_open([](Connection& conn) { conn.send("ping"); });
    client.on_data([&](Connection&, Buffer& in) {
        if (!reactor.is_in_loop_thread()) run.on_loop_thread = false;
        auto b = in.readable();
        std::lock_guard lock(run.mu);
        run.received.append(reinterpret_cast<const char*>(b.data()), b.size());
        in.consume_all();
    });
    client.on_connect_error([&](const ConnectError& e) {
        if (!reactor.is_in_loop_thread()) run.on_loop_thread = false;
        std::lock_guard lock(run.mu);
        run.errors.push_back(e);
    });
}

TEST(TcpClientResolve, connects_by_the_name_localhost) {
    auto server = echo_server(net::SocketAddr::loopback_v4(0));
    auto reactor = started_reactor();
    auto client = TcpClient::create(*reactor, "localhost", server->local_addr().port()).value();
    EXPECT_EQ(client->remote_host(), "localhost");
    EchoRun run;
    wire(*client, *reactor, run);
    client->connect();
    ASSERT_TRUE(eventually([&] { return run.text() == "ping"; })) << "received: " << run.text();
    EXPECT_TRUE(run.on_loop_thread.load());
    EXPECT_EQ(client->attempts(), 1u);
    client.reset();
}

TEST(TcpClientResolve, connects_to_numeric_hosts_127_0_0_1_and_ipv6_loopback) {
    auto reactor = started_reactor();
    for (const auto& [host, bind_to] : {std::pair{"127.0.0.1", net::SocketAddr::loopback_v4(0)},
                                        std::pair{"::1", net::SocketAddr::loopback_v6(0)}}) {
        auto server = echo_server(bind_to);
        auto client = TcpClient::create(*reactor, host, server->local_addr().port()).value();
        EXPECT_EQ(client->remote_addr(), server->local_addr()) << "a numeric host is parsed at create";
        EchoRun run;
        wire(*client, *reactor, run);
        client->connect();
        ASSERT_TRUE(eventually([&] { return run.text() == "ping"; })) << host;
        client.reset();
    }
}

TEST(TcpClientResolve, one_attempt_tries_every_address_in_order_until_one_connects) {
    auto server = echo_server(net::SocketAddr::loopback_v4(0));
    auto reactor = started_reactor();
    // Two refused addresses first: the attempt moves on to the live one, and no error
    // is reported (the attempt did not fail).
    auto client =
        TcpClient::create(*reactor, {closed_port(), closed_port(), server->local_addr()}, {.jitter = false}).value();
    EchoRun run;
    wire(*client, *reactor, run);
    client->connect();
    ASSERT_TRUE(eventually([&] { return run.text() == "ping"; }));
    EXPECT_EQ(client->attempts(), 1u);
    std::lock_guard lock(run.mu);
    EXPECT_TRUE(run.errors.empty());
}

TEST(TcpClientResolve, an_attempt_fails_when_every_address_failed_with_the_last_error) {
    auto reactor = started_reactor();
    const net::SocketAddr first = closed_port(), last = closed_port();
    TcpClientOptions opts;
    opts.max_attempts = 1;
    auto client = TcpClient::create(*reactor, {first, last}, opts).value();
    EchoRun run;
    wire(*client, *reactor, run);
    client->connect();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(run.mu);
        return !run.errors.empty();
    }));
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(run.mu);
    ASSERT_EQ(run.errors.size(), 1u) << "one attempt, one error, however many addresses";
    EXPECT_EQ(run.errors[0].error, std::errc::connection_refused);
    EXPECT_EQ(run.errors[0].attempt, 1u);
    EXPECT_FALSE(run.errors[0].retry_in.has_value());
    ASSERT_TRUE(run.errors[0].address.has_value());
    EXPECT_EQ(*run.errors[0].address, last);
    EXPECT_TRUE(run.on_loop_thread.load());
}

TEST(TcpClientResolve, a_name_that_cannot_exist_fails_on_the_reactor_thread_with_a_clear_message) {
    auto reactor = started_reactor();
    TcpClientOptions opts;
    opts.max_attempts = 2;
    opts.initial_backoff = 1ms;
    auto client = TcpClient::create(*reactor, "no-such-host.invalid", 80, opts).value();
    EchoRun run;
    wire(*client, *reactor, run);
    client->connect();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(run.mu);
        return run.errors.size() == 2;
    }));
    std::lock_guard lock(run.mu);
    for (const ConnectError& e : run.errors) {
        EXPECT_EQ(e.error, net::ResolveErrc::host_not_found);
        EXPECT_EQ(e.error.message(), "Name or service not known");
        EXPECT_FALSE(e.address.has_value()) << "no address was tried";
    }
    EXPECT_TRUE(run.errors[0].retry_in.has_value());
    EXPECT_FALSE(run.errors[1].retry_in.has_value()) << "gave up after max_attempts";
    EXPECT_TRUE(run.on_loop_thread.load());
    EXPECT_EQ(client->attempts(), 2u);
}

TEST(TcpClientResolve, create_rejects_an_empty_host_and_an_empty_address_list) {
    auto reactor = started_reactor();
    EXPECT_EQ(TcpClient::create(*reactor, std::string(), 80).error(), std::errc::invalid_argument);
    EXPECT_EQ(TcpClient::create(*reactor, std::vector<net::SocketAddr>{}).error(), std::errc::invalid_argument);
}

TEST(TcpClientResolve, destroyed_while_its_name_is_being_resolved_runs_no_callback_afterwards) {
    auto server = echo_server(net::SocketAddr::loopback_v4(0));
    auto reactor = started_reactor();
    std::atomic<int> callbacks_after{0};
    for (int i = 0; i < 50; ++i) {
        auto destroyed = std::make_shared<std::atomic<bool>>(false);
        auto client = TcpClient::create(*reactor, "localhost", server->local_addr().port()).value();
        client->on_open([&callbacks_after, destroyed](Connection&) {
            if (destroyed->load()) callbacks_after.fetch_add(1);
        });
        client->on_connect_error([&callbacks_after, destroyed](const ConnectError&) {
            if (destroyed->load()) callbacks_after.fetch_add(1);
        });
        client->connect();
        if (i % 2 == 1) std::this_thread::sleep_for(std::chrono::microseconds(200 * i));
        client.reset();  // stop(): the resolution in flight is dropped
        destroyed->store(true);
    }
    // Answers already posted to the reactor find the client gone.
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(callbacks_after.load(), 0);
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
}

}  // namespace
