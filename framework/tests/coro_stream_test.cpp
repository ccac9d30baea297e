// The Stream over a real TcpServer: reads (copy, exact, view, line) fed by the Connection,
// write_all's backpressure, deadlines and cancellation at every suspension point, the
// connection's close ending its task, and server stop with thousands of suspended tasks.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/framework/coro/coro.hpp"
#include "pollux/framework/tcp_client.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;
namespace coro = pollux::coro;

namespace {

std::unique_ptr<TcpServer> server_with(HandlerFactory factory, std::size_t reactors = 1,
                                       std::size_t high_water = 1024 * 1024) {
    TcpServerOptions opts;
    opts.reactors = reactors;
    opts.connection.high_water_mark = high_water;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(std::move(factory));
    EXPECT_TRUE(server->start());
    return server;
}

std::string text(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// What the tasks saw, written on reactor threads, read by the test after eventually().
struct Log {
    std::mutex m;
    std::vector<std::string> lines;
    void add(std::string s) {
        std::lock_guard lock(m);
        lines.push_back(std::move(s));
    }
    bool has(const std::string& s) {
        std::lock_guard lock(m);
        return std::find(lines.begin(), lines.end(), s) != lines.end();
    }
};

std::string name(const std::error_code& ec) {
    if (ec == std::errc::timed_out) return "timed_out";
    if (ec == std::errc::operation_canceled) return "canceled";
    if (ec == std::errc::connection_reset) return "reset";
    if (ec == std::errc::not_connected) return "not_connected";
    if (ec == std::errc::message_size) return "message_size";
    if (ec == coro::StreamErrc::eof) return "eof";
    return ec.message();
}

}  // namespace

TEST(CoroStream, read_until_splits_lines_across_and_within_packets) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        for (;;) {
            auto line = co_await s.read_until('\n', 16);
            if (!line) {
                (void)co_await s.write_all("error " + name(line.error()) + "\n");
                co_return;
            }
            std::string up(*line);
            for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (!co_await s.write_all(up)) co_return;
        }
    }));
    BlockingClient c(server->local_addr());
    ASSERT_TRUE(c.write_all("one\ntwo\nthr"));
    EXPECT_EQ(text(c.read_exact(8)), "ONE\nTWO\n");
    ASSERT_TRUE(c.write_all("ee\n"));
    EXPECT_EQ(text(c.read_exact(6)), "THREE\n");
    ASSERT_TRUE(c.write_all("0123456789abcdefXYZ\n"));  // no '\n' within 16 bytes
    EXPECT_EQ(text(c.read_exact(19)), "error message_size\n");
    EXPECT_TRUE(c.wait_closed());  // the task ended: the connection closes
    c.close();
    server->stop();
}

TEST(CoroStream, read_exact_gathers_packets_and_reports_eof_before_the_end) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        std::array<std::byte, 10> buf{};
        for (;;) {
            auto r = co_await s.read_exact(buf);
            if (!r) {
                (void)co_await s.write_all(name(r.error()));
                co_return;
            }
            (void)co_await s.write_all(std::span<const std::byte>(buf));
        }
    }));
    BlockingClient c(server->local_addr());
    ASSERT_TRUE(c.write_all("01234"));
    ASSERT_TRUE(c.write_all("56789abcde"));
    EXPECT_EQ(text(c.read_exact(10)), "0123456789");
    c.shutdown_write();  // "abcde" is not a full record
    auto rest = c.read_to_eof();
    EXPECT_EQ(text(rest.bytes), "eof");
    server->stop();
}

TEST(CoroStream, read_copies_and_read_some_views_and_both_see_the_end_of_stream) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        std::array<std::byte, 3> small{};
        auto n = co_await s.read(small);  // at most 3 of what is there
        if (!n || *n == 0) co_return;
        (void)co_await s.write_all(std::span<const std::byte>(small).first(*n));
        for (;;) {
            auto v = co_await s.read_some();
            if (!v) co_return;
            if (v->empty()) break;  // end of stream
            (void)co_await s.write_all(*v);
        }
        (void)co_await s.write_all("|bye");  // the peer's shutdown leaves the write side open
    }));
    BlockingClient c(server->local_addr());
    ASSERT_TRUE(c.write_all("abcdef"));
    EXPECT_EQ(text(c.read_exact(6)), "abcdef");
    c.shutdown_write();
    EXPECT_EQ(text(c.read_to_eof().bytes), "|bye");
    server->stop();
}

