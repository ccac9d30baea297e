// net/tests/udp_socket_test.cpp — UdpSocket: single-datagram I/O, connected UDP, errors,
// options, fd handling and registration. Batches: udp_batch_test.cpp; multicast:
// udp_multicast_test.cpp. Loopback only.
#include "pollux/net/udp_socket.hpp"

#include <poll.h>

#include <array>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "socket_ops.hpp"
#include "support/expect_events.hpp"

namespace pollux::net {
namespace {

using pollux::test::as_bytes;
using pollux::test::expect_events;
using pollux::test::PollFixture;

UdpSocket bind_v4() { return UdpSocket::bind(SocketAddr::loopback_v4()).value(); }
SocketAddr addr_of(const UdpSocket& s) { return s.local_addr().value(); }

// Waits (bounded: 2 s) until `s` has a datagram queued.
void wait_readable(const UdpSocket& s) {
    ::pollfd p{s.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "no datagram within 2 s";
}

template <class T>
void expect_ebadf(const Result<T>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::errc::bad_file_descriptor);
}

std::string_view text(std::span<const std::byte> buf, std::size_t n) {
    return {reinterpret_cast<const char*>(buf.data()), n};
}

TEST(UdpSocket, send_to_and_recv_from_round_trip_with_peer_address) {
    auto a = bind_v4();
    auto b = bind_v4();
    ASSERT_EQ(a.send_to(as_bytes("hello"), addr_of(b)).value(), 5u);
    wait_readable(b);
    std::array<std::byte, 64> buf{};
    auto meta = b.recv_from(buf).value();
    EXPECT_EQ(meta.size, 5u);
    EXPECT_EQ(meta.full_size, 5u);
    EXPECT_FALSE(meta.truncated);
    EXPECT_EQ(meta.peer, addr_of(a));
    EXPECT_EQ(text(buf, meta.size), "hello");
}

TEST(UdpSocket, recv_from_with_nothing_queued_would_block) {
    auto s = bind_v4();
    std::array<std::byte, 16> buf{};
    auto r = s.recv_from(buf);
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_would_block(r.error())) << r.error().message();
}

TEST(UdpSocket, queued_datagram_gives_readable_event_and_drain_ends_in_would_block) {
    PollFixture f;
    auto a = bind_v4();
    auto b = bind_v4();
    ASSERT_TRUE(f.poll.registry().register_source(b, Token(1), Interest::READABLE));
    ASSERT_TRUE(a.send_to(as_bytes("x"), addr_of(b)));
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});
    std::array<std::byte, 16> buf{};
    EXPECT_TRUE(b.recv_from(buf));
    EXPECT_TRUE(is_would_block(b.recv_from(buf)));
    pollux::test::expect_no_events(f.poll, f.events);
    EXPECT_TRUE(f.poll.registry().deregister(b));
}

TEST(UdpSocket, fresh_socket_registered_writable_gets_writable_event) {
    PollFixture f;
    auto s = bind_v4();
    ASSERT_TRUE(f.poll.registry().register_source(s, Token(7), Interest::READABLE));
    pollux::test::expect_no_events(f.poll, f.events);
    ASSERT_TRUE(f.poll.registry().reregister(s, Token(8), Interest::WRITABLE));
    expect_events(f.poll, f.events, {{Token(8), Interest::WRITABLE}});
}

TEST(UdpSocket, peek_from_does_not_consume_the_datagram) {
    auto a = bind_v4();
    auto b = bind_v4();
    ASSERT_TRUE(a.send_to(as_bytes("peekaboo"), addr_of(b)));
    wait_readable(b);
    std::array<std::byte, 64> buf{};
    auto peeked = b.peek_from(buf).value();
    EXPECT_EQ(peeked.size, 8u);
    EXPECT_EQ(peeked.peer, addr_of(a));
    auto again = b.peek_from(buf).value();
    EXPECT_EQ(again.size, 8u);
    auto got = b.recv_from(buf).value();
    EXPECT_EQ(text(buf, got.size), "peekaboo");
    EXPECT_TRUE(is_would_block(b.recv_from(buf)));
}

