// Edge cases of TCP sockets on their own (T1): a TCP self-connect, and a deregistered
// listener that must stay silent while other events (a waker) keep the poll busy.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <string>

#include "pollux/core/core.hpp"
#include "pollux/core/waker.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "support/expect_events.hpp"
#include "support/tcp_support.hpp"

using namespace pollux;
using namespace std::chrono_literals;

// A socket bound to a loopback port and connected to that same port meets itself (TCP
// simultaneous open): connect succeeds with no listener anywhere, and what it writes it
// reads back. Nothing in the kernel refuses it; local_addr() == peer_addr() is how a
// client tells (muduo's isSelfConnect). On loopback an unlucky ephemeral port makes
// this happen to any client connecting to a port in the ephemeral range.
TEST(EdgeTcp, connect_to_its_own_port_is_a_self_connect_that_local_addr_equals_peer_addr_reveals) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);

    auto stream = net::TcpStream::from_fd(OwnedFd(fd));
    auto poll = Poll::create().value();
    auto events = Events::with_capacity(8);
    ASSERT_TRUE(poll.registry().register_source(stream, Token(1), Interest::WRITABLE));
    ASSERT_TRUE(test::wait_for_event(poll, events, Token(1), [](const Event& e) { return e.is_writable(); }));
    const auto err = stream.take_error();
    ASSERT_TRUE(err);
    EXPECT_FALSE(err->has_value()) << (*err)->message();

    const auto local = stream.local_addr();
    const auto peer = stream.peer_addr();
    ASSERT_TRUE(local && peer);
    EXPECT_EQ(*local, *peer);
    ASSERT_TRUE(test::write_all(stream, test::as_bytes("echo of myself")));
    EXPECT_EQ(test::read_exactly(stream, 14), "echo of myself");
}

// mio's regression issue_1205: after deregister, a listener with connections queued
// gives no event, even while a waker on the same poll fires again and again.
TEST(EdgeTcp, deregistered_listener_gives_no_event_while_a_waker_fires) {
    auto poll = Poll::create().value();
    auto events = Events::with_capacity(16);
    auto listener = net::TcpListener::bind(net::SocketAddr::loopback_v4()).value();
    auto waker = Waker::create(poll.registry(), Token(9)).value();
    ASSERT_TRUE(poll.registry().register_source(listener, Token(1), Interest::READABLE));
    ASSERT_TRUE(poll.registry().deregister(listener));

    auto client = net::TcpStream::connect(listener.local_addr().value()).value();
    for (int round = 0; round < 20; ++round) {
        ASSERT_TRUE(waker.wake());
        ASSERT_TRUE(poll.poll(events, 50ms));
        bool woke = false;
        for (const Event& ev : events) {
            EXPECT_NE(ev.token(), Token(1)) << "event for a deregistered listener in round " << round;
            woke = woke || ev.token() == Token(9);
        }
        EXPECT_TRUE(woke);
    }
    // The connection was queued all along: the listener itself works.
    auto accepted = test::retry_while_would_block([&] { return listener.accept(); });
    EXPECT_TRUE(accepted.has_value());
}