// read_some without a deadline takes the reactor's read buffer whole (its fast path);
// bytes that arrive while the task is elsewhere stay with the connection and come back
// through the next read_some. Either way each byte is echoed once, in order.
TEST(CoroStream, a_read_some_loop_echoes_each_byte_once_from_fresh_reads_and_from_kept_input) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        for (;;) {
            auto v = co_await s.read_some();
            if (!v || v->empty()) co_return;
            std::string got(reinterpret_cast<const char*>(v->data()), v->size());
            if (got.starts_with("slow")) co_await coro::sleep_for(100ms);  // more bytes arrive meanwhile
            if (!co_await s.write_all(got)) co_return;
        }
    }));
    BlockingClient c(server->local_addr());
    for (const std::string m : {"m1", "second message", "m3"}) {
        ASSERT_TRUE(c.write_all(m));
        EXPECT_EQ(text(c.read_exact(m.size())), m);
    }
    ASSERT_TRUE(c.write_all("slow"));
    std::this_thread::sleep_for(20ms);  // the task is asleep now
    ASSERT_TRUE(c.write_all("x1"));
    ASSERT_TRUE(c.write_all("x2"));
    EXPECT_EQ(text(c.read_exact(8)), "slowx1x2");
    for (int i = 0; i < 50; ++i) {
        const std::string m = "again " + std::to_string(i);
        ASSERT_TRUE(c.write_all(m));
        ASSERT_EQ(text(c.read_exact(m.size())), m);
    }
    c.shutdown_write();
    EXPECT_EQ(text(c.read_to_eof().bytes), "");
    server->stop();
}

TEST(CoroStream, a_read_deadline_expires_while_suspended_and_the_connection_stays_usable) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        const auto t0 = std::chrono::steady_clock::now();
        auto first = co_await s.read_some(50ms);
        const bool late_enough = std::chrono::steady_clock::now() - t0 >= 50ms;
        if (first || first.error() != std::errc::timed_out || !late_enough) co_return;
        (void)co_await s.write_all("timed out\n");
        auto line = co_await s.read_until('\n', 100, 10s);
        if (line) (void)co_await s.write_all(*line);
    }));
    BlockingClient c(server->local_addr());
    EXPECT_EQ(text(c.read_exact(10)), "timed out\n");
    ASSERT_TRUE(c.write_all("still here\n"));
    EXPECT_EQ(text(c.read_exact(11)), "still here\n");
    EXPECT_TRUE(c.wait_closed());
    c.close();
    server->stop();
}

