// net/tests/tcp_stream_test.cpp — TcpStream: non-blocking connect, read/write and
// their readiness, peek, vectored I/O, ownership and registration. Shutdown, reset
// and SIGPIPE are in tcp_stream_shutdown_test.cpp, socket options in
// tcp_stream_options_test.cpp. Loopback only.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "socket_ops.hpp"
#include "support/expect_events.hpp"
#include "support/tcp_support.hpp"

namespace pollux::net {
namespace {

using test::as_bytes;
using test::expect_events;
using test::expect_no_events;
using test::PollFixture;
using test::wait_for_event;

constexpr Token kClient{1};
constexpr Token kServer{2};

std::span<std::byte> bytes_of(std::string& s) { return std::as_writable_bytes(std::span(s)); }

// A port that refuses connections for the life of the returned fd: bound, never
// listening, so nobody else can take it meanwhile.
OwnedFd bound_not_listening(SocketAddr& addr) {
    OwnedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const auto any = SocketAddr::loopback_v4();
    EXPECT_EQ(::bind(fd.get(), any.as_sockaddr(), any.len()), 0);
    addr = ops::local_addr(fd.get()).value();
    return fd;
}

TEST(TcpStream, connect_returns_a_nonblocking_cloexec_stream) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    auto client = TcpStream::connect(listener.local_addr().value());
    ASSERT_TRUE(client) << client.error().message();
    EXPECT_TRUE(ops::is_nonblocking(client->fd()).value());
    EXPECT_TRUE(ops::is_cloexec(client->fd()).value());
}

TEST(TcpStream, connect_to_a_closed_port_gives_an_error_event_and_take_error_reports_econnrefused) {
    SocketAddr closed;
    OwnedFd holder = bound_not_listening(closed);
    PollFixture f;
    auto client = TcpStream::connect(closed);
    ASSERT_TRUE(client) << "a non-blocking connect reports refusal later: " << client.error().message();
    ASSERT_TRUE(f.poll.registry().register_source(*client, kClient, Interest::WRITABLE | Interest::READABLE));

    auto ev = wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_writable() || e.is_error(); });
    ASSERT_TRUE(ev) << "no event for the refused connect";
    EXPECT_TRUE(ev->is_error()) << *ev;
    EXPECT_TRUE(ev->is_write_closed()) << *ev;

    auto err = client->take_error();
    ASSERT_TRUE(err);
    ASSERT_TRUE(err->has_value());
    EXPECT_EQ(**err, std::errc::connection_refused) << err->value().message();
    // SO_ERROR is cleared by the read.
    EXPECT_FALSE(client->take_error().value().has_value());
}

TEST(TcpStream, connect_recipe_writable_then_no_error_then_peer_addr_means_connected) {
    PollFixture f;
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    const auto addr = listener.local_addr().value();
    auto client = TcpStream::connect(addr).value();
    ASSERT_TRUE(f.poll.registry().register_source(client, kClient, Interest::WRITABLE));

    // Steps 3-5, looping on a spurious event (ENOTCONN) as the recipe says.
    bool connected = false;
    for (int round = 0; round < 50 && !connected; ++round) {
        auto ev = wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_writable(); },
                                 std::chrono::milliseconds(200));
        if (!ev) continue;
        auto err = client.take_error();
        ASSERT_TRUE(err);
        ASSERT_FALSE(err->has_value()) << err->value().message();
        auto peer = client.peer_addr();
        if (!peer) {
            ASSERT_EQ(peer.error(), std::errc::not_connected) << peer.error().message();
            continue;
        }
        EXPECT_EQ(*peer, addr);
        connected = true;
    }
    EXPECT_TRUE(connected);
    EXPECT_TRUE(client.write(as_bytes("hi")));
}

TEST(TcpStream, ipv6_loopback_connects_and_carries_data) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v6());
    if (!listener && listener.error() == std::errc::address_not_available) {
        GTEST_SKIP() << "no ::1 on this machine (EADDRNOTAVAIL)";
    }
    ASSERT_TRUE(listener) << listener.error().message();
    auto client = TcpStream::connect(listener->local_addr().value()).value();
    auto server = test::retry_while_would_block([&] { return listener->accept_stream(); });
    ASSERT_TRUE(server) << server.error().message();

    EXPECT_TRUE(client.peer_addr().value().is_ipv6());
    ASSERT_TRUE(test::write_all(client, as_bytes("over v6")));
    EXPECT_EQ(test::read_exactly(*server, 7), "over v6");
    // ttl maps to IPV6_UNICAST_HOPS on an IPv6 socket.
    ASSERT_TRUE(client.set_ttl(9));
    EXPECT_EQ(client.ttl().value(), 9u);
}

