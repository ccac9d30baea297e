// net/tests/unix_datagram_test.cpp — UnixDatagram: pair and bound send/recv with
// events, sender addresses (pathname, abstract, unnamed), truncation, 0-byte
// datagrams, the socket file's mode and stale handling, EPIPE without SIGPIPE, fd
// flags, moved-from and registration rules.
#include "pollux/net/unix_datagram.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"
#include "support/unix_temp_dir.hpp"

namespace pollux::net {
namespace {

using test::as_bytes;
using test::expect_events;
using test::file_mode;

std::string to_string(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

UnixSocketAddr unique_abstract(std::string_view tag) {
    static std::atomic<int> counter{0};
    const std::string name = "pollux-dgram-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter.fetch_add(1));
    return UnixSocketAddr::from_abstract_name(name).value();
}

TEST(UnixDatagram, pair_send_gives_readable_event_and_recv_gets_the_datagram) {
    test::PollFixture f;
    auto [a, b] = UnixDatagram::pair().value();
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(a.fd()));
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(b.fd()));
    ASSERT_TRUE(f.poll.registry().register_source(b, Token(4), Interest::READABLE));
    ASSERT_EQ(a.send(as_bytes("one")).value(), 3u);
    ASSERT_EQ(a.send(as_bytes("two!")).value(), 4u);
    expect_events(f.poll, f.events, {{Token(4), Interest::READABLE}});

    std::array<std::byte, 16> buf{};
    auto first = b.recv(buf);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(to_string(std::span(buf).first(first->size)), "one");
    EXPECT_FALSE(first->truncated);
    auto second = b.recv(buf);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(to_string(std::span(buf).first(second->size)), "two!");
    EXPECT_TRUE(is_would_block(b.recv(buf)));
}

TEST(UnixDatagram, bound_pathname_recv_from_reports_the_senders_path_and_reply_reaches_it) {
    test::TempDir dir;
    const auto server_path = dir.path("srv.dgram");
    const auto client_path = dir.path("cli.dgram");
    auto server = UnixDatagram::bind(server_path).value();
    auto client = UnixDatagram::bind(client_path).value();
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(server.fd()));
    EXPECT_EQ(server.local_addr().value().as_pathname(), server_path);

    ASSERT_EQ(client.send_to(as_bytes("req"), server_path).value(), 3u);
    std::array<std::byte, 16> buf{};
    auto got = server.recv_from(buf);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(to_string(std::span(buf).first(got->size)), "req");
    EXPECT_EQ(got->peer.as_pathname(), client_path);

    ASSERT_EQ(server.send_to(as_bytes("rep"), got->peer).value(), 3u);
    auto reply = client.recv_from(buf);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(to_string(std::span(buf).first(reply->size)), "rep");
    EXPECT_EQ(reply->peer.as_pathname(), server_path);
}

TEST(UnixDatagram, unbound_sender_is_reported_as_unnamed) {
    test::TempDir dir;
    const auto path = dir.path("srv.dgram");
    auto server = UnixDatagram::bind(path).value();
    auto sender = UnixDatagram::unbound();
    ASSERT_TRUE(sender.has_value());
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(sender->fd()));
    EXPECT_TRUE(sender->local_addr().value().is_unnamed());
    ASSERT_EQ(sender->send_to(as_bytes("anon"), path).value(), 4u);
    std::array<std::byte, 16> buf{};
    auto got = server.recv_from(buf);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->size, 4u);
    EXPECT_TRUE(got->peer.is_unnamed()) << got->peer;
}

TEST(UnixDatagram, abstract_sender_is_reported_as_abstract_by_recv_from) {
    const auto server_addr = unique_abstract("srv");
    const auto client_addr = unique_abstract("cli");
    auto server = UnixDatagram::bind(server_addr).value();
    auto client = UnixDatagram::bind(client_addr).value();
    ASSERT_EQ(client.send_to(as_bytes("hi"), server_addr).value(), 2u);
    std::array<std::byte, 8> buf{};
    auto got = server.recv_from(buf);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->peer, client_addr);
}

TEST(UnixDatagram, truncation_is_reported_and_the_next_datagram_is_intact) {
    auto [a, b] = UnixDatagram::pair().value();
    const std::string big(100, 'b');
    ASSERT_EQ(a.send(as_bytes(big)).value(), 100u);
    ASSERT_EQ(a.send(as_bytes("next")).value(), 4u);

    std::array<std::byte, 10> small{};
    auto cut = b.recv_from(small);
    ASSERT_TRUE(cut.has_value());
    EXPECT_EQ(cut->size, 10u);
    EXPECT_EQ(cut->full_size, 100u);
    EXPECT_TRUE(cut->truncated);
    EXPECT_EQ(to_string(small), std::string(10, 'b'));

    auto next = b.recv(small);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(to_string(std::span(small).first(next->size)), "next");
    EXPECT_FALSE(next->truncated);
    EXPECT_EQ(next->full_size, 4u);
}

TEST(UnixDatagram, zero_byte_datagram_is_received_as_a_datagram) {
    test::PollFixture f;
    auto [a, b] = UnixDatagram::pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(b, Token(5), Interest::READABLE));
    ASSERT_EQ(a.send({}).value(), 0u);
    expect_events(f.poll, f.events, {{Token(5), Interest::READABLE}});
    std::array<std::byte, 4> buf{};
    auto got = b.recv(buf);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->size, 0u);
    EXPECT_FALSE(got->truncated);
    EXPECT_TRUE(is_would_block(b.recv(buf)));
}

