// pipe(): readiness of both ends, close notifications, EPIPE without SIGPIPE, partial
// writes until WouldBlock, adopting blocking fds, and moved-from ends.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pollux/core/core.hpp"
#include "support/expect_events.hpp"
#include "support/fd_flags.hpp"
#include "support/scoped_signal.hpp"

using namespace std::chrono_literals;
using pollux::Interest;
using pollux::Receiver;
using pollux::Sender;
using pollux::Token;
using pollux::test::as_bytes;
using pollux::test::expect_events;
using pollux::test::expect_no_events;

namespace {

constexpr Token kRx{1};
constexpr Token kTx{2};

volatile sig_atomic_t sigpipe_count = 0;
void count_sigpipe(int) { sigpipe_count = sigpipe_count + 1; }

// Polls (bounded) until an event for `token` arrives; returns it.
std::optional<pollux::Event> wait_for(pollux::test::PollFixture& f, Token token) {
    for (int round = 0; round < 3; ++round) {
        if (!f.poll.poll(f.events, 500ms)) return std::nullopt;
        for (const pollux::Event& ev : f.events) {
            if (ev.token() == token) return ev;
        }
    }
    return std::nullopt;
}

}  // namespace

TEST(Pipe, receiver_is_readable_after_a_write_and_reads_the_bytes) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, kRx, Interest::READABLE));
    expect_no_events(f.poll, f.events);
    ASSERT_EQ(tx.write(as_bytes("hello")).value(), 5u);
    expect_events(f.poll, f.events, {{kRx, Interest::READABLE}});

    std::array<std::byte, 16> buf{};
    ASSERT_EQ(rx.read(buf).value(), 5u);
    EXPECT_EQ(std::memcmp(buf.data(), "hello", 5), 0);
    auto again = rx.read(buf);
    EXPECT_TRUE(pollux::is_would_block(again));
}

TEST(Pipe, sender_is_writable_when_registered) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(tx, kTx, Interest::WRITABLE));
    expect_events(f.poll, f.events, {{kTx, Interest::WRITABLE}});
}

TEST(Pipe, closing_the_sender_gives_read_closed_and_read_returns_zero) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(rx, kRx, Interest::READABLE));
    { Sender closing = std::move(tx); }
    auto ev = wait_for(f, kRx);
    ASSERT_TRUE(ev.has_value()) << "no event after the sender closed";
    EXPECT_TRUE(ev->is_read_closed()) << *ev;
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(rx.read(buf).value(), 0u);
}

TEST(Pipe, closing_the_receiver_gives_write_closed_and_write_returns_epipe_without_sigpipe) {
    sigpipe_count = 0;
    pollux::test::ScopedSignal handler(SIGPIPE, &count_sigpipe, SA_RESTART);
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(tx, kTx, Interest::WRITABLE));
    expect_events(f.poll, f.events, {{kTx, Interest::WRITABLE}});
    { Receiver closing = std::move(rx); }

    auto ev = wait_for(f, kTx);
    ASSERT_TRUE(ev.has_value()) << "no event after the receiver closed";
    EXPECT_TRUE(ev->is_write_closed()) << *ev;

    for (int i = 0; i < 3; ++i) {
        auto w = tx.write(as_bytes("x"));
        ASSERT_FALSE(w.has_value());
        EXPECT_EQ(w.error(), std::errc::broken_pipe);
    }
    // Give a stray signal a chance to arrive before checking.
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(sigpipe_count, 0) << "SIGPIPE was delivered to the process";
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "SIGPIPE left pending";
}

TEST(PipeDeathTest, write_to_closed_pipe_with_default_sigpipe_disposition_does_not_kill) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            ::signal(SIGPIPE, SIG_DFL);
            auto pair = pollux::pipe();
            if (!pair) std::_Exit(3);
            { Receiver closing = std::move(pair->second); }
            auto w = pair->first.write(as_bytes("x"));
            std::_Exit(!w && w.error() == std::errc::broken_pipe ? 0 : 2);
        },
        testing::ExitedWithCode(0), "");
}

