// net/tests/tcp_listener_test.cpp — TcpListener: bind, accept, readiness, flags,
// reuseport, ownership and registration checks. Loopback only.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/net/tcp_listener.hpp"
#include "socket_ops.hpp"
#include "support/expect_events.hpp"
#include "support/tcp_support.hpp"

namespace pollux::net {
namespace {

using test::expect_events;
using test::expect_no_events;
using test::PollFixture;

constexpr Token kListener{1};

bool nonblocking(int fd) { return ops::is_nonblocking(fd).value_or(false); }
bool cloexec(int fd) { return ops::is_cloexec(fd).value_or(false); }

TEST(TcpListener, bind_to_port_zero_picks_a_port_and_local_addr_reports_it) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4());
    ASSERT_TRUE(listener) << listener.error().message();
    auto addr = listener->local_addr();
    ASSERT_TRUE(addr);
    EXPECT_TRUE(addr->is_ipv4());
    EXPECT_EQ(addr->ipv4(), Ipv4Addr::loopback());
    EXPECT_NE(addr->port(), 0);
}

TEST(TcpListener, is_nonblocking_and_cloexec) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    EXPECT_TRUE(nonblocking(listener.fd()));
    EXPECT_TRUE(cloexec(listener.fd()));
}

TEST(TcpListener, accept_with_nothing_queued_is_would_block) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto accepted = listener.accept();
    ASSERT_FALSE(accepted);
    EXPECT_TRUE(is_would_block(accepted.error())) << accepted.error().message();
    EXPECT_TRUE(is_would_block(listener.accept_stream()));
}

TEST(TcpListener, becomes_readable_on_connect_and_accept_drains_exactly_the_queue_then_would_block) {
    PollFixture f;
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    ASSERT_TRUE(f.poll.registry().register_source(listener, kListener, Interest::READABLE));
    expect_no_events(f.poll, f.events);

    const auto addr = listener.local_addr().value();
    std::vector<TcpStream> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(TcpStream::connect(addr).value());

    expect_events(f.poll, f.events, {{kListener, Interest::READABLE}});

    // The three handshakes may complete after the first event; retry a WouldBlock
    // (bounded) until three are in, then the queue must be empty.
    int accepted = 0;
    for (int tries = 0; accepted < 3 && tries < 5000; ++tries) {
        auto r = listener.accept();
        if (r) {
            ++accepted;
            continue;
        }
        ASSERT_TRUE(is_would_block(r.error())) << r.error().message();
        usleep(1000);
    }
    EXPECT_EQ(accepted, 3);
    auto fourth = listener.accept();
    ASSERT_FALSE(fourth);
    EXPECT_TRUE(is_would_block(fourth.error()));
}

TEST(TcpListener, accepted_streams_are_nonblocking_and_cloexec) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto client = TcpStream::connect(listener.local_addr().value()).value();
    auto accepted = test::retry_while_would_block([&] { return listener.accept(); });
    ASSERT_TRUE(accepted) << accepted.error().message();
    EXPECT_TRUE(nonblocking(accepted->first.fd()));
    EXPECT_TRUE(cloexec(accepted->first.fd()));

    auto client2 = TcpStream::connect(listener.local_addr().value()).value();
    auto stream = test::retry_while_would_block([&] { return listener.accept_stream(); });
    ASSERT_TRUE(stream) << stream.error().message();
    EXPECT_TRUE(nonblocking(stream->fd()));
    EXPECT_TRUE(cloexec(stream->fd()));
}

TEST(TcpListener, accept_returns_the_clients_address) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto client = TcpStream::connect(listener.local_addr().value()).value();
    auto accepted = test::retry_while_would_block([&] { return listener.accept(); });
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->second, client.local_addr().value());
    EXPECT_EQ(accepted->first.peer_addr().value(), client.local_addr().value());
    EXPECT_EQ(accepted->first.local_addr().value(), listener.local_addr().value());
}

TEST(TcpListener, bind_to_an_address_in_use_is_eaddrinuse) {
    auto first = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto second = TcpListener::bind(first.local_addr().value());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), std::errc::address_in_use) << second.error().message();
}

TEST(TcpListener, bind_reuseport_next_to_a_plain_listener_is_eaddrinuse) {
    auto plain = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto shared = TcpListener::bind_reuseport(plain.local_addr().value());
    ASSERT_FALSE(shared);
    EXPECT_EQ(shared.error(), std::errc::address_in_use);
}

TEST(TcpListener, bind_reuseport_lets_two_listeners_share_a_port_and_both_accept_between_them) {
    auto a = TcpListener::bind_reuseport(SocketAddr::loopback_v4());
    ASSERT_TRUE(a) << a.error().message();
    const auto addr = a->local_addr().value();
    auto b = TcpListener::bind_reuseport(addr);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->local_addr().value(), addr);

    // The kernel hashes each connection to one of the two; together they see all.
    constexpr int kClients = 8;
    std::vector<TcpStream> clients;
    for (int i = 0; i < kClients; ++i) clients.push_back(TcpStream::connect(addr).value());
    int accepted = 0;
    for (int tries = 0; accepted < kClients && tries < 5000; ++tries) {
        bool got = false;
        for (const TcpListener* l : {&*a, &*b}) {
            if (auto s = l->accept_stream()) {
                ++accepted;
                got = true;
            }
        }
        if (!got) usleep(1000);
    }
    EXPECT_EQ(accepted, kClients);
}

