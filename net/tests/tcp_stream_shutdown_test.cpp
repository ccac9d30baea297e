// net/tests/tcp_stream_shutdown_test.cpp — TcpStream half-close, full close and reset:
// what events say, what read/write return, and that no SIGPIPE is ever raised.
#include <array>
#include <string>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include "pollux/net/tcp_stream.hpp"
#include "support/expect_events.hpp"
#include "support/tcp_support.hpp"

namespace pollux::net {
namespace {

using test::as_bytes;
using test::PollFixture;
using test::wait_for_event;

constexpr Token kClient{1};

bool is_broken_pipe_or_reset(const std::error_code& ec) {
    return ec == std::errc::broken_pipe || ec == std::errc::connection_reset;
}

TEST(TcpStream, peer_shutdown_write_gives_read_closed_and_read_returns_zero_while_writes_still_work) {
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::READABLE));
    ASSERT_TRUE(pair.server.shutdown(Shutdown::Write));

    auto ev = wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_read_closed(); });
    ASSERT_TRUE(ev) << "no read-closed event after the peer's shutdown(Write)";
    EXPECT_TRUE(ev->is_readable()) << *ev;
    EXPECT_FALSE(ev->is_write_closed()) << *ev;

    std::array<std::byte, 16> buf{};
    auto n = pair.client.read(buf);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, 0u);
    EXPECT_EQ(pair.client.read(buf).value(), 0u) << "EOF stays EOF";

    // Half-close: our write side is still open and the peer can still read.
    ASSERT_TRUE(test::write_all(pair.client, as_bytes("reply")));
    EXPECT_EQ(test::read_exactly(pair.server, 5), "reply");
}

TEST(TcpStream, local_shutdown_write_gives_the_peer_eof_and_later_writes_fail_with_epipe_without_sigpipe) {
    test::SigpipeCounter sigpipe;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(test::write_all(pair.client, as_bytes("last")));
    ASSERT_TRUE(pair.client.shutdown(Shutdown::Write));

    EXPECT_EQ(test::read_exactly(pair.server, 4), "last");
    std::array<std::byte, 8> buf{};
    auto eof = test::retry_while_would_block([&] { return pair.server.read(buf); });
    ASSERT_TRUE(eof) << eof.error().message();
    EXPECT_EQ(*eof, 0u);

    auto w = pair.client.write(as_bytes("more"));
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error(), std::errc::broken_pipe) << w.error().message();
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(TcpStream, local_shutdown_read_gives_a_read_closed_event_and_read_returns_zero) {
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::READABLE));
    ASSERT_TRUE(pair.client.shutdown(Shutdown::Read));

    auto ev = wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_read_closed(); });
    ASSERT_TRUE(ev) << "no read-closed event after shutdown(Read)";
    std::array<std::byte, 8> buf{};
    auto n = pair.client.read(buf);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, 0u);
    // The write side is untouched.
    ASSERT_TRUE(test::write_all(pair.client, as_bytes("still")));
    EXPECT_EQ(test::read_exactly(pair.server, 5), "still");
}

TEST(TcpStream, local_shutdown_both_gives_read_and_write_closed) {
    test::SigpipeCounter sigpipe;
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::READABLE | Interest::WRITABLE));
    ASSERT_TRUE(pair.client.shutdown(Shutdown::Both));

    auto ev = wait_for_event(f.poll, f.events, kClient,
                             [](const Event& e) { return e.is_read_closed() && e.is_write_closed(); });
    ASSERT_TRUE(ev) << "no read+write-closed event after shutdown(Both)";
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(pair.client.read(buf).value(), 0u);
    auto w = pair.client.write(as_bytes("x"));
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error(), std::errc::broken_pipe);
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(TcpStream, shutdown_after_the_connection_was_reset_is_enotconn) {
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(pair.server.set_linger(std::chrono::seconds(0)));
    pair.server = TcpStream();
    std::array<std::byte, 8> buf{};
    auto r = test::retry_while_would_block([&] { return pair.client.read(buf); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_reset);
    // Nothing is left to shut down.
    auto s = pair.client.shutdown(Shutdown::Write);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), std::errc::not_connected) << s.error().message();
}

TEST(TcpStream, peer_reset_makes_read_fail_with_econnreset_and_raises_no_sigpipe) {
    test::SigpipeCounter sigpipe;
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::READABLE));
    // SO_LINGER 0 turns close into an abortive close: RST instead of FIN.
    ASSERT_TRUE(pair.server.set_linger(std::chrono::seconds(0)));
    pair.server = TcpStream();

    auto ev = wait_for_event(f.poll, f.events, kClient,
                             [](const Event& e) { return e.is_error() || e.is_read_closed(); });
    ASSERT_TRUE(ev) << "no event after the peer's reset";
    std::array<std::byte, 8> buf{};
    auto r = pair.client.read(buf);
    ASSERT_FALSE(r) << "read returned " << *r;
    EXPECT_EQ(r.error(), std::errc::connection_reset) << r.error().message();

    // The error is reported once; afterwards the dead connection's write is EPIPE.
    auto w = pair.client.write(as_bytes("x"));
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error(), std::errc::broken_pipe) << w.error().message();
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(TcpStream, peer_reset_makes_write_and_write_vectored_fail_with_econnreset_or_epipe_without_sigpipe) {
    test::SigpipeCounter sigpipe;
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::WRITABLE));
    ASSERT_TRUE(pair.server.set_linger(std::chrono::seconds(0)));
    pair.server = TcpStream();
    ASSERT_TRUE(wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_error(); }));

    auto first = pair.client.write(as_bytes("x"));
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error(), std::errc::connection_reset) << first.error().message();

    const std::array<IoSlice, 2> bufs{as_bytes("a"), as_bytes("b")};
    for (int i = 0; i < 3; ++i) {
        auto w = pair.client.write(as_bytes("x"));
        ASSERT_FALSE(w);
        EXPECT_EQ(w.error(), std::errc::broken_pipe) << w.error().message();
        auto wv = pair.client.write_vectored(bufs);
        ASSERT_FALSE(wv);
        EXPECT_EQ(wv.error(), std::errc::broken_pipe) << wv.error().message();
    }
    EXPECT_EQ(sigpipe.count(), 0) << "a send without MSG_NOSIGNAL raised SIGPIPE";
}

TEST(TcpStream, writing_to_a_closed_peer_ends_in_an_error_not_a_sigpipe) {
    test::SigpipeCounter sigpipe;
    auto pair = test::make_tcp_pair().value();
    pair.server = TcpStream();  // an orderly close: FIN, then RST for data that arrives

    std::error_code failed;
    for (int i = 0; i < 1000 && !failed; ++i) {
        auto w = pair.client.write(as_bytes("data after close"));
        if (!w && !is_would_block(w.error())) failed = w.error();
        if (!failed) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(failed) << "writes to a closed peer never failed";
    EXPECT_TRUE(is_broken_pipe_or_reset(failed)) << failed.message();
    EXPECT_EQ(sigpipe.count(), 0);
}

}  // namespace
}  // namespace pollux::net