TEST(TcpStream, read_with_nothing_queued_is_would_block) {
    auto pair = test::make_tcp_pair().value();
    std::array<std::byte, 16> buf{};
    auto r = pair.client.read(buf);
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_would_block(r.error())) << r.error().message();
}

TEST(TcpStream, readable_event_then_read_until_would_block_gets_everything) {
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::READABLE));
    expect_no_events(f.poll, f.events);

    const std::string payload(100'000, 'x');
    ASSERT_TRUE(test::write_all(pair.server, as_bytes(payload)));
    expect_events(f.poll, f.events, {{kClient, Interest::READABLE}});

    // Drain until WouldBlock after each event, as an edge-triggered reader must.
    std::size_t total = 0;
    std::array<std::byte, 4096> buf{};
    for (int rounds = 0; total < payload.size() && rounds < 100; ++rounds) {
        for (;;) {
            auto r = pair.client.read(buf);
            if (!r) {
                ASSERT_TRUE(is_would_block(r.error())) << r.error().message();
                break;
            }
            ASSERT_NE(*r, 0u) << "unexpected EOF";
            total += *r;
        }
        if (total < payload.size()) {
            ASSERT_TRUE(wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_readable(); }));
        }
    }
    EXPECT_EQ(total, payload.size());
}

TEST(TcpStream, write_until_would_block_then_writable_again_after_the_peer_drains) {
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(pair.client.set_send_buffer_size(16 * 1024));
    ASSERT_TRUE(pair.server.set_recv_buffer_size(16 * 1024));
    ASSERT_TRUE(f.poll.registry().register_source(pair.client, kClient, Interest::WRITABLE));
    expect_events(f.poll, f.events, {{kClient, Interest::WRITABLE}});

    const std::vector<std::byte> chunk(8192, std::byte{'w'});
    std::size_t written = 0;
    bool blocked = false;
    for (int i = 0; i < 10'000 && !blocked; ++i) {
        auto r = pair.client.write(chunk);
        if (r) {
            written += *r;
        } else {
            ASSERT_TRUE(is_would_block(r.error())) << r.error().message();
            blocked = true;
        }
    }
    ASSERT_TRUE(blocked) << "never hit WouldBlock after " << written << " bytes";

    // Drain the peer (more arrives while we read, as the sender's queue flushes)
    // until the writer is told it may write again.
    std::size_t drained = 0;
    std::optional<Event> writable;
    std::vector<std::byte> buf(65536);
    for (int round = 0; round < 100 && !writable; ++round) {
        for (;;) {
            auto r = pair.server.read(buf);
            if (!r || *r == 0) break;
            drained += *r;
        }
        writable = wait_for_event(f.poll, f.events, kClient, [](const Event& e) { return e.is_writable(); },
                                  std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(writable) << "no writable event after draining " << drained << " of " << written;
    EXPECT_TRUE(pair.client.write(chunk));
}

TEST(TcpStream, peek_returns_data_without_consuming_it) {
    auto pair = test::make_tcp_pair().value();
    ASSERT_TRUE(test::write_all(pair.server, as_bytes("peekaboo")));

    std::string peeked(8, '\0');
    auto p = test::retry_while_would_block([&] { return pair.client.peek(bytes_of(peeked)); });
    ASSERT_TRUE(p) << p.error().message();
    // Loopback delivers the one segment whole; peek again returns the same bytes.
    ASSERT_EQ(*p, 8u);
    EXPECT_EQ(peeked, "peekaboo");
    std::string again(8, '\0');
    ASSERT_EQ(pair.client.peek(bytes_of(again)).value(), 8u);
    EXPECT_EQ(again, "peekaboo");

    EXPECT_EQ(test::read_exactly(pair.client, 8), "peekaboo");
    EXPECT_TRUE(is_would_block(pair.client.peek(bytes_of(again))));
}

TEST(TcpStream, vectored_write_and_read_span_three_buffers_in_order) {
    auto pair = test::make_tcp_pair().value();
    const std::array<IoSlice, 3> out{as_bytes("one-"), as_bytes("two-"), as_bytes("three")};
    auto n = pair.client.write_vectored(out);
    ASSERT_TRUE(n) << n.error().message();
    ASSERT_EQ(*n, 13u);

    std::string a(3, '\0'), b(5, '\0'), c(5, '\0');
    std::array<IoSliceMut, 3> in{bytes_of(a), bytes_of(b), bytes_of(c)};
    std::size_t got = 0;
    for (int i = 0; i < 5000 && got == 0; ++i) {
        auto r = pair.server.read_vectored(in);
        if (r) {
            got = *r;
        } else {
            ASSERT_TRUE(is_would_block(r.error())) << r.error().message();
            usleep(1000);
        }
    }
    ASSERT_EQ(got, 13u);
    EXPECT_EQ(a, "one");
    EXPECT_EQ(b, "-two-");
    EXPECT_EQ(c, "three");
}

TEST(TcpStream, vectored_io_with_more_than_iov_max_slices_is_a_partial_transfer_not_an_error) {
    auto pair = test::make_tcp_pair().value();
    const std::string bytes(2 * IOV_MAX, 'v');
    std::vector<IoSlice> out;
    for (std::size_t i = 0; i < bytes.size(); ++i) out.emplace_back(as_bytes(std::string_view(bytes).substr(i, 1)));
    auto n = pair.client.write_vectored(out);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_GT(*n, 0u);
    EXPECT_LE(*n, static_cast<std::size_t>(IOV_MAX));
    ASSERT_EQ(test::read_exactly(pair.server, *n).size(), *n);
    ASSERT_TRUE(test::write_all(pair.client, as_bytes("end")));

    std::string sink(2 * IOV_MAX, '\0');
    std::vector<IoSliceMut> in;
    for (std::size_t i = 0; i < sink.size(); ++i) in.emplace_back(std::span<std::byte>(bytes_of(sink).subspan(i, 1)));
    auto r = test::retry_while_would_block([&] { return pair.server.read_vectored(in); });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 3u);
    EXPECT_EQ(sink.substr(0, 3), "end");
}

TEST(TcpStream, take_error_is_empty_on_a_healthy_stream) {
    auto pair = test::make_tcp_pair().value();
    auto err = pair.client.take_error();
    ASSERT_TRUE(err);
    EXPECT_FALSE(err->has_value());
}

TEST(TcpStream, local_and_peer_addr_mirror_each_other) {
    auto pair = test::make_tcp_pair().value();
    EXPECT_EQ(pair.client.peer_addr().value(), pair.listener.local_addr().value());
    EXPECT_EQ(pair.client.local_addr().value(), pair.server.peer_addr().value());
    EXPECT_EQ(pair.server.local_addr().value(), pair.listener.local_addr().value());
}

TEST(TcpStream, from_fd_of_a_blocking_socket_works_with_poll_after_set_nonblocking) {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
    const auto addr = listener.local_addr().value();
    OwnedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.is_open());
    ASSERT_EQ(::connect(fd.get(), addr.as_sockaddr(), addr.len()), 0);  // blocking connect
    auto server = test::retry_while_would_block([&] { return listener.accept_stream(); }).value();

    auto stream = TcpStream::from_fd(std::move(fd));
    EXPECT_FALSE(ops::is_nonblocking(stream.fd()).value());  // from_fd leaves flags alone
    ASSERT_TRUE(stream.set_nonblocking(true));
    EXPECT_TRUE(ops::is_nonblocking(stream.fd()).value());
    EXPECT_EQ(stream.peer_addr().value(), addr);

    PollFixture f;
    ASSERT_TRUE(f.poll.registry().register_source(stream, kClient, Interest::READABLE));
    std::array<std::byte, 16> buf{};
    EXPECT_TRUE(is_would_block(stream.read(buf)));  // would hang if still blocking
    ASSERT_TRUE(test::write_all(server, as_bytes("adopted")));
    expect_events(f.poll, f.events, {{kClient, Interest::READABLE}});
    auto n = stream.read(buf);
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), *n), "adopted");
}

