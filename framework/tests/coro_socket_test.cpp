// coro/socket.hpp over loopback: UDP echo between two coro::UdpSockets, accept + connect
// + a 512 KiB round trip through coro::TcpStreams (write_all has to wait for room),
// refused and timed-out connects, deadlines, cancels, destroying and moving a socket
// with a wait pending, and moved-from objects. Every wait has a deadline, and every
// task is waited for at most 10 s.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "pollux/framework/coro/coro.hpp"
#include "support/coro_run.hpp"
#include "pollux/framework/coro/socket.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using pollux::reactor::Reactor;
namespace coro = pollux::coro;

namespace {

using pollux::test::run_on;
using pollux::test::started_reactor;

template <class T>
std::error_code error_of(const Result<T>& r) {
    return r ? std::error_code() : r.error();
}

const std::error_code kNotRun = std::make_error_code(std::errc::state_not_recoverable);

// ---- UDP echo ------------------------------------------------------------------------------

constexpr int kRounds = 8;
constexpr int kBurst = 4;  // datagrams sent before the first answer is read

// Datagram `i`: i + 1 bytes (at most 64), byte 0 = i, the rest a pattern of i.
std::size_t fill_datagram(std::span<std::byte> buf, int i) {
    const auto len = static_cast<std::size_t>(i % 64 + 1);
    buf[0] = static_cast<std::byte>(i);
    for (std::size_t k = 1; k < len; ++k) buf[k] = static_cast<std::byte>((static_cast<std::size_t>(i) * 7 + k) & 0xff);
    return len;
}

struct UdpEcho {
    std::error_code echo_error = kNotRun;
    std::error_code client_error = kNotRun;
    int echoed = 0;
    int matched = 0;       // came back whole, from the echo socket
    int wrong = 0;
};

coro::Task<int> echo_datagrams(coro::UdpSocket& s, int n, std::error_code& err) {
    std::array<std::byte, 256> buf{};
    int done = 0;
    err = {};
    while (done < n) {
        auto got = co_await s.recv_from(buf, 5s);
        if (!got) {
            err = got.error();
            break;
        }
        auto sent = co_await s.send_to(std::span(buf).first(got->first), got->second, 5s);
        if (!sent) {
            err = sent.error();
            break;
        }
        ++done;
    }
    co_return done;
}

coro::Task<int> send_and_check(coro::UdpSocket& s, net::SocketAddr to, UdpEcho& out) {
    std::array<std::byte, 64> msg{};
    std::array<std::byte, 256> buf{};
    std::array<bool, kRounds * kBurst> seen{};
    out.client_error = {};
    for (int round = 0; round < kRounds; ++round) {
        for (int k = 0; k < kBurst; ++k) {
            const int i = round * kBurst + k;
            const std::size_t len = fill_datagram(msg, i);
            auto sent = co_await s.send_to(std::span(msg).first(len), to, 5s);
            if (!sent || *sent != len) {
                out.client_error = sent ? std::make_error_code(std::errc::message_size) : sent.error();
                co_return 0;
            }
        }
        for (int k = 0; k < kBurst; ++k) {
            auto got = co_await s.recv_from(buf, 5s);
            if (!got) {
                out.client_error = got.error();
                co_return 0;
            }
            const int i = std::to_integer<int>(buf[0]);
            std::array<std::byte, 64> want{};
            const std::size_t len = fill_datagram(want, i);
            const bool ok = i < kRounds * kBurst && !seen[static_cast<std::size_t>(i)] && got->first == len &&
                            got->second == to && std::equal(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(len), buf.begin());
            if (ok) {
                seen[static_cast<std::size_t>(i)] = true;
                ++out.matched;
            } else {
                ++out.wrong;
            }
        }
    }
    co_return 0;
}

coro::Task<void> udp_echo(UdpEcho& out) {
    Reactor& r = *Reactor::current();
    auto a = coro::UdpSocket::bind(r, net::SocketAddr::loopback_v4(0));
    auto b = coro::UdpSocket::bind(r, net::SocketAddr::loopback_v4(0));
    if (!a || !b) co_return;
    auto b_addr = b->socket().local_addr();
    if (!b_addr) co_return;
    // The echo starts first and waits in recv_from (WouldBlock, then readable).
    auto [echoed, unused] = co_await coro::when_all(echo_datagrams(*b, kRounds * kBurst, out.echo_error),
                                                    send_and_check(*a, *b_addr, out));
    (void)unused;
    out.echoed = echoed;
}

}  // namespace

