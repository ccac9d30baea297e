// net/tests/unix_stream_test.cpp — UnixStream: pair I/O with events, closed peers
// (read 0, EPIPE without SIGPIPE), credentials, vectored I/O, connect errors, fd flags,
// moved-from and registration rules.
#include "pollux/net/unix_stream.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "pollux/net/unix_listener.hpp"
#include "support/expect_events.hpp"
#include "support/unix_temp_dir.hpp"

namespace pollux::net {
namespace {

using test::as_bytes;
using test::expect_events;
using test::expect_no_events;

std::string to_string(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(UnixStream, pair_ends_are_cloexec_and_nonblocking) {
    auto ends = UnixStream::pair();
    ASSERT_TRUE(ends.has_value());
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(ends->first.fd()));
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(ends->second.fd()));
}

TEST(UnixStream, pair_write_gives_readable_event_and_read_drains_to_would_block) {
    test::PollFixture f;
    auto [a, b] = UnixStream::pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(b, Token(1), Interest::READABLE));
    expect_no_events(f.poll, f.events);

    ASSERT_EQ(a.write(as_bytes("hello")).value(), 5u);
    expect_events(f.poll, f.events, {{Token(1), Interest::READABLE}});

    std::array<std::byte, 16> buf{};
    auto n = b.read(buf);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(to_string(std::span(buf).first(*n)), "hello");
    EXPECT_TRUE(is_would_block(b.read(buf)));
}

TEST(UnixStream, pair_ends_have_unnamed_addresses) {
    auto [a, b] = UnixStream::pair().value();
    EXPECT_TRUE(a.local_addr().value().is_unnamed());
    EXPECT_TRUE(a.peer_addr().value().is_unnamed());
    EXPECT_TRUE(b.local_addr().value().is_unnamed());
}

TEST(UnixStream, peer_shutdown_write_gives_read_closed_and_read_returns_zero) {
    test::PollFixture f;
    auto [a, b] = UnixStream::pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(b, Token(2), Interest::READABLE));
    ASSERT_TRUE(a.shutdown(Shutdown::Write));

    bool read_closed = false;
    for (int round = 0; round < 3 && !read_closed; ++round) {
        ASSERT_TRUE(f.poll.poll(f.events, std::chrono::milliseconds(500)));
        for (const Event& ev : f.events) {
            if (ev.token() == Token(2) && ev.is_read_closed()) read_closed = true;
        }
    }
    EXPECT_TRUE(read_closed);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(b.read(buf).value(), 0u);
    // The other direction still works.
    EXPECT_EQ(b.write(as_bytes("x")).value(), 1u);
    EXPECT_EQ(a.read(buf).value(), 1u);
}

TEST(UnixStream, write_after_peer_closed_is_epipe_and_raises_no_sigpipe) {
    test::SigpipeCounter sigpipe;
    auto [a, b] = UnixStream::pair().value();
    b = UnixStream();  // closes the peer
    auto w = a.write(as_bytes("data"));
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error(), std::errc::broken_pipe);
    const std::array<IoSlice, 1> slices{IoSlice(as_bytes("v"))};
    auto wv = a.write_vectored(slices);
    ASSERT_FALSE(wv.has_value());
    EXPECT_EQ(wv.error(), std::errc::broken_pipe);
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(UnixStream, local_shutdown_write_makes_write_fail_with_epipe_without_sigpipe) {
    test::SigpipeCounter sigpipe;
    auto [a, b] = UnixStream::pair().value();
    ASSERT_TRUE(a.shutdown(Shutdown::Write));
    auto w = a.write(as_bytes("x"));
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error(), std::errc::broken_pipe);
    EXPECT_EQ(sigpipe.count(), 0);
}

TEST(UnixStream, peer_credentials_on_a_pair_are_this_process) {
    auto [a, b] = UnixStream::pair().value();
    auto creds = a.peer_credentials();
    ASSERT_TRUE(creds.has_value());
    EXPECT_EQ(creds->pid, ::getpid());
    EXPECT_EQ(creds->uid, ::getuid());
    EXPECT_EQ(creds->gid, ::getgid());
}

TEST(UnixStream, vectored_write_and_read_keep_byte_order_across_slices) {
    auto [a, b] = UnixStream::pair().value();
    const std::array<IoSlice, 3> out{IoSlice(as_bytes("ab")), IoSlice(as_bytes("")), IoSlice(as_bytes("cdef"))};
    ASSERT_EQ(a.write_vectored(out).value(), 6u);

    std::array<std::byte, 3> first{};
    std::array<std::byte, 8> second{};
    std::array<IoSliceMut, 2> in{IoSliceMut(first), IoSliceMut(second)};
    ASSERT_EQ(b.read_vectored(in).value(), 6u);
    EXPECT_EQ(to_string(first), "abc");
    EXPECT_EQ(to_string(std::span(second).first(3)), "def");
    EXPECT_TRUE(is_would_block(b.read_vectored(in)));
}