TEST(Pipe, writes_until_would_block_then_writable_again_after_draining) {
    pollux::test::PollFixture f;
    auto [tx, rx] = pollux::pipe().value();
    ASSERT_TRUE(f.poll.registry().register_source(tx, kTx, Interest::WRITABLE));
    ASSERT_TRUE(f.poll.registry().register_source(rx, kRx, Interest::READABLE));
    expect_events(f.poll, f.events, {{kTx, Interest::WRITABLE}});

    // Fill the pipe with odd-sized chunks, so the last write is partial.
    std::vector<std::byte> chunk(3000);
    std::size_t written = 0;
    bool blocked = false;
    for (int i = 0; i < 10'000 && !blocked; ++i) {
        for (std::size_t j = 0; j < chunk.size(); ++j) chunk[j] = static_cast<std::byte>((written + j) & 0xff);
        auto n = tx.write(chunk);
        if (!n) {
            ASSERT_TRUE(pollux::is_would_block(n.error())) << n.error().message();
            blocked = true;
        } else {
            ASSERT_GT(*n, 0u);
            written += *n;
        }
    }
    ASSERT_TRUE(blocked) << "the pipe never filled up";
    ASSERT_GT(written, 0u);

    // Edge-triggered: only the reader hears about the data; nothing new for the writer.
    ASSERT_TRUE(f.poll.poll(f.events, 50ms));
    for (const pollux::Event& ev : f.events) EXPECT_NE(ev.token(), kTx) << ev;

    // Drain everything and check the byte stream arrived intact.
    std::vector<std::byte> buf(8192);
    std::size_t read = 0;
    for (int i = 0; i < 10'000; ++i) {
        auto n = rx.read(buf);
        if (!n) {
            ASSERT_TRUE(pollux::is_would_block(n.error())) << n.error().message();
            break;
        }
        ASSERT_GT(*n, 0u);
        for (std::size_t j = 0; j < *n; ++j) {
            ASSERT_EQ(buf[j], static_cast<std::byte>((read + j) & 0xff)) << "at byte " << read + j;
        }
        read += *n;
    }
    EXPECT_EQ(read, written);
    expect_events(f.poll, f.events, {{kTx, Interest::WRITABLE}});
    EXPECT_TRUE(tx.write(as_bytes("x")));
}

TEST(Pipe, from_fd_adopts_a_blocking_pipe_and_set_nonblocking_makes_it_non_blocking) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto rx = Receiver::from_fd(pollux::OwnedFd(fds[0]));
    auto tx = Sender::from_fd(pollux::OwnedFd(fds[1]));
    EXPECT_EQ(rx.fd(), fds[0]);
    EXPECT_EQ(tx.fd(), fds[1]);
    EXPECT_FALSE(pollux::test::is_nonblocking(rx.fd()));
    EXPECT_FALSE(pollux::test::is_nonblocking(tx.fd()));

    ASSERT_TRUE(rx.set_nonblocking(true));
    ASSERT_TRUE(tx.set_nonblocking(true));
    ASSERT_TRUE(pollux::test::is_nonblocking(rx.fd()));  // guards the read below from blocking
    ASSERT_TRUE(pollux::test::is_nonblocking(tx.fd()));

    std::array<std::byte, 8> buf{};
    EXPECT_TRUE(pollux::is_would_block(rx.read(buf)));

    pollux::test::PollFixture f;
    ASSERT_TRUE(f.poll.registry().register_source(rx, kRx, Interest::READABLE));
    ASSERT_TRUE(tx.write(as_bytes("x")));
    expect_events(f.poll, f.events, {{kRx, Interest::READABLE}});

    ASSERT_TRUE(rx.set_nonblocking(false));
    EXPECT_FALSE(pollux::test::is_nonblocking(rx.fd()));
    ASSERT_TRUE(rx.set_nonblocking(true));
}

TEST(Pipe, into_fd_gives_up_the_fd_without_closing_it) {
    auto [tx, rx] = pollux::pipe().value();
    const int raw = rx.fd();
    pollux::OwnedFd owned = rx.into_fd();
    EXPECT_EQ(owned.get(), raw);
    EXPECT_EQ(rx.fd(), -1);
    EXPECT_TRUE(pollux::test::is_open_fd(raw));
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(rx.read(buf).error(), std::errc::bad_file_descriptor);
}

TEST(Pipe, moved_from_sender_and_receiver_return_bad_file_descriptor) {
    auto [tx, rx] = pollux::pipe().value();
    Sender tx2 = std::move(tx);
    Receiver rx2 = std::move(rx);
    // NOLINTBEGIN(bugprone-use-after-move): the contract under test
    EXPECT_EQ(tx.fd(), -1);
    EXPECT_EQ(rx.fd(), -1);
    EXPECT_EQ(tx.write(as_bytes("x")).error(), std::errc::bad_file_descriptor);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(rx.read(buf).error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(tx.set_nonblocking(true).error(), std::errc::bad_file_descriptor);
    EXPECT_EQ(rx.set_nonblocking(true).error(), std::errc::bad_file_descriptor);
    // NOLINTEND(bugprone-use-after-move)
    ASSERT_EQ(tx2.write(as_bytes("x")).value(), 1u);
    EXPECT_EQ(rx2.read(buf).value(), 1u);
}

TEST(Pipe, default_constructed_ends_return_bad_file_descriptor) {
    const Sender tx;
    const Receiver rx;
    EXPECT_EQ(tx.write(as_bytes("x")).error(), std::errc::bad_file_descriptor);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(rx.read(buf).error(), std::errc::bad_file_descriptor);
}
