// Bounded, honest stops for both stream servers: stop() from a callback refuses and
// changes nothing; stop(grace) returns within grace + 1 s whatever the peers do; the
// Unix server waits for its connections to drain like the TCP one; run_until_signal
// gives the thread its signal mask back.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "pollux/framework/unix_server.hpp"
#include "support/loopback_client.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;
using Clock = std::chrono::steady_clock;

TEST(ServerStop, stop_from_a_callback_refuses_and_the_server_keeps_serving) {
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    std::atomic<int> refused{0};
    server->on_data([&](Connection& c, Buffer& in) {
        auto r = server->stop();
        if (!r && r.error() == std::errc::resource_deadlock_would_occur) ++refused;
        c.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    for (int i = 0; i < 3; ++i) {  // still accepting, still echoing
        BlockingClient client(server->local_addr());
        ASSERT_TRUE(client.write_all("ping"));
        EXPECT_EQ(client.read_exact(4).size(), 4u);
    }
    EXPECT_EQ(refused.load(), 3);
    EXPECT_TRUE(server->stop(1s));
}

TEST(ServerStop, stop_returns_within_grace_plus_a_second_while_a_lingering_peer_streams) {
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.read_budget = 16 * 1024;  // many yields per round while it streams
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection&, Buffer& in) { in.consume_all(); });  // nothing to flush
    ASSERT_TRUE(server->start());
    std::atomic<bool> streaming{true};
    std::vector<std::thread> peers;
    for (int i = 0; i < 4; ++i) {
        peers.emplace_back([&] {
            BlockingClient c(server->local_addr(), 2s);
            const std::vector<std::byte> chunk(64 * 1024, std::byte{'s'});
            while (streaming && c.write_all(chunk)) {
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return server->metrics().total().bytes_in > 8 * 1024 * 1024; }));
    const auto t0 = Clock::now();
    (void)server->stop(300ms);  // the peers keep streaming into the lingering closes
    const auto took = Clock::now() - t0;
    streaming = false;
    for (auto& t : peers) t.join();
    EXPECT_LT(took, 1300ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_EQ(server->connections(), 0u);
}

TEST(ServerStop, unix_server_stop_waits_for_its_connections_to_flush) {
    const std::string path = "/tmp/pollux-stop-" + std::to_string(::getpid()) + ".sock";
    UnixServerOptions opts;
    opts.reactors = 2;
    opts.connection.linger_timeout = 300ms;  // the client never half-closes
    auto server = UnixServer::bind(path, opts).value();
    const std::vector<std::byte> reply(4 * 1024 * 1024, std::byte{'u'});
    server->on_data([&](Connection& c, Buffer& in) {
        in.consume_all();
        c.send(reply);
    });
    ASSERT_TRUE(server->start());
    auto stream = net::UnixStream::connect(path);
    ASSERT_TRUE(stream);
    int fd = stream->fd();
    ASSERT_EQ(::send(fd, "go", 2, MSG_NOSIGNAL), 2);
    ASSERT_TRUE(eventually([&] { return server->connections() == 1; }));
    // Read the first bytes so the reply is under way, then stop while most is queued.
    char buf[64 * 1024];
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::size_t total = 0;
    while (total == 0) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) total += static_cast<std::size_t>(r);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
    auto stopped = std::async(std::launch::async, [&] { return server->stop(10s); });
    int end = -1;
    for (;;) {  // a slow reader: the stop must wait for it, not cut the reply
        std::this_thread::sleep_for(1ms);
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            total += static_cast<std::size_t>(r);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        end = r == 0 ? 0 : errno;
        break;
    }
    EXPECT_EQ(end, 0);
    EXPECT_EQ(total, reply.size()) << "the reply was cut by stop()";
    EXPECT_TRUE(stopped.get());
    EXPECT_EQ(server->metrics().total().closed(CloseReason::server_stop), 1u);
}

TEST(ServerStop, run_until_signal_restores_the_signal_mask_of_its_thread) {
    std::promise<pthread_t> who;
    std::promise<bool> restored;
    std::atomic<TcpServer*> live{nullptr};
    std::atomic<bool> signalled{false};  // orders the test thread's last look before the delete
    std::thread runner([&] {
        // bind and start on the same thread (the rule); pthread_kill aims the signal at
        // this thread only, which has it blocked while it waits.
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), {.reactors = 1}).value();
        live = server.get();
        who.set_value(pthread_self());
        auto r = server->run_until_signal();
        live = nullptr;
        while (!signalled.load(std::memory_order_acquire)) std::this_thread::yield();
        sigset_t now;
        pthread_sigmask(SIG_SETMASK, nullptr, &now);
        restored.set_value(r.has_value() && sigismember(&now, SIGTERM) == 0 && sigismember(&now, SIGINT) == 0);
    });
    const pthread_t tid = who.get_future().get();
    ASSERT_TRUE(eventually([&] {
        TcpServer* s = live.load();
        return s != nullptr && s->pool().is_running();
    }));
    signalled.store(true, std::memory_order_release);
    ASSERT_EQ(pthread_kill(tid, SIGTERM), 0);
    auto f = restored.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(f.get());
    runner.join();
}