TEST(CoroSocket, udp_echo_of_several_datagrams_between_two_sockets) {
    auto r = started_reactor();
    UdpEcho out;
    EXPECT_FALSE(run_on(*r, udp_echo(out)));
    EXPECT_FALSE(out.echo_error) << out.echo_error.message();
    EXPECT_FALSE(out.client_error) << out.client_error.message();
    EXPECT_EQ(out.echoed, kRounds * kBurst);
    EXPECT_EQ(out.matched, kRounds * kBurst);
    EXPECT_EQ(out.wrong, 0);
}

// ---- Deadlines and cancels on recv_from ------------------------------------------------------

TEST(CoroSocket, recv_from_with_nothing_coming_times_out_at_its_deadline) {
    auto r = started_reactor();
    std::error_code got = kNotRun;
    std::chrono::steady_clock::duration waited{};
    EXPECT_FALSE(run_on(*r, [](std::error_code& out, std::chrono::steady_clock::duration& took) -> coro::Task<void> {
        auto s = coro::UdpSocket::bind(*Reactor::current(), net::SocketAddr::loopback_v4(0));
        if (!s) co_return;
        std::array<std::byte, 16> buf{};
        const auto t0 = std::chrono::steady_clock::now();
        out = error_of(co_await s->recv_from(buf, 30ms));
        took = std::chrono::steady_clock::now() - t0;
    }(got, waited)));
    EXPECT_EQ(got, std::errc::timed_out) << got.message();
    EXPECT_GE(waited, 29ms);  // never early (1 ms timer resolution, steady_clock rounding)
    EXPECT_LT(waited, 5s);
}

TEST(CoroSocket, cancel_ends_a_pending_recv_from_and_a_cancelled_token_fails_at_once) {
    auto r = started_reactor();
    std::error_code pending = kNotRun;
    std::error_code early = kNotRun;
    EXPECT_FALSE(run_on(*r, [](std::error_code& pending_out, std::error_code& early_out) -> coro::Task<void> {
        auto s = coro::UdpSocket::bind(*Reactor::current(), net::SocketAddr::loopback_v4(0));
        if (!s) co_return;
        coro::CancelSource stop;
        auto waiter = [](coro::UdpSocket& sock, coro::CancelToken t, std::error_code& e) -> coro::Task<int> {
            std::array<std::byte, 16> buf{};
            e = error_of(co_await sock.recv_from(buf, 5s, t));  // the 5 s only bound a failure
            co_return 0;
        };
        auto canceller = [](coro::CancelSource& c) -> coro::Task<int> {
            co_await coro::sleep_for(10ms);
            c.cancel();
            co_return 0;
        };
        co_await coro::when_all(waiter(*s, stop.token(), pending_out), canceller(stop));

        // A datagram is queued, but the token is already cancelled: no receive happens.
        auto self = s->socket().local_addr();
        if (!self) co_return;
        std::array<std::byte, 4> msg{};
        if (!co_await s->send_to(msg, *self, 1s)) co_return;
        std::array<std::byte, 16> buf{};
        early_out = error_of(co_await s->recv_from(buf, 1s, stop.token()));
    }(pending, early)));
    EXPECT_EQ(pending, std::errc::operation_canceled) << pending.message();
    EXPECT_EQ(early, std::errc::operation_canceled) << early.message();
}

// ---- Destroying, closing and moving with a wait pending ------------------------------------