TEST(UnixDatagram, connect_sets_the_default_peer_for_send) {
    test::TempDir dir;
    const auto path = dir.path("srv.dgram");
    auto server = UnixDatagram::bind(path).value();
    auto client = UnixDatagram::unbound().value();
    auto unconnected = client.send(as_bytes("x"));
    ASSERT_FALSE(unconnected.has_value());
    EXPECT_EQ(unconnected.error(), std::errc::not_connected);

    ASSERT_TRUE(client.connect(path));
    EXPECT_EQ(client.peer_addr().value().as_pathname(), path);
    ASSERT_EQ(client.send(as_bytes("hey")).value(), 3u);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(server.recv(buf).value().size, 3u);
}

TEST(UnixDatagram, send_to_missing_path_is_enoent) {
    test::TempDir dir;
    auto sock = UnixDatagram::unbound().value();
    auto sent = sock.send_to(as_bytes("x"), dir.path("nobody"));
    ASSERT_FALSE(sent.has_value());
    EXPECT_EQ(sent.error(), std::errc::no_such_file_or_directory);
}

TEST(UnixDatagram, send_after_shutdown_write_is_epipe_without_sigpipe) {
    test::SigpipeCounter sigpipe;
    auto [a, b] = UnixDatagram::pair().value();
    ASSERT_TRUE(a.shutdown(Shutdown::Write));
    auto sent = a.send(as_bytes("x"));
    ASSERT_FALSE(sent.has_value());
    EXPECT_EQ(sent.error(), std::errc::broken_pipe);
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(UnixDatagram, bound_socket_file_has_exactly_the_requested_mode_under_umask_zero) {
    test::UmaskGuard umask_zero(0);
    test::TempDir dir;
    for (const ::mode_t mode : {0600u, 0660u}) {
        const auto path = dir.path("m" + std::to_string(mode) + ".dgram");
        auto sock = UnixDatagram::bind(path, {.mode = mode});
        ASSERT_TRUE(sock.has_value()) << sock.error().message();
        EXPECT_EQ(file_mode(path), static_cast<int>(mode));
        EXPECT_EQ(sock->local_addr().value().as_pathname(), path);
    }
    EXPECT_EQ(::umask(0), 0u);
}

TEST(UnixDatagram, stale_file_is_address_in_use_unless_replace_stale_and_live_is_kept) {
    test::TempDir dir;
    const auto path = dir.path("s.dgram");
    { auto first = UnixDatagram::bind(path).value(); }  // closed: the file is stale
    auto refused = UnixDatagram::bind(path);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error(), std::errc::address_in_use);

    auto replaced = UnixDatagram::bind(path, {.replace_stale = true});
    ASSERT_TRUE(replaced.has_value()) << replaced.error().message();
    auto live_kept = UnixDatagram::bind(path, {.replace_stale = true});
    ASSERT_FALSE(live_kept.has_value());
    EXPECT_EQ(live_kept.error(), std::errc::address_in_use);
    auto sender = UnixDatagram::unbound().value();
    ASSERT_EQ(sender.send_to(as_bytes("ok"), path).value(), 2u);
    std::array<std::byte, 4> buf{};
    EXPECT_EQ(replaced->recv(buf).value().size, 2u);
}

TEST(UnixDatagram, moved_from_socket_returns_ebadf_from_every_call) {
    test::PollFixture f;
    auto [a, b] = UnixDatagram::pair().value();
    UnixDatagram moved = std::move(a);
    std::array<std::byte, 4> buf{};
    const auto ebadf = std::make_error_code(std::errc::bad_file_descriptor);
    const auto to = UnixSocketAddr::from_abstract_name("x").value();
    EXPECT_EQ(a.fd(), -1);
    EXPECT_EQ(a.send(as_bytes("x")).error(), ebadf);
    EXPECT_EQ(a.send_to(as_bytes("x"), to).error(), ebadf);
    EXPECT_EQ(a.recv(buf).error(), ebadf);
    EXPECT_EQ(a.recv_from(buf).error(), ebadf);
    EXPECT_EQ(a.connect(to).error(), ebadf);
    EXPECT_EQ(a.shutdown(Shutdown::Both).error(), ebadf);
    EXPECT_EQ(a.local_addr().error(), ebadf);
    EXPECT_EQ(a.peer_addr().error(), ebadf);
    EXPECT_EQ(a.take_error().error(), ebadf);
    EXPECT_EQ(f.poll.registry().register_source(a, Token(1), Interest::READABLE).error(), ebadf);
    EXPECT_EQ(f.poll.registry().reregister(a, Token(1), Interest::READABLE).error(), ebadf);
    EXPECT_EQ(f.poll.registry().deregister(a).error(), ebadf);
    EXPECT_EQ(moved.send(as_bytes("y")).value(), 1u);
}

TEST(UnixDatagram, second_register_is_already_registered) {
    test::PollFixture f;
    auto sock = UnixDatagram::unbound().value();
    ASSERT_TRUE(f.poll.registry().register_source(sock, Token(1), Interest::READABLE));
    auto again = f.poll.registry().register_source(sock, Token(1), Interest::READABLE);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error(), Errc::already_registered);
}

}  // namespace
}  // namespace pollux::net
