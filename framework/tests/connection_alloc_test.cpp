// Zero heap allocations per message in steady state, counted on the reactor thread.
#include <gtest/gtest.h>

#include <array>

#include "pollux/framework/tcp_server.hpp"
#include "support/counting_alloc.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using pollux::test::AllocationCounter;
using pollux::test::BlockingClient;

namespace {

void round_trips(BlockingClient& client, int n, int& failures) {
    std::array<std::byte, 64> msg{};
    for (int i = 0; i < n; ++i) {
        msg[0] = static_cast<std::byte>(i);
        if (!client.write_all(msg) || client.read_exact(msg.size()).size() != msg.size()) ++failures;
    }
}

}  // namespace

TEST(ConnectionAlloc, echo_of_fixed_size_messages_allocates_nothing_on_the_reactor) {
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    int failures = 0;
    round_trips(client, 500, failures);  // warm-up: pool chunks, timer slab, queues

    AllocationCounter* counter = nullptr;  // lives on the reactor thread
    std::size_t control = 0;
    ASSERT_TRUE(server->pool().run_and_wait(0, [&] {
        counter = new AllocationCounter();
        ::operator delete(::operator new(16));  // the counter sees this thread's allocations
        control = counter->count();
        counter->reset();
    }));
    EXPECT_EQ(control, 1u);
    round_trips(client, 2000, failures);
    std::size_t allocations = 0;
    ASSERT_TRUE(server->pool().run_and_wait(0, [&] {
        allocations = counter->count();
        delete counter;
    }));
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(allocations, 0u) << "heap allocations on the reactor thread during 2000 echoes";
    client.close();
    server->stop();
}

TEST(ConnectionAlloc, connection_is_small_and_holds_no_data_after_an_echo) {
    EXPECT_LE(sizeof(Connection), 256u) << "sizeof(Connection) = " << sizeof(Connection);
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    ConnectionRef ref;
    server->on_open([&](Connection& conn) { ref = conn.ref(); });
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    int failures = 0;
    round_trips(client, 10, failures);
    EXPECT_EQ(failures, 0);
    std::size_t held = 1;
    ASSERT_TRUE(server->pool().run_and_wait(0, [&] {
        Connection* c = ref.get_in_loop();
        held = c == nullptr ? 1 : c->input_size() + c->output_size();
    }));
    EXPECT_EQ(held, 0u);
    client.close();
    server->stop();
}
