// framework/tests/connection_read_test.cpp — the read path: on_data over the reactor's
// scratch buffer when the connection's input is empty, over the connection's own
// input when a partial message is left; what a handler leaves, takes or sends back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::BlockingClient;

namespace {

std::unique_ptr<TcpServer> start_server(std::function<void(Connection&, Buffer&)> on_data,
                                        TcpServerOptions opts = {}) {
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data(std::move(on_data));
    EXPECT_TRUE(server->start());
    return server;
}

std::string as_string(const std::vector<std::byte>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& b : v) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<std::byte>(x >> 24);
    }
    return v;
}

}  // namespace

TEST(ConnectionRead, a_partial_message_left_in_on_data_comes_back_with_the_next_bytes) {
    // Echo whole 4-byte words only; the rest must wait for the next call.
    std::atomic<int> calls{0};
    std::atomic<std::size_t> left_after_first{0};
    auto server = start_server([&](Connection& conn, Buffer& in) {
        const std::size_t whole = in.readable_size() / 4 * 4;
        conn.send(in.readable().first(whole));
        in.consume(whole);
        if (calls.load() == 0) left_after_first = in.readable_size();  // before calls moves
        calls.fetch_add(1);
    });
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("abcdef"));
    EXPECT_EQ(as_string(client.read_exact(4)), "abcd");
    ASSERT_TRUE(pollux::test::eventually([&] { return calls.load() >= 1; }));
    EXPECT_EQ(left_after_first.load(), 2u);
    ASSERT_TRUE(client.write_all("gh"));
    EXPECT_EQ(as_string(client.read_exact(4)), "efgh");
    ASSERT_TRUE(client.write_all("ijklmn"));  // left over again, then completed
    EXPECT_EQ(as_string(client.read_exact(4)), "ijkl");
    ASSERT_TRUE(client.write_all("op"));
    EXPECT_EQ(as_string(client.read_exact(4)), "mnop");
    client.close();
    server->stop();
}

TEST(ConnectionRead, input_size_inside_on_data_is_the_buffer_handed_over) {
    std::atomic<int> mismatches{0};
    std::atomic<int> calls{0};
    auto server = start_server([&](Connection& conn, Buffer& in) {
        if (conn.input_size() != in.readable_size()) mismatches.fetch_add(1);
        calls.fetch_add(1);
        const std::size_t whole = in.readable_size() / 3 * 3;  // leave some now and then
        conn.send(in.readable().first(whole));
        in.consume(whole);
    });
    BlockingClient client(server->local_addr());
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(client.write_all(std::string(static_cast<std::size_t>(i % 7 + 1), 'x')));
    }
    const std::size_t total = [] {
        std::size_t t = 0;
        for (int i = 0; i < 50; ++i) t += static_cast<std::size_t>(i % 7 + 1);
        return t;
    }();
    EXPECT_EQ(client.read_exact(total / 3 * 3).size(), total / 3 * 3);
    EXPECT_GT(calls.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
    client.close();
    server->stop();
}

TEST(ConnectionRead, sending_the_input_buffer_itself_echoes_and_later_reads_still_work) {
    auto server = start_server([](Connection& conn, Buffer& in) { conn.send(std::move(in)); });
    BlockingClient client(server->local_addr());
    for (unsigned i = 0; i < 200; ++i) {
        const auto msg = pattern(1 + i * 37 % 3000, i);
        ASSERT_TRUE(client.write_all(msg));
        ASSERT_EQ(client.read_exact(msg.size()), msg) << "message " << i;
    }
    client.close();
    server->stop();
}

TEST(ConnectionRead, a_handler_that_takes_the_buffers_storage_does_not_break_later_reads) {
    // Moving the Buffer out takes its storage (the reactor's scratch); the next read
    // must get fresh storage, and every byte must still arrive once, in order.
    auto server = start_server([](Connection& conn, Buffer& in) {
        Buffer mine = std::move(in);
        conn.send(mine.readable());
    });
    BlockingClient client(server->local_addr());
    for (unsigned i = 0; i < 100; ++i) {
        const auto msg = pattern(64 + i, i);
        ASSERT_TRUE(client.write_all(msg));
        ASSERT_EQ(client.read_exact(msg.size()), msg) << "message " << i;
    }
    client.close();
    server->stop();
}