TEST(UnixStream, connect_to_missing_path_is_enoent) {
    test::TempDir dir;
    auto s = UnixStream::connect(dir.path("nobody.sock"));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), std::errc::no_such_file_or_directory);
}

TEST(UnixStream, connect_to_overlong_path_is_filename_too_long) {
    auto s = UnixStream::connect("/tmp/" + std::string(195, 'x'));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), std::errc::filename_too_long);
}

TEST(UnixStream, connect_gives_cloexec_nonblocking_fd_with_unnamed_local_addr) {
    test::TempDir dir;
    const auto path = dir.path("s.sock");
    auto listener = UnixListener::bind(path).value();
    auto client = UnixStream::connect(path);
    ASSERT_TRUE(client.has_value());
    EXPECT_TRUE(test::fd_is_cloexec_and_nonblocking(client->fd()));
    EXPECT_TRUE(client->local_addr().value().is_unnamed());
    EXPECT_EQ(client->peer_addr().value().as_pathname(), path);
    EXPECT_EQ(client->take_error().value(), std::nullopt);
}

TEST(UnixStream, connect_with_full_backlog_is_would_block_not_in_progress) {
    test::TempDir dir;
    const auto path = dir.path("s.sock");
    auto listener = UnixListener::bind(path, {.backlog = 1}).value();
    std::vector<UnixStream> clients;
    bool would_block = false;
    for (int i = 0; i < 64 && !would_block; ++i) {
        auto c = UnixStream::connect(path);
        if (c) {
            clients.push_back(std::move(*c));
        } else {
            ASSERT_TRUE(is_would_block(c.error())) << c.error().message();
            would_block = true;
        }
    }
    EXPECT_TRUE(would_block);
    EXPECT_GE(clients.size(), 1u);
}

TEST(UnixStream, moved_from_stream_returns_ebadf_from_every_call) {
    test::PollFixture f;
    auto [a, b] = UnixStream::pair().value();
    UnixStream moved = std::move(a);
    std::array<std::byte, 4> buf{};
    std::array<IoSliceMut, 1> in{IoSliceMut(buf)};
    const std::array<IoSlice, 1> out{IoSlice(as_bytes("x"))};
    const auto ebadf = std::make_error_code(std::errc::bad_file_descriptor);
    EXPECT_EQ(a.fd(), -1);
    EXPECT_EQ(a.read(buf).error(), ebadf);
    EXPECT_EQ(a.write(as_bytes("x")).error(), ebadf);
    EXPECT_EQ(a.read_vectored(in).error(), ebadf);
    EXPECT_EQ(a.write_vectored(out).error(), ebadf);
    EXPECT_EQ(a.shutdown(Shutdown::Both).error(), ebadf);
    EXPECT_EQ(a.local_addr().error(), ebadf);
    EXPECT_EQ(a.peer_addr().error(), ebadf);
    EXPECT_EQ(a.peer_credentials().error(), ebadf);
    EXPECT_EQ(a.take_error().error(), ebadf);
    EXPECT_EQ(f.poll.registry().register_source(a, Token(1), Interest::READABLE).error(), ebadf);
    EXPECT_EQ(f.poll.registry().reregister(a, Token(1), Interest::READABLE).error(), ebadf);
    EXPECT_EQ(f.poll.registry().deregister(a).error(), ebadf);
    EXPECT_FALSE(a.into_fd().is_open());
    EXPECT_EQ(moved.write(as_bytes("y")).value(), 1u);
}

TEST(UnixStream, second_register_is_already_registered) {
    test::PollFixture f;
    auto [a, b] = UnixStream::pair().value();
    ASSERT_TRUE(f.poll.registry().register_source(a, Token(1), Interest::READABLE));
    auto again = f.poll.registry().register_source(a, Token(2), Interest::WRITABLE);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error(), Errc::already_registered);
    EXPECT_TRUE(f.poll.registry().deregister(a));
}

TEST(UnixStream, into_fd_and_from_fd_round_trip) {
    auto [a, b] = UnixStream::pair().value();
    OwnedFd raw = a.into_fd();
    ASSERT_TRUE(raw.is_open());
    EXPECT_EQ(a.fd(), -1);
    auto again = UnixStream::from_fd(std::move(raw));
    EXPECT_EQ(again.write(as_bytes("z")).value(), 1u);
    std::array<std::byte, 2> buf{};
    EXPECT_EQ(b.read(buf).value(), 1u);
}

}  // namespace
}  // namespace pollux::net