TEST(UdpSocket, truncated_datagram_is_reported_and_next_recv_gets_the_next_datagram) {
    auto a = bind_v4();
    auto b = bind_v4();
    std::array<std::byte, 100> big{};
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i);
    ASSERT_EQ(a.send_to(big, addr_of(b)).value(), 100u);
    ASSERT_TRUE(a.send_to(as_bytes("next"), addr_of(b)));
    wait_readable(b);

    std::array<std::byte, 10> small{};
    auto peeked = b.peek_from(small).value();  // a peek reports truncation too
    EXPECT_TRUE(peeked.truncated);
    EXPECT_EQ(peeked.full_size, 100u);

    auto meta = b.recv_from(small).value();
    EXPECT_TRUE(meta.truncated);
    EXPECT_EQ(meta.size, 10u);
    EXPECT_EQ(meta.full_size, 100u);
    EXPECT_EQ(small[9], std::byte{9});

    auto next = b.recv_from(small).value();
    EXPECT_FALSE(next.truncated);
    EXPECT_EQ(next.full_size, 4u);
    EXPECT_EQ(text(small, next.size), "next");
}

TEST(UdpSocket, zero_byte_datagram_is_received_as_size_zero_with_peer) {
    auto a = bind_v4();
    auto b = bind_v4();
    ASSERT_EQ(a.send_to({}, addr_of(b)).value(), 0u);
    wait_readable(b);
    std::array<std::byte, 16> buf{};
    auto meta = b.recv_from(buf).value();
    EXPECT_EQ(meta.size, 0u);
    EXPECT_EQ(meta.full_size, 0u);
    EXPECT_FALSE(meta.truncated);
    EXPECT_EQ(meta.peer, addr_of(a));
    EXPECT_TRUE(is_would_block(b.recv_from(buf)));
}

TEST(UdpSocket, connected_send_and_recv_exchange_with_the_peer_and_filter_others) {
    auto a = bind_v4();
    auto b = bind_v4();
    auto stranger = bind_v4();
    ASSERT_TRUE(a.connect(addr_of(b)));
    ASSERT_TRUE(b.connect(addr_of(a)));
    EXPECT_EQ(a.peer_addr().value(), addr_of(b));

    ASSERT_TRUE(stranger.send_to(as_bytes("spam"), addr_of(b)));  // dropped by b's filter
    ASSERT_EQ(a.send(as_bytes("ping")).value(), 4u);
    wait_readable(b);
    std::array<std::byte, 16> buf{};
    auto meta = b.recv(buf).value();
    EXPECT_EQ(text(buf, meta.size), "ping");
    EXPECT_EQ(meta.peer, addr_of(a));
    EXPECT_TRUE(is_would_block(b.recv(buf)));

    ASSERT_TRUE(b.send(as_bytes("pong")));
    wait_readable(a);
    auto peeked = a.peek(buf).value();
    EXPECT_EQ(peeked.size, 4u);
    EXPECT_EQ(text(buf, a.recv(buf).value().size), "pong");
}