TEST(TcpStream, into_fd_gives_the_fd_away_and_leaves_the_stream_empty) {
    auto pair = test::make_tcp_pair().value();
    const int raw = pair.client.fd();
    OwnedFd fd = pair.client.into_fd();
    EXPECT_EQ(fd.get(), raw);
    EXPECT_EQ(pair.client.fd(), -1);
    EXPECT_EQ(pair.client.write(as_bytes("x")).error(), std::errc::bad_file_descriptor);
    auto back = TcpStream::from_fd(std::move(fd));
    EXPECT_TRUE(test::write_all(back, as_bytes("x")));
    EXPECT_EQ(test::read_exactly(pair.server, 1), "x");
}

TEST(TcpStream, moved_from_and_default_streams_return_ebadf_from_every_call) {
    auto pair = test::make_tcp_pair().value();
    TcpStream moved = std::move(pair.client);
    EXPECT_TRUE(moved.write(as_bytes("still works")));

    PollFixture f;
    TcpStream empty;
    std::array<std::byte, 4> buf{};
    std::array<IoSliceMut, 1> in{std::span<std::byte>(buf)};
    const std::array<IoSlice, 1> out{as_bytes("x")};
    constexpr auto ebadf = std::errc::bad_file_descriptor;
    for (TcpStream* s : {&pair.client, &empty}) {
        EXPECT_EQ(s->fd(), -1);
        EXPECT_EQ(s->read(buf).error(), ebadf);
        EXPECT_EQ(s->write(as_bytes("x")).error(), ebadf);
        EXPECT_EQ(s->read_vectored(in).error(), ebadf);
        EXPECT_EQ(s->write_vectored(out).error(), ebadf);
        EXPECT_EQ(s->peek(buf).error(), ebadf);
        EXPECT_EQ(s->shutdown(Shutdown::Both).error(), ebadf);
        EXPECT_EQ(s->peer_addr().error(), ebadf);
        EXPECT_EQ(s->local_addr().error(), ebadf);
        EXPECT_EQ(s->set_nodelay(true).error(), ebadf);
        EXPECT_EQ(s->nodelay().error(), ebadf);
        EXPECT_EQ(s->set_ttl(1).error(), ebadf);
        EXPECT_EQ(s->ttl().error(), ebadf);
        EXPECT_EQ(s->set_keepalive(true).error(), ebadf);
        EXPECT_EQ(s->keepalive().error(), ebadf);
        EXPECT_EQ(s->keepalive_options().error(), ebadf);
        EXPECT_EQ(s->set_send_buffer_size(1).error(), ebadf);
        EXPECT_EQ(s->send_buffer_size().error(), ebadf);
        EXPECT_EQ(s->set_recv_buffer_size(1).error(), ebadf);
        EXPECT_EQ(s->recv_buffer_size().error(), ebadf);
        EXPECT_EQ(s->set_linger(std::nullopt).error(), ebadf);
        EXPECT_EQ(s->linger().error(), ebadf);
        EXPECT_EQ(s->set_nonblocking(true).error(), ebadf);
        EXPECT_EQ(s->take_error().error(), ebadf);
        EXPECT_EQ(s->try_io([](int) -> Result<int> { return 1; }).error(), ebadf);
        EXPECT_EQ(f.poll.registry().register_source(*s, kClient, Interest::READABLE).error(), ebadf);
        EXPECT_EQ(f.poll.registry().deregister(*s).error(), ebadf);
        EXPECT_FALSE(s->into_fd().is_open());
    }
}

TEST(TcpStream, registering_twice_is_already_registered) {
    PollFixture f;
    auto pair = test::make_tcp_pair().value();
    const auto& registry = f.poll.registry();
    ASSERT_TRUE(registry.register_source(pair.client, kClient, Interest::READABLE));
    auto again = registry.register_source(pair.client, kServer, Interest::WRITABLE);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), Errc::already_registered);
    // reregister changes token and interest; the first registration stays usable.
    ASSERT_TRUE(registry.reregister(pair.client, kServer, Interest::WRITABLE));
    expect_events(f.poll, f.events, {{kServer, Interest::WRITABLE}});
    EXPECT_TRUE(registry.deregister(pair.client));
}

TEST(TcpStream, try_io_runs_user_io_on_the_fd) {
    auto pair = test::make_tcp_pair().value();
    auto n = pair.client.try_io([](int fd) -> Result<std::size_t> {
        const ssize_t r = ::send(fd, "raw", 3, MSG_NOSIGNAL);
        if (r < 0) return last_error();
        return static_cast<std::size_t>(r);
    });
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 3u);
    EXPECT_EQ(test::read_exactly(pair.server, 3), "raw");
}

}  // namespace
}  // namespace pollux::net