TEST(ConnectionRead, one_write_larger_than_the_scratch_arrives_whole_and_in_order) {
    // 1 MiB in one write: reads that fill the 64 KiB scratch continue in the general
    // path (the fast path hands its full read over), then the queue takes the rest.
    auto server = start_server([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    BlockingClient client(server->local_addr());
    const auto big = pattern(1 << 20, 7);
    std::thread writer([&] { EXPECT_TRUE(client.write_all(big)); });
    const auto got = client.read_exact(big.size());
    writer.join();
    EXPECT_EQ(got.size(), big.size());
    EXPECT_EQ(pollux::test::checksum(got), pollux::test::checksum(big));
    client.close();
    server->stop();
}

TEST(ConnectionRead, max_input_below_the_scratch_size_allows_exactly_max_input_and_closes_above) {
    pollux::test::Probe probe;
    std::atomic<std::size_t> held{0};
    probe.on_data = [&](Connection&, Buffer& in) { held = in.readable_size(); };  // never consumes
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.max_input = 100;
    opts.connection.linger_timeout = 100ms;  // on_close comes after the lingering close
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());

    BlockingClient exact(server->local_addr());
    ASSERT_TRUE(exact.write_all(std::string(100, 'a')));
    ASSERT_TRUE(pollux::test::eventually([&] { return held.load() == 100; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(probe.closes.size(), 0u) << "exactly max_input bytes is not over the limit";

    BlockingClient over(server->local_addr());
    ASSERT_TRUE(over.write_all(std::string(101, 'b')));
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.count(CloseReason::limit), 1u);
    EXPECT_EQ(probe.violations.load(), 0);
    exact.close();
    over.close();
    server->stop();
}

// max_input bounds what the handler leaves, not what one read brings: 64 KiB of short
// lines written at once, through a server whose max_input is 1 KiB, all come back.
TEST(ConnectionRead, a_read_larger_than_max_input_that_the_handler_consumes_does_not_close) {
    pollux::test::Probe probe;
    probe.on_data = [](Connection& conn, Buffer& in) {  // echoes whole lines, leaves a partial one
        std::size_t done = 0;
        while (auto eol = in.find("\n", done)) done = *eol + 1;
        conn.send(in.readable().first(done));
        in.consume(done);
    };
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.max_input = 1024;
    opts.connection.linger_timeout = 100ms;  // the limit close lingers for the peer's FIN
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    ASSERT_TRUE(server->start());

    std::string lines;
    for (int i = 0; lines.size() < 64 * 1024; ++i) lines += "line " + std::to_string(i) + " of a few bytes\n";
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all(lines));
    client.shutdown_write();
    auto echoed = client.read_to_eof();
    EXPECT_EQ(echoed.error, 0);
    EXPECT_EQ(as_string(echoed.bytes), lines);
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.count(CloseReason::limit), 0u);
    EXPECT_EQ(probe.violations.load(), 0);

    // A line longer than max_input is still the limit.
    BlockingClient long_line(server->local_addr());
    ASSERT_TRUE(long_line.write_all(std::string(1500, 'x')));
    ASSERT_TRUE(probe.closes.wait_for(2));
    EXPECT_EQ(probe.closes.count(CloseReason::limit), 1u);
    server->stop();
}

// The scratch is checked in place after each on_data (ConnectionHost::scratch_intact);
// each of these leaves it in a different shape. Every byte must still arrive once, in
// order, and the fast path must not read into storage the handler replaced.
TEST(ConnectionRead, a_handler_that_puts_other_storage_holding_the_left_over_in_the_buffer_keeps_those_bytes) {
    // Echo whole 4-byte words; move the remainder into a small buffer of our own and
    // put that in place of the one handed over (its storage is then freed).
    auto server = start_server([](Connection& conn, Buffer& in) {
        const std::size_t whole = in.readable_size() / 4 * 4;
        conn.send(in.readable().first(whole));
        in.consume(whole);
        Buffer small;
        small.append(in.readable());
        in = std::move(small);
    });
    BlockingClient client(server->local_addr());
    std::string sent;
    std::size_t got = 0;
    for (unsigned i = 0; i < 60; ++i) {
        const auto msg = pattern(1 + i * 13 % 50, i);
        ASSERT_TRUE(client.write_all(msg));
        sent.append(as_string(msg));
        const std::size_t owed = sent.size() / 4 * 4;
        if (owed > got) {
            ASSERT_EQ(as_string(client.read_exact(owed - got)), sent.substr(got, owed - got)) << "message " << i;
            got = owed;
        }
    }
    client.close();
    server->stop();
}

TEST(ConnectionRead, a_handler_that_releases_and_refills_the_buffer_does_not_shrink_later_reads) {
    // release() frees the scratch's chunk; append() then takes a small heap chunk (which
    // may land at the same address). A later read must not trust the old capacity.
    auto server = start_server([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.release();
        in.append(std::as_bytes(std::span("x", 1)));
        in.consume_all();
    });
    BlockingClient client(server->local_addr());
    for (unsigned i = 0; i < 50; ++i) {
        const auto msg = pattern(1000 + i * 997 % 20'000, i);
        ASSERT_TRUE(client.write_all(msg));
        ASSERT_EQ(client.read_exact(msg.size()), msg) << "message " << i;
    }
    client.close();
    server->stop();
}

TEST(ConnectionRead, a_handler_that_moves_a_pooled_buffer_in_gives_its_chunk_back_and_keeps_its_bytes) {
    BufferPool pool;  // used on the reactor thread only; outlives the server
    auto server = start_server([&pool](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        Buffer mine(&pool);
        mine.append(std::as_bytes(std::span("!", 1)));
        in = std::move(mine);  // "!" is left over: it comes first in the next call
    });
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("ab"));
    EXPECT_EQ(as_string(client.read_exact(2)), "ab");
    ASSERT_TRUE(client.write_all("cd"));
    EXPECT_EQ(as_string(client.read_exact(3)), "!cd");
    ASSERT_TRUE(client.write_all("ef"));
    EXPECT_EQ(as_string(client.read_exact(3)), "!ef");
    client.close();
    server->stop();
}

// HandlerSetup::on_data takes any callable; an empty one discards the input.
void plain_echo(Connection& conn, Buffer& in) {
    conn.send(in.readable());
    in.consume_all();
}

TEST(ConnectionRead, on_data_accepts_a_function_pointer_and_an_empty_callable_discards_input) {
    for (int variant = 0; variant < 3; ++variant) {
        SCOPED_TRACE(variant);
        TcpServerOptions opts;
        opts.reactors = 1;
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
        std::atomic<int> opened{0};
        server->on_open([&](Connection&) { opened.fetch_add(1); });
        if (variant == 0) server->on_data(&plain_echo);
        if (variant == 1) server->on_data(nullptr);
        if (variant == 2) {
            server->on_data(&plain_echo);
            server->on_data(OnDataCallback{});  // replaces the echo with "discard"
        }
        ASSERT_TRUE(server->start());
        BlockingClient client(server->local_addr(), 300ms);
        ASSERT_TRUE(client.write_all("ping"));
        if (variant == 0) {
            EXPECT_EQ(as_string(client.read_exact(4)), "ping");
        } else {
            ASSERT_TRUE(pollux::test::eventually([&] { return server->metrics().snapshot().total.bytes_in == 4; }));
            EXPECT_TRUE(client.read_exact(1).empty()) << "input must be discarded, not echoed";
            EXPECT_EQ(opened.load(), 1);
        }
        client.close();
        server->stop();
    }
}