// Cancellation at each suspension point: a read, a write held by high water, a sleep
// bound to the connection's token. A second task cancels after the first suspended.
TEST(CoroStream, cancel_resumes_a_suspended_read_write_and_sleep_with_operation_canceled) {
    Log log;
    auto server = server_with(
        coro::stream_handler([&log](coro::Stream& s) -> coro::Task<void> {
            coro::CancelSource cancel;
            auto canceller = [](coro::CancelSource& c) -> coro::Task<int> {
                co_await coro::sleep_for(20ms);
                c.cancel();
                co_return 0;
            };
            auto reader = [](coro::Stream& st, coro::CancelToken t, Log& l) -> coro::Task<int> {
                auto r = co_await st.read_some({}, t);
                l.add("read " + (r ? std::string("ok") : name(r.error())));
                co_return 0;
            };
            co_await coro::when_all(reader(s, cancel.token(), log), canceller(cancel));
            cancel.reset();

            (void)s.connection()->tcp_stream()->set_send_buffer_size(4096);
            const std::vector<std::byte> big(256 * 1024, std::byte{'x'});  // above the 64 KiB mark
            auto writer = [](coro::Stream& st, std::span<const std::byte> b, coro::CancelToken t,
                             Log& l) -> coro::Task<int> {
                auto w = co_await st.write_all(b, {}, t);
                l.add("write " + (w ? std::string("ok") : name(w.error())));
                co_return 0;
            };
            co_await coro::when_all(writer(s, big, cancel.token(), log), canceller(cancel));
            cancel.reset();

            auto sleeper = [](coro::CancelToken t, Log& l) -> coro::Task<int> {
                auto r = co_await coro::sleep_for(10s, t);
                l.add("sleep " + (r ? std::string("ok") : name(r.error())));
                co_return 0;
            };
            co_await coro::when_all(sleeper(cancel.token(), log), canceller(cancel));
            log.add("done");
            // Suspended on the connection's token: the close (peer reset) ends it.
            auto r = co_await coro::sleep_for(10s, s.token());
            log.add("close " + (r ? std::string("ok") : name(r.error())));
        }),
        1, 64 * 1024);
    BlockingClient c(server->local_addr());
    ASSERT_TRUE(eventually([&] { return log.has("done"); }));
    EXPECT_TRUE(log.has("read canceled"));
    EXPECT_TRUE(log.has("write canceled"));
    EXPECT_TRUE(log.has("sleep canceled"));
    c.reset();
    EXPECT_TRUE(eventually([&] { return log.has("close canceled"); }));
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
    server->stop();
}

TEST(CoroStream, peer_closing_while_a_write_waits_on_high_water_resumes_it_with_an_error) {
    Log log;
    auto server = server_with(
        coro::stream_handler([&log](coro::Stream& s) -> coro::Task<void> {
            (void)s.connection()->tcp_stream()->set_send_buffer_size(4096);
            const std::vector<std::byte> big(512 * 1024, std::byte{'y'});
            log.add("writing");
            auto w = co_await s.write_all(big);
            log.add("write " + (w ? std::string("ok") : name(w.error())));
            auto again = co_await s.write_all("more");
            log.add("then " + (again ? std::string("ok") : name(again.error())));
        }),
        1, 64 * 1024);
    BlockingClient c(server->local_addr());
    ASSERT_TRUE(eventually([&] { return log.has("writing"); }));
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(log.has("write ok"));  // held: the client reads nothing
    c.reset();                          // unread data and an RST
    ASSERT_TRUE(eventually([&] { return log.has("write reset") || log.has("write canceled"); }));
    EXPECT_TRUE(log.has("then not_connected"));
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
    server->stop();
}

