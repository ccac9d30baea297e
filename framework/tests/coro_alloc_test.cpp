// Zero heap allocations per message in steady state for the coroutine flavour, counted on
// the reactor thread: an echo task whose reads carry a deadline (a timer armed and
// cancelled per message), and a line task (read_until, write_all).
#include <gtest/gtest.h>

#include <array>

#include "pollux/framework/coro/coro.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "support/counting_alloc.hpp"
#include "support/loopback_client.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::AllocationCounter;
using pollux::test::BlockingClient;
namespace coro = pollux::coro;

namespace {

void round_trips(BlockingClient& client, int n, int& failures) {
    std::array<std::byte, 64> msg{};
    msg.back() = std::byte{'\n'};
    for (int i = 0; i < n; ++i) {
        msg[0] = static_cast<std::byte>('a' + i % 26);
        if (!client.write_all(msg) || client.read_exact(msg.size()).size() != msg.size()) ++failures;
    }
}

// Echoes 2000 messages after a warm-up of 500 and returns the reactor thread's heap
// allocations during the 2000.
std::size_t allocations_per_2000(HandlerFactory factory, int& failures) {
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(std::move(factory));
    EXPECT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    round_trips(client, 500, failures);  // warm-up: pool chunks, timer slab, queues

    AllocationCounter* counter = nullptr;  // lives on the reactor thread
    std::size_t control = 0;
    EXPECT_TRUE(server->pool().run_and_wait(0, [&] {
        counter = new AllocationCounter();
        ::operator delete(::operator new(16));  // the counter sees this thread's allocations
        control = counter->count();
        counter->reset();
    }));
    EXPECT_EQ(control, 1u);
    round_trips(client, 2000, failures);
    std::size_t allocations = 0;
    EXPECT_TRUE(server->pool().run_and_wait(0, [&] {
        allocations = counter->count();
        delete counter;
    }));
    client.close();
    server->stop();
    return allocations;
}

}  // namespace

TEST(CoroAlloc, echo_task_with_a_read_deadline_allocates_nothing_per_message) {
    int failures = 0;
    auto n = allocations_per_2000(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        for (;;) {
            auto in = co_await s.read_some(30s);
            if (!in || in->empty()) co_return;
            if (!co_await s.write_all(*in)) co_return;
        }
    }), failures);
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(n, 0u) << "heap allocations on the reactor thread during 2000 echoes";
}

TEST(CoroAlloc, line_task_allocates_nothing_per_message) {
    int failures = 0;
    auto n = allocations_per_2000(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        for (;;) {
            auto line = co_await s.read_until('\n', 1024);
            if (!line) co_return;
            if (!co_await s.write_all(*line)) co_return;
        }
    }), failures);
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(n, 0u) << "heap allocations on the reactor thread during 2000 line echoes";
}

TEST(CoroAlloc, read_exact_into_the_frame_allocates_nothing_per_message) {
    int failures = 0;
    auto n = allocations_per_2000(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        std::array<std::byte, 64> buf{};
        for (;;) {
            if (!co_await s.read_exact(buf, 30s)) co_return;
            if (!co_await s.write_all(std::span<const std::byte>(buf))) co_return;
        }
    }), failures);
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(n, 0u) << "heap allocations on the reactor thread during 2000 exact reads";
}