TEST(UdpSocket, send_on_unconnected_socket_fails_destination_address_required) {
    auto s = bind_v4();
    auto r = s.send(as_bytes("x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::destination_address_required);
    auto peer = s.peer_addr();
    ASSERT_FALSE(peer);
    EXPECT_EQ(peer.error(), std::errc::not_connected);
}

TEST(UdpSocket, connected_to_closed_port_surfaces_connection_refused_once_then_works) {
    SocketAddr closed;
    {
        auto gone = bind_v4();
        closed = addr_of(gone);
    }  // the port is now closed: the kernel answers with ICMP port unreachable
    PollFixture f;
    auto s = bind_v4();
    ASSERT_TRUE(f.poll.registry().register_source(s, Token(3), Interest::READABLE));
    ASSERT_TRUE(s.connect(closed));
    ASSERT_TRUE(s.send(as_bytes("anyone?")));

    // The ICMP error arrives asynchronously; it is announced by an event (EPOLLERR).
    std::array<std::byte, 16> buf{};
    Result<RecvMeta> r = std::unexpected(std::error_code{});
    for (int round = 0; round < 20; ++round) {
        ASSERT_TRUE(f.poll.poll(f.events, std::chrono::milliseconds(100)));
        r = s.recv(buf);
        if (!is_would_block(r)) break;
    }
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();

    // Reported once: the next calls see no error.
    EXPECT_TRUE(is_would_block(s.recv(buf)));
    EXPECT_FALSE(s.take_error().value().has_value());

    // The socket still works: reconnect to a live peer and exchange a datagram.
    auto live = bind_v4();
    ASSERT_TRUE(s.connect(addr_of(live)));
    ASSERT_TRUE(s.send(as_bytes("hi")));
    wait_readable(live);
    auto meta = live.recv_from(buf).value();
    EXPECT_EQ(text(buf, meta.size), "hi");
    EXPECT_EQ(meta.peer, addr_of(s));
}

TEST(UdpSocket, connection_refused_can_be_collected_with_take_error) {
    SocketAddr closed;
    {
        auto gone = bind_v4();
        closed = addr_of(gone);
    }
    auto s = bind_v4();
    ASSERT_TRUE(s.connect(closed));
    ASSERT_TRUE(s.send(as_bytes("x")));
    std::optional<std::error_code> err;
    for (int i = 0; i < 200 && !err; ++i) {  // at most ~2 s
        err = s.take_error().value();
        if (!err) ::poll(nullptr, 0, 10);
    }
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(*err, std::errc::connection_refused);
    EXPECT_FALSE(s.take_error().value().has_value());
    std::array<std::byte, 8> buf{};
    EXPECT_TRUE(is_would_block(s.recv(buf)));  // already collected: not reported again
}

TEST(UdpSocket, largest_ipv4_datagram_goes_through_and_one_more_byte_fails_emsgsize) {
    auto a = bind_v4();
    auto b = bind_v4();
    std::vector<std::byte> payload(65507 + 1, std::byte{0x5a});
    ASSERT_TRUE(b.set_recv_buffer_size(256 * 1024));

    auto too_big = a.send_to(payload, addr_of(b));
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error(), std::errc::message_size) << too_big.error().message();

    ASSERT_EQ(a.send_to(std::span(payload).first(65507), addr_of(b)).value(), 65507u);
    wait_readable(b);
    std::vector<std::byte> in(70000);
    auto meta = b.recv_from(in).value();
    EXPECT_EQ(meta.size, 65507u);
    EXPECT_FALSE(meta.truncated);
    EXPECT_TRUE(is_would_block(b.recv_from(in)));  // the oversized one never left
}

TEST(UdpSocket, ipv6_loopback_round_trip) {
    auto a = UdpSocket::bind(SocketAddr::loopback_v6()).value();
    auto b = UdpSocket::bind(SocketAddr::loopback_v6()).value();
    EXPECT_TRUE(addr_of(a).is_ipv6());
    ASSERT_TRUE(a.send_to(as_bytes("six"), addr_of(b)));
    wait_readable(b);
    std::array<std::byte, 16> buf{};
    auto meta = b.recv_from(buf).value();
    EXPECT_EQ(text(buf, meta.size), "six");
    EXPECT_EQ(meta.peer, addr_of(a));
    EXPECT_TRUE(meta.peer.is_ipv6());
}

TEST(UdpSocket, largest_ipv6_datagram_goes_through_and_one_more_byte_fails_emsgsize) {
    auto a = UdpSocket::bind(SocketAddr::loopback_v6()).value();
    auto b = UdpSocket::bind(SocketAddr::loopback_v6()).value();
    ASSERT_TRUE(b.set_recv_buffer_size(256 * 1024));
    std::vector<std::byte> payload(65527 + 1, std::byte{0x66});
    auto too_big = a.send_to(payload, addr_of(b));
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error(), std::errc::message_size) << too_big.error().message();
    ASSERT_EQ(a.send_to(std::span(payload).first(65527), addr_of(b)).value(), 65527u);
    wait_readable(b);
    std::vector<std::byte> in(70000);
    EXPECT_EQ(b.recv_from(in).value().size, 65527u);
}