TEST(CoroStream, every_resumption_runs_on_the_connections_reactor_thread) {
    std::atomic<int> wrong{0};
    std::atomic<int> checked{0};
    auto server = server_with(
        coro::stream_handler([&](coro::Stream& s) -> coro::Task<void> {
            reactor::Reactor* home = &s.connection()->reactor();
            for (;;) {
                auto v = co_await s.read_some(5s);
                if (reactor::Reactor::current() != home || !home->is_in_loop_thread()) ++wrong;
                if (!v || v->empty()) co_return;
                if (!co_await s.write_all(*v)) co_return;
                co_await coro::sleep_for(0ms);
                co_await coro::sleep_for(1ms, s.token());
                if (reactor::Reactor::current() != home) ++wrong;
                ++checked;
            }
        }),
        2);
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
        clients.emplace_back([&] {
            BlockingClient c(server->local_addr());
            for (int i = 0; i < 50; ++i) {
                if (!c.write_all("ping") || c.read_exact(4).size() != 4) return;
            }
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_TRUE(eventually([&] { return checked.load() == 200; }));
    EXPECT_EQ(wrong.load(), 0);
    server->stop();
}

// Thousands of tasks suspended when the server stops: each connection's task waits in a
// read and in a sleep bound to its token (when_all: three frames per connection). stop()
// closes every connection; each close resumes the read, cancels the sleep and ends the
// tree. Under ASan a leaked frame fails the run.
TEST(CoroStream, stop_with_thousands_of_suspended_tasks_ends_every_one) {
    constexpr int kConns = 1000;
    rlimit lim{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 2 * kConns + 100 && lim.rlim_max >= 2 * kConns + 100) {
        lim.rlim_cur = 2 * kConns + 100;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
    }
    std::atomic<int> suspended{0};
    std::atomic<int> live{0};
    std::atomic<int> ended{0};
    TcpServerOptions opts;
    opts.reactors = 2;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(coro::stream_handler([&](coro::Stream& s) -> coro::Task<void> {
        ++live;
        auto reader = [](coro::Stream& st, std::atomic<int>& n) -> coro::Task<Result<std::span<const std::byte>>> {
            ++n;
            co_return co_await st.read_some();
        };
        auto sleeper = [](coro::CancelToken t, std::atomic<int>& n) -> coro::Task<Result<void>> {
            ++n;
            co_return co_await coro::sleep_for(1h, t);
        };
        auto [r, z] = co_await coro::when_all(reader(s, suspended), sleeper(s.token(), suspended));
        if (!r && !z) ++ended;
        --live;
    }));
    ASSERT_TRUE(server->start());
    std::vector<std::unique_ptr<BlockingClient>> clients;
    for (int i = 0; i < kConns; ++i) clients.push_back(std::make_unique<BlockingClient>(server->local_addr()));
    ASSERT_TRUE(eventually([&] { return suspended.load() == 2 * kConns; }));
    EXPECT_EQ(live.load(), kConns);
    // The clients never send, so stop's graceful close is answered by their EOF only
    // when they close: close them as stop runs, as real peers would.
    std::thread closer([&] {
        std::this_thread::sleep_for(50ms);
        for (auto& c : clients) c->close();
    });
    auto stopped = server->stop(5s);
    closer.join();
    EXPECT_TRUE(stopped);
    EXPECT_EQ(ended.load(), kConns);
    EXPECT_EQ(live.load(), 0);
}

// The same adapter on the client side: TcpClient connects, the task talks.
TEST(CoroStream, a_tcp_client_runs_a_task_per_connection) {
    auto server = server_with(coro::stream_handler([](coro::Stream& s) -> coro::Task<void> {
        for (;;) {
            auto line = co_await s.read_until('\n', 100);
            if (!line || !co_await s.write_all(*line)) co_return;
        }
    }));
    auto r = reactor::Reactor::create().value();
    ASSERT_TRUE(r->start());
    Log log;
    auto client = TcpClient::create(*r, server->local_addr()).value();
    client->set_handler_factory(coro::stream_handler([&log](coro::Stream& s) -> coro::Task<void> {
        if (!co_await s.write_all("hello\n")) co_return;
        auto line = co_await s.read_until('\n', 100, 5s);
        log.add(line ? std::string(*line) : name(line.error()));
    }));
    client->connect();
    EXPECT_TRUE(eventually([&] { return log.has("hello\n"); }));
    client->stop();
    server->stop();
}

// A connection's task stays on its connection's reactor: post_to fails without moving it.
TEST(CoroStream, post_to_from_a_connection_task_is_refused_and_the_task_stays_home) {
    auto other = reactor::Reactor::create().value();
    ASSERT_TRUE(other->start());
    Log log;
    auto server = server_with(coro::stream_handler([&](coro::Stream& s) -> coro::Task<void> {
        reactor::Reactor* home = &s.connection()->reactor();
        auto child = [](reactor::Reactor& to) -> coro::Task<Result<void>> { co_return co_await coro::post_to(to); };
        auto hop = co_await child(*other);  // a child task: its root is the connection's
        const bool stayed = reactor::Reactor::current() == home;
        log.add(std::string(hop ? "moved" : name(hop.error()) == "Operation not permitted" ? "refused" : "other") +
                (stayed ? " home" : " away"));
        (void)co_await s.write_all("done\n");
    }));
    BlockingClient c(server->local_addr());
    EXPECT_EQ(text(c.read_exact(5)), "done\n");
    EXPECT_TRUE(log.has("refused home"));
    c.close();
    server->stop();
}