TEST(CoroSocket, destroying_a_udp_socket_resumes_its_pending_recv_from_with_operation_canceled) {
    auto r = started_reactor();
    std::error_code recv_err = kNotRun;
    std::error_code accept_err = kNotRun;
    bool empty_after_close = false;
    EXPECT_FALSE(run_on(*r, [](std::error_code& recv_out, std::error_code& accept_out, bool& empty) -> coro::Task<void> {
        Reactor& reactor = *Reactor::current();
        auto bound = coro::UdpSocket::bind(reactor, net::SocketAddr::loopback_v4(0));
        auto listener = coro::TcpListener::bind(reactor, net::SocketAddr::loopback_v4(0));
        if (!bound || !listener) co_return;
        std::optional<coro::UdpSocket> sock(std::move(*bound));
        auto waiter = [](coro::UdpSocket& s, std::error_code& e) -> coro::Task<int> {
            std::array<std::byte, 16> buf{};
            e = error_of(co_await s.recv_from(buf, 5s));
            co_return 0;
        };
        auto acceptor = [](coro::TcpListener& l, std::error_code& e) -> coro::Task<int> {
            e = error_of(co_await l.accept(5s));
            co_return 0;
        };
        auto destroyer = [](std::optional<coro::UdpSocket>& s, coro::TcpListener& l, bool& was_empty) -> coro::Task<int> {
            co_await coro::sleep_for(10ms);
            s.reset();  // the destructor resumes the recv_from
            l.close();  // as does close() a pending accept
            was_empty = !l.is_open() && !l.socket().local_addr();
            co_return 0;
        };
        co_await coro::when_all(waiter(*sock, recv_out), acceptor(*listener, accept_out),
                                destroyer(sock, *listener, empty));
    }(recv_err, accept_err, empty_after_close)));
    EXPECT_EQ(recv_err, std::errc::operation_canceled) << recv_err.message();
    EXPECT_EQ(accept_err, std::errc::operation_canceled) << accept_err.message();
    EXPECT_TRUE(empty_after_close);
}

TEST(CoroSocket, moving_a_udp_socket_while_recv_from_waits_keeps_the_wait) {
    auto r = started_reactor();
    std::error_code recv_err = kNotRun;
    std::size_t got_size = 0;
    EXPECT_FALSE(run_on(*r, [](std::error_code& e, std::size_t& size) -> coro::Task<void> {
        Reactor& reactor = *Reactor::current();
        auto a = coro::UdpSocket::bind(reactor, net::SocketAddr::loopback_v4(0));
        auto sender = coro::UdpSocket::bind(reactor, net::SocketAddr::loopback_v4(0));
        if (!a || !sender) co_return;
        auto a_addr = a->socket().local_addr();
        if (!a_addr) co_return;
        std::optional<coro::UdpSocket> moved;
        auto waiter = [](coro::UdpSocket& s, std::error_code& err, std::size_t& n) -> coro::Task<int> {
            std::array<std::byte, 16> buf{};
            auto got = co_await s.recv_from(buf, 5s);
            err = error_of(got);
            if (got) n = got->first;
            co_return 0;
        };
        auto mover = [](coro::UdpSocket& from, std::optional<coro::UdpSocket>& to, coro::UdpSocket& tx,
                        net::SocketAddr addr) -> coro::Task<int> {
            co_await coro::sleep_for(5ms);
            to.emplace(std::move(from));  // `from` is empty now; the wait goes on
            std::array<std::byte, 3> msg{};
            (void)co_await tx.send_to(msg, addr, 1s);
            co_return 0;
        };
        co_await coro::when_all(waiter(*a, e, size), mover(*a, moved, *sender, *a_addr));
    }(recv_err, got_size)));
    EXPECT_FALSE(recv_err) << recv_err.message();
    EXPECT_EQ(got_size, 3u);
}