TEST(TcpListener, ipv6_loopback_binds_and_accepts) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v6());
    if (!listener && listener.error() == std::errc::address_not_available) {
        GTEST_SKIP() << "no ::1 on this machine (EADDRNOTAVAIL)";
    }
    ASSERT_TRUE(listener) << listener.error().message();
    const auto addr = listener->local_addr().value();
    EXPECT_TRUE(addr.is_ipv6());
    EXPECT_EQ(addr.ipv6(), Ipv6Addr::loopback());

    auto client = TcpStream::connect(addr).value();
    auto accepted = test::retry_while_would_block([&] { return listener->accept(); });
    ASSERT_TRUE(accepted) << accepted.error().message();
    EXPECT_TRUE(accepted->second.is_ipv6());
    EXPECT_EQ(accepted->second, client.local_addr().value());
}

TEST(TcpListener, set_ttl_round_trips_and_rejects_values_above_255) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    ASSERT_TRUE(listener.set_ttl(42));
    EXPECT_EQ(listener.ttl().value(), 42u);
    auto bad = listener.set_ttl(256);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), std::errc::invalid_argument);
    EXPECT_EQ(listener.ttl().value(), 42u);
}

TEST(TcpListener, accepted_streams_inherit_the_listeners_ttl) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    ASSERT_TRUE(listener.set_ttl(33));
    auto client = TcpStream::connect(listener.local_addr().value()).value();
    auto accepted = test::retry_while_would_block([&] { return listener.accept_stream(); });
    ASSERT_TRUE(accepted) << accepted.error().message();
    EXPECT_EQ(accepted->ttl().value(), 33u);
    EXPECT_NE(client.ttl().value(), 33u);
}

TEST(TcpListener, take_error_is_empty_on_a_healthy_listener) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto err = listener.take_error();
    ASSERT_TRUE(err);
    EXPECT_FALSE(err->has_value());
}

TEST(TcpListener, moved_from_and_default_listeners_return_ebadf_from_every_call) {
    auto original = TcpListener::bind(SocketAddr::loopback_v4()).value();
    TcpListener moved = std::move(original);
    EXPECT_TRUE(moved.local_addr());

    PollFixture f;
    TcpListener empty;
    for (TcpListener* l : {&original, &empty}) {
        EXPECT_EQ(l->fd(), -1);
        EXPECT_EQ(l->accept().error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->accept_stream().error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->local_addr().error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->set_ttl(1).error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->ttl().error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->set_nonblocking(true).error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(l->take_error().error(), std::errc::bad_file_descriptor);
        EXPECT_EQ(f.poll.registry().register_source(*l, kListener, Interest::READABLE).error(),
                  std::errc::bad_file_descriptor);
        EXPECT_FALSE(l->into_fd().is_open());
    }
}

TEST(TcpListener, registering_twice_is_already_registered_and_deregister_allows_it_again) {
    PollFixture f;
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    const auto& registry = f.poll.registry();
    ASSERT_TRUE(registry.register_source(listener, kListener, Interest::READABLE));
    auto again = registry.register_source(listener, kListener, Interest::READABLE);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), Errc::already_registered);
    ASSERT_TRUE(registry.deregister(listener));
    EXPECT_TRUE(registry.register_source(listener, kListener, Interest::READABLE));
    EXPECT_TRUE(registry.deregister(listener));
}

TEST(TcpListener, into_fd_gives_the_fd_away_and_from_fd_adopts_it) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    const auto addr = listener.local_addr().value();
    const int raw = listener.fd();
    OwnedFd fd = listener.into_fd();
    EXPECT_EQ(fd.get(), raw);
    EXPECT_EQ(listener.fd(), -1);
    EXPECT_EQ(listener.local_addr().error(), std::errc::bad_file_descriptor);

    auto adopted = TcpListener::from_fd(std::move(fd));
    EXPECT_EQ(adopted.fd(), raw);
    EXPECT_EQ(adopted.local_addr().value(), addr);
    EXPECT_TRUE(is_would_block(adopted.accept()));
}

TEST(TcpListener, from_fd_of_a_blocking_listener_works_with_poll_after_set_nonblocking) {
    OwnedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.is_open());
    const auto any = SocketAddr::loopback_v4();
    ASSERT_EQ(::bind(fd.get(), any.as_sockaddr(), any.len()), 0);
    ASSERT_EQ(::listen(fd.get(), 16), 0);

    auto listener = TcpListener::from_fd(std::move(fd));
    EXPECT_FALSE(nonblocking(listener.fd()));  // from_fd leaves the flags alone
    ASSERT_TRUE(listener.set_nonblocking(true));
    EXPECT_TRUE(nonblocking(listener.fd()));
    EXPECT_TRUE(is_would_block(listener.accept()));

    PollFixture f;
    ASSERT_TRUE(f.poll.registry().register_source(listener, kListener, Interest::READABLE));
    auto client = TcpStream::connect(listener.local_addr().value()).value();
    expect_events(f.poll, f.events, {{kListener, Interest::READABLE}});
    auto accepted = test::retry_while_would_block([&] { return listener.accept(); });
    EXPECT_TRUE(accepted) << accepted.error().message();
}

}  // namespace
}  // namespace pollux::net