TEST(UdpSocket, only_v6_option_is_applied_at_bind) {
    auto v6only = UdpSocket::bind(SocketAddr(Ipv6Addr::any(), 0), {.only_v6 = true}).value();
    EXPECT_TRUE(v6only.only_v6().value());
    auto dual = UdpSocket::bind(SocketAddr(Ipv6Addr::any(), 0), {.only_v6 = false}).value();
    EXPECT_FALSE(dual.only_v6().value());

    // A dual-stack socket receives IPv4 traffic (peer shown as ::ffff:127.0.0.1).
    auto v4 = bind_v4();
    ASSERT_TRUE(v4.send_to(as_bytes("mapped"), SocketAddr::loopback_v4(addr_of(dual).port())));
    wait_readable(dual);
    std::array<std::byte, 16> buf{};
    auto meta = dual.recv_from(buf).value();
    EXPECT_EQ(text(buf, meta.size), "mapped");
    EXPECT_TRUE(meta.peer.is_ipv6());
    EXPECT_EQ(meta.peer.port(), addr_of(v4).port());

    // A v6-only socket cannot reach IPv4 destinations.
    EXPECT_FALSE(v6only.send_to(as_bytes("x"), SocketAddr::loopback_v4(addr_of(v4).port())));

    auto r = UdpSocket::bind(SocketAddr::loopback_v4(), {.only_v6 = true});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
}

TEST(UdpSocket, reuse_port_lets_two_sockets_bind_the_same_port) {
    const UdpOptions opts{.reuse_port = true};
    auto first = UdpSocket::bind(SocketAddr::loopback_v4(), opts).value();
    const SocketAddr shared = addr_of(first);
    auto second = UdpSocket::bind(shared, opts);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(addr_of(*second), shared);

    auto plain = UdpSocket::bind(shared);
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error(), std::errc::address_in_use);
}

TEST(UdpSocket, option_setters_round_trip) {
    auto s = bind_v4();
    EXPECT_FALSE(s.broadcast().value());
    ASSERT_TRUE(s.set_broadcast(true));
    EXPECT_TRUE(s.broadcast().value());
    ASSERT_TRUE(s.set_broadcast(false));
    EXPECT_FALSE(s.broadcast().value());

    ASSERT_TRUE(s.set_ttl(42));
    EXPECT_EQ(s.ttl().value(), 42u);

    ASSERT_TRUE(s.set_send_buffer_size(64 * 1024));
    EXPECT_GE(s.send_buffer_size().value(), 64u * 1024);
    ASSERT_TRUE(s.set_recv_buffer_size(96 * 1024));
    EXPECT_GE(s.recv_buffer_size().value(), 96u * 1024);

    EXPECT_FALSE(s.take_error().value().has_value());
}

TEST(UdpSocket, socket_is_cloexec_and_nonblocking) {
    for (const SocketAddr& addr : {SocketAddr::loopback_v4(), SocketAddr::loopback_v6()}) {
        auto s = UdpSocket::bind(addr).value();
        EXPECT_TRUE(ops::is_cloexec(s.fd()).value());
        EXPECT_TRUE(ops::is_nonblocking(s.fd()).value());
    }
}