TEST(CoroSocket, moved_from_and_empty_objects_fail_with_bad_file_descriptor) {
    auto r = started_reactor();
    std::vector<std::error_code> errs;
    bool moved_to_works = false;
    EXPECT_FALSE(run_on(*r, [](std::vector<std::error_code>& out, bool& ok) -> coro::Task<void> {
        Reactor& reactor = *Reactor::current();
        std::array<std::byte, 16> buf{};
        auto a = coro::UdpSocket::bind(reactor, net::SocketAddr::loopback_v4(0));
        auto l = coro::TcpListener::bind(reactor, net::SocketAddr::loopback_v4(0));
        if (!a || !l) co_return;
        coro::UdpSocket b = std::move(*a);
        coro::TcpListener l2 = std::move(*l);
        coro::TcpStream empty_stream;
        out.push_back(error_of(co_await a->recv_from(buf, 1s)));
        out.push_back(error_of(co_await a->send_to(buf, net::SocketAddr::loopback_v4(9), 1s)));
        out.push_back(error_of(a->socket().local_addr()));
        out.push_back(error_of(co_await l->accept(1s)));
        out.push_back(error_of(l->local_addr()));
        out.push_back(error_of(co_await empty_stream.read_some(buf, 1s)));
        out.push_back(error_of(co_await empty_stream.write_all(buf, 1s)));
        // Adopting an empty net socket fails too.
        out.push_back(error_of(coro::TcpStream::adopt(reactor, net::TcpStream())));
        ok = b.is_open() && b.socket().local_addr().has_value() && l2.local_addr().has_value() && !a->is_open();
    }(errs, moved_to_works)));
    ASSERT_EQ(errs.size(), 8u);
    for (std::size_t i = 0; i < errs.size(); ++i) {
        EXPECT_EQ(errs[i], std::errc::bad_file_descriptor) << "call " << i << ": " << errs[i].message();
    }
    EXPECT_TRUE(moved_to_works);
}

// ---- TCP: accept, connect, read_some, write_all ---------------------------------------------

