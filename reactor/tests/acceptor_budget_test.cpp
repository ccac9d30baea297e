// reactor/tests/acceptor_budget_test.cpp — a connect storm cannot hold the acceptor's
// reactor (accept_budget per event, then a requeue), and the Unix acceptor is the same
// machine as the TCP one.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using test::connect_client;
using test::wait_until;

struct PipeProbe final : EventHandler {
    Receiver* rx = nullptr;
    const std::atomic<std::size_t>* delivered = nullptr;
    std::atomic<std::size_t> delivered_when_served{~std::size_t{0}};
    void on_event(const Event&) override {
        std::byte buf[16];
        while (rx->read(buf)) {
        }
        delivered_when_served = delivered->load();
    }
};

TEST(AcceptorBudget, a_backlog_of_200_is_taken_in_rounds_and_other_sources_get_in_between) {
    constexpr std::size_t kConns = 200;
    ASSERT_GE(test::raise_fd_limit(), 3 * kConns) << "RLIMIT_NOFILE";
    auto pool = ReactorPool::create({.threads = 1}).value();
    std::atomic<std::size_t> delivered{0};
    std::vector<net::TcpStream> held;  // reactor 0's thread
    AcceptorOptions options;
    options.accept_budget = 16;
    auto acceptor = Acceptor::start(
        *pool, net::SocketAddr::loopback_v4(0),
        [&](Reactor&, net::TcpStream s, net::SocketAddr) {
            held.push_back(std::move(s));
            ++delivered;
        },
        options);
    ASSERT_TRUE(acceptor) << acceptor.error().message();
    auto [tx, rx] = pollux::pipe().value();
    PipeProbe probe;
    probe.rx = &rx;
    probe.delivered = &delivered;
    ASSERT_TRUE(pool->reactor(0).register_in_loop(rx, Interest::READABLE, probe));  // creator thread, before start
    ASSERT_TRUE(pool->start());

    // Hold the loop while the backlog fills and the pipe becomes ready, so both are
    // pending when it resumes.
    std::atomic<bool> gate{false};
    ASSERT_TRUE(pool->post(0, [&] {
        while (!gate) std::this_thread::yield();
    }));
    std::vector<net::TcpStream> clients;
    for (std::size_t i = 0; i < kConns; ++i) {
        auto c = connect_client((*acceptor)->local_addr());
        ASSERT_TRUE(c) << c.error().message();
        clients.push_back(std::move(*c));
    }
    const std::byte b{1};
    ASSERT_TRUE(tx.write({&b, 1}));
    gate = true;

    ASSERT_TRUE(wait_until([&] { return delivered.load() == kConns; }));
    ASSERT_TRUE(wait_until([&] { return probe.delivered_when_served.load() != ~std::size_t{0}; }));
    EXPECT_LT(probe.delivered_when_served.load(), kConns) << "the pipe waited for the whole storm";
    EXPECT_GE((*acceptor)->stats().budget_yields, kConns / 16 - 1);
    EXPECT_EQ((*acceptor)->stats().accepted, kConns);
    (*acceptor)->stop();
    ASSERT_TRUE(pool->run_and_wait(0, [&] { held.clear(); }));
    ASSERT_TRUE(pool->stop(0ms));
}

std::string temp_socket_path(const char* tag) {
    return (std::filesystem::temp_directory_path() /
            ("pollux-acc-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock"))
        .string();
}

TEST(UnixAcceptor, hands_unix_streams_round_robin_and_stop_unlinks_the_socket_file) {
    auto pool = ReactorPool::create({.threads = 2}).value();
    ASSERT_TRUE(pool->start());
    const std::string path = temp_socket_path("rr");
    std::filesystem::remove(path);
    std::atomic<std::size_t> per[2] = {0, 0};
    std::atomic<std::size_t> wrong_thread{0};
    auto addr = net::UnixSocketAddr::from_pathname(path).value();
    auto acceptor = UnixAcceptor::start(*pool, addr, [&](Reactor& r, net::UnixStream s, net::UnixSocketAddr) {
        if (!r.is_in_loop_thread() || s.fd() < 0) ++wrong_thread;
        ++per[r.index()];
        pool->connection_closed(r.index());
    });
    ASSERT_TRUE(acceptor) << acceptor.error().message();
    EXPECT_TRUE(std::filesystem::exists(path));
    for (int i = 0; i < 10; ++i) {
        auto c = net::UnixStream::connect(addr);
        ASSERT_TRUE(c) << c.error().message();
        ASSERT_TRUE(wait_until([&] { return per[0] + per[1] == static_cast<std::size_t>(i + 1); }));
    }
    EXPECT_EQ(per[0].load(), 5u);
    EXPECT_EQ(per[1].load(), 5u);
    EXPECT_EQ(wrong_thread.load(), 0u);
    (*acceptor)->stop();
    EXPECT_FALSE(std::filesystem::exists(path)) << "unlink_on_stop is the default";
    ASSERT_TRUE(pool->stop(0ms));
}

TEST(UnixAcceptor, reuseport_is_refused_for_unix_listeners) {
    auto pool = ReactorPool::create({.threads = 2}).value();
    UnixAcceptorOptions options;
    options.mode = AcceptMode::reuseport;
    auto addr = net::UnixSocketAddr::from_pathname(temp_socket_path("rp")).value();
    auto acceptor = UnixAcceptor::start(*pool, addr, [](Reactor&, net::UnixStream, net::UnixSocketAddr) {}, options);
    ASSERT_FALSE(acceptor);
    EXPECT_EQ(acceptor.error(), std::errc::invalid_argument);
}

}  // namespace
}  // namespace pollux::reactor