TEST(UdpSocket, moved_from_socket_returns_ebadf_from_every_call) {
    auto s = bind_v4();
    UdpSocket moved = std::move(s);
    EXPECT_GE(moved.fd(), 0);
    EXPECT_EQ(s.fd(), -1);  // NOLINT(bugprone-use-after-move): the point of the test

    std::array<std::byte, 8> buf{};
    expect_ebadf(s.send_to(as_bytes("x"), addr_of(moved)));
    expect_ebadf(s.recv_from(buf));
    expect_ebadf(s.peek_from(buf));
    expect_ebadf(s.connect(addr_of(moved)));
    expect_ebadf(s.send(as_bytes("x")));
    expect_ebadf(s.recv(buf));
    expect_ebadf(s.peek(buf));
    std::array<RecvSlot, 1> rs{};
    std::array<SendSlot, 1> ss{};
    expect_ebadf(s.recv_many(rs));
    expect_ebadf(s.send_many(ss));
    expect_ebadf(s.local_addr());
    expect_ebadf(s.peer_addr());
    expect_ebadf(s.set_broadcast(true));
    expect_ebadf(s.broadcast());
    expect_ebadf(s.set_ttl(1));
    expect_ebadf(s.ttl());
    expect_ebadf(s.only_v6());
    expect_ebadf(s.set_send_buffer_size(4096));
    expect_ebadf(s.recv_buffer_size());
    expect_ebadf(s.join_multicast_v4(Ipv4Addr{{239, 1, 2, 3}}, Ipv4Addr::loopback()));
    expect_ebadf(s.set_multicast_loop_v4(true));
    expect_ebadf(s.multicast_ttl_v4());
    expect_ebadf(s.take_error());

    PollFixture f;
    expect_ebadf(f.poll.registry().register_source(s, Token(1), Interest::READABLE));
    expect_ebadf(UdpSocket{}.send_to(as_bytes("x"), addr_of(moved)));
}

TEST(UdpSocket, registering_twice_gives_already_registered) {
    PollFixture f;
    auto s = bind_v4();
    ASSERT_TRUE(f.poll.registry().register_source(s, Token(1), Interest::READABLE));
    auto again = f.poll.registry().register_source(s, Token(2), Interest::READABLE);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), Errc::already_registered);
    ASSERT_TRUE(f.poll.registry().deregister(s));
    EXPECT_TRUE(f.poll.registry().register_source(s, Token(2), Interest::READABLE));
}

TEST(UdpSocket, into_fd_and_from_fd_keep_the_same_socket) {
    auto a = bind_v4();
    const SocketAddr addr = addr_of(a);
    OwnedFd fd = a.into_fd();
    EXPECT_EQ(a.fd(), -1);
    expect_ebadf(a.local_addr());

    auto b = UdpSocket::from_fd(std::move(fd));
    EXPECT_EQ(addr_of(b), addr);
    auto c = bind_v4();
    ASSERT_TRUE(c.send_to(as_bytes("again"), addr));
    wait_readable(b);
    std::array<std::byte, 16> buf{};
    EXPECT_EQ(text(buf, b.recv_from(buf).value().size), "again");
}

TEST(UdpSocket, one_socket_sends_on_one_thread_while_another_thread_receives) {
    auto s = bind_v4();
    auto peer = bind_v4();
    constexpr int kCount = 100;
    ASSERT_TRUE(s.set_recv_buffer_size(1 << 20));  // room for all of them: no drops
    ASSERT_TRUE(peer.set_recv_buffer_size(1 << 20));
    const SocketAddr to_peer = addr_of(peer);
    std::thread sender([&] {
        for (int i = 0; i < kCount; ++i) {
            auto r = s.send_to(as_bytes("out"), to_peer);
            for (int tries = 0; is_would_block(r) && tries < 1000; ++tries) {
                std::this_thread::yield();
                r = s.send_to(as_bytes("out"), to_peer);
            }
            EXPECT_TRUE(r);
        }
    });
    // Meanwhile this thread receives on the same socket what `peer` sends it.
    int received = 0;
    std::array<std::byte, 16> buf{};
    for (int i = 0; i < kCount; ++i) ASSERT_TRUE(peer.send_to(as_bytes("in"), addr_of(s)));
    for (int spins = 0; received < kCount && spins < 1000; ++spins) {
        auto meta = s.recv_from(buf);
        if (meta) {
            ++received;
            continue;
        }
        ASSERT_TRUE(is_would_block(meta.error())) << meta.error().message();
        ::pollfd p{s.fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
    }
    sender.join();
    EXPECT_EQ(received, kCount);
    int echoed = 0;
    for (int spins = 0; echoed < kCount && spins < 1000; ++spins) {
        if (peer.recv_from(buf)) {
            ++echoed;
        } else {
            ::pollfd p{peer.fd(), POLLIN, 0};
            ::poll(&p, 1, 10);
        }
    }
    EXPECT_EQ(echoed, kCount);
}

}  // namespace
}  // namespace pollux::net