namespace {

constexpr std::size_t kRoundTripBytes = 512 * 1024;

struct RoundTrip {
    std::error_code server_error = kNotRun;
    std::error_code client_error = kNotRun;
    std::error_code writer_error = kNotRun;
    std::error_code reader_error = kNotRun;
    std::vector<std::byte> echoed;
    bool writer_done = false;
    std::optional<bool> writer_done_when_server_began;  // must be false: write_all waited
    bool peer_ok = false;
};

// Small kernel buffers on both ends, so 512 KiB cannot be taken in one go.
void shrink_buffers(const net::TcpStream& s) {
    (void)s.set_send_buffer_size(32 * 1024);
    (void)s.set_recv_buffer_size(32 * 1024);
}

coro::Task<int> echo_server(coro::TcpListener& listener, RoundTrip& out) {
    auto accepted = co_await listener.accept(5s);
    if (!accepted) {
        out.server_error = accepted.error();
        co_return 0;
    }
    out.peer_ok = accepted->second.port() != 0 && accepted->second.is_ipv4();
    shrink_buffers(accepted->first);
    auto s = coro::TcpStream::adopt(*Reactor::current(), std::move(accepted->first));
    if (!s) {
        out.server_error = s.error();
        co_return 0;
    }
    // Read nothing for a while: the client's write_all fills every buffer and waits.
    co_await coro::sleep_for(50ms);
    out.writer_done_when_server_began = out.writer_done;
    std::array<std::byte, 8192> buf{};
    for (;;) {
        auto n = co_await s->read_some(buf, 5s);
        if (!n) {
            out.server_error = n.error();
            co_return 0;
        }
        if (*n == 0) break;
        if (auto w = co_await s->write_all(std::span(buf).first(*n), 5s); !w) {
            out.server_error = w.error();
            co_return 0;
        }
    }
    out.server_error = error_of(s->socket().shutdown(net::Shutdown::Write));
    co_return 0;
}

coro::Task<int> write_everything(coro::TcpStream& s, std::span<const std::byte> data, RoundTrip& out) {
    out.writer_error = error_of(co_await s.write_all(data, 5s));
    out.writer_done = true;
    if (!out.writer_error) out.writer_error = error_of(s.socket().shutdown(net::Shutdown::Write));
    co_return 0;
}

coro::Task<int> read_everything(coro::TcpStream& s, RoundTrip& out) {
    std::array<std::byte, 3000> buf{};  // not a divisor of anything above
    out.reader_error = {};
    while (out.echoed.size() <= kRoundTripBytes) {  // bounded: at most one read past the end
        auto n = co_await s.read_some(buf, 5s);
        if (!n) {
            out.reader_error = n.error();
            break;
        }
        if (*n == 0) break;
        out.echoed.insert(out.echoed.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    co_return 0;
}

coro::Task<int> echo_client(net::SocketAddr to, std::span<const std::byte> data, RoundTrip& out) {
    Reactor& reactor = *Reactor::current();
    auto raw = co_await coro::connect(reactor, to, 5s);
    if (!raw) {
        out.client_error = raw.error();
        co_return 0;
    }
    shrink_buffers(*raw);
    // connect left the stream registered nowhere: it can be adopted.
    auto s = coro::TcpStream::adopt(reactor, std::move(*raw));
    if (!s) {
        out.client_error = s.error();
        co_return 0;
    }
    out.client_error = {};
    co_await coro::when_all(write_everything(*s, data, out), read_everything(*s, out));
    co_return 0;
}

coro::Task<void> round_trip(std::span<const std::byte> data, RoundTrip& out) {
    auto listener = coro::TcpListener::bind(*Reactor::current(), net::SocketAddr::loopback_v4(0));
    if (!listener) co_return;
    auto addr = listener->local_addr();
    if (!addr) co_return;
    co_await coro::when_all(echo_server(*listener, out), echo_client(*addr, data, out));
}

}  // namespace

TEST(CoroSocket, accept_connect_and_a_512k_round_trip_through_tcp_streams) {
    auto r = started_reactor();
    std::vector<std::byte> data(kRoundTripBytes);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>((i * 131 + i / 251) & 0xff);
    RoundTrip out;
    EXPECT_FALSE(run_on(*r, round_trip(data, out)));
    EXPECT_FALSE(out.server_error) << out.server_error.message();
    EXPECT_FALSE(out.client_error) << out.client_error.message();
    EXPECT_FALSE(out.writer_error) << out.writer_error.message();
    EXPECT_FALSE(out.reader_error) << out.reader_error.message();
    EXPECT_TRUE(out.peer_ok);
    ASSERT_TRUE(out.writer_done_when_server_began.has_value());
    EXPECT_FALSE(*out.writer_done_when_server_began) << "write_all finished before the peer read a byte";
    ASSERT_EQ(out.echoed.size(), data.size());
    EXPECT_TRUE(out.echoed == data) << "the echo differs from what was sent";
}

TEST(CoroSocket, connect_to_a_closed_port_is_refused) {
    auto r = started_reactor();
    // A port that was just free: bind a listener, take its port, close it.
    net::SocketAddr dead;
    {
        auto l = net::TcpListener::bind(net::SocketAddr::loopback_v4(0));
        ASSERT_TRUE(l);
        dead = l->local_addr().value();
    }
    std::error_code got = kNotRun;
    EXPECT_FALSE(run_on(*r, [](net::SocketAddr to, std::error_code& out) -> coro::Task<void> {
        out = error_of(co_await coro::connect(*Reactor::current(), to, 5s));
    }(dead, got)));
    EXPECT_EQ(got, std::errc::connection_refused) << got.message();
}

// A listener whose accept queue is full drops new SYNs, so a connect to it stays in
// SYN_SENT (the SYN is retried after 1 s): the deadline and a cancel end the wait.
TEST(CoroSocket, connect_to_a_full_backlog_ends_at_its_deadline_or_cancel) {
    auto r = started_reactor();
    std::error_code deadline_err = kNotRun;
    std::error_code cancel_err = kNotRun;
    std::error_code accept_err = kNotRun;
    EXPECT_FALSE(run_on(*r, [](std::error_code& dl, std::error_code& cn, std::error_code& ac) -> coro::Task<void> {
        Reactor& reactor = *Reactor::current();
        auto l = coro::TcpListener::bind(reactor, net::SocketAddr::loopback_v4(0), /*backlog=*/1);
        if (!l) co_return;
        auto addr = l->local_addr();
        if (!addr) co_return;
        // Nothing connects yet: accept ends at its deadline.
        ac = error_of(co_await l->accept(20ms));
        // Fill the accept queue (never accepted); the later ones wait in SYN_SENT.
        std::vector<net::TcpStream> fillers;
        for (int i = 0; i < 8; ++i) {
            auto f = net::TcpStream::connect(*addr);
            if (f) fillers.push_back(std::move(*f));
            co_await coro::sleep_for(2ms);
        }
        dl = error_of(co_await coro::connect(reactor, *addr, 100ms));
        coro::CancelSource stop;
        auto connector = [](Reactor& re, net::SocketAddr to, coro::CancelToken t, std::error_code& e) -> coro::Task<int> {
            e = error_of(co_await coro::connect(re, to, 5s, t));  // the 5 s only bound a failure
            co_return 0;
        };
        auto canceller = [](coro::CancelSource& c) -> coro::Task<int> {
            co_await coro::sleep_for(50ms);
            c.cancel();
            co_return 0;
        };
        co_await coro::when_all(connector(reactor, *addr, stop.token(), cn), canceller(stop));
    }(deadline_err, cancel_err, accept_err)));
    EXPECT_EQ(accept_err, std::errc::timed_out) << accept_err.message();
    EXPECT_EQ(deadline_err, std::errc::timed_out) << deadline_err.message();
    EXPECT_EQ(cancel_err, std::errc::operation_canceled) << cancel_err.message();
}

// Out of fds, accept returns the error (EMFILE) rather than waiting or spinning; the
// client stays queued and is accepted once an fd is free again. The soft RLIMIT_NOFILE
// is set to the lowest free fd number, so the next fd any thread makes fails, and put
// back before the second accept (and by a guard, whatever happens).
TEST(CoroSocket, accept_out_of_fds_returns_emfile_and_the_client_is_accepted_after) {
    auto r = started_reactor();
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct Restore {
        rlimit limit;
        ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
    } restore{saved};
    std::error_code out_of_fds = kNotRun;
    std::error_code after = kNotRun;
    bool same_peer = false;
    EXPECT_FALSE(run_on(*r, [](rlimit normal, std::error_code& e1, std::error_code& e2, bool& peer) -> coro::Task<void> {
        auto l = coro::TcpListener::bind(*Reactor::current(), net::SocketAddr::loopback_v4(0));
        if (!l) co_return;
        auto addr = l->local_addr();
        if (!addr) co_return;
        auto client = net::TcpStream::connect(*addr);
        if (!client) co_return;
        co_await coro::sleep_for(10ms);  // the handshake completes: the client is queued
        // UBSan's vptr check makes a pipe(2) for each (object, type) pair it has not seen:
        // the comparisons the EMFILE path makes run once while fds are plentiful.
        const std::error_code warm(EMFILE, std::system_category());
        if (warm == std::errc::connection_aborted || warm == std::errc::operation_would_block ||
            warm == std::errc::resource_unavailable_try_again || warm.message().empty())
            co_return;
        const int probe = ::dup(0);
        if (probe < 0) co_return;
        ::close(probe);
        rlimit low = normal;
        low.rlim_cur = static_cast<rlim_t>(probe);
        if (::setrlimit(RLIMIT_NOFILE, &low) != 0) co_return;
        e1 = error_of(co_await l->accept(1s));
        ::setrlimit(RLIMIT_NOFILE, &normal);
        auto got = co_await l->accept(1s);
        e2 = error_of(got);
        if (got) peer = got->second == client->local_addr().value();
    }(saved, out_of_fds, after, same_peer)));
    EXPECT_EQ(out_of_fds, std::errc::too_many_files_open) << out_of_fds.message();
    EXPECT_FALSE(after) << after.message();
    EXPECT_TRUE(same_peer);
}
