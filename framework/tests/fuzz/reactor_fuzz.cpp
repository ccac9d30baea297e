// framework/tests/fuzz/reactor_fuzz.cpp — libFuzzer target (T7, reactor level): fuzz
// input goes through a real loopback socket into a real reactor running pollux's
// Connection, in the fuzzer's choice of segments, and the connection ends the fuzzer's
// way (h2o's fuzz/driver.cc, with the marker replaced by length bytes).
//
// Input: [flags] then segments [n][n bytes]... (the last one may be short).
//   flags bit 0   end with a reset (SO_LINGER 0) instead of shutdown(SHUT_WR)
//   flags bit 1   the line handler (echoes complete lines, keeps a partial line as
//                 unconsumed input, sends it at the peer's EOF) instead of plain echo
//   flags bit 2   read the echo of each segment before writing the next
// Each segment is one send(2) with TCP_NODELAY. Checks, per input:
//   * ending with SHUT_WR: the client reads back exactly the bytes it sent, then EOF;
//     the server closes the connection once, with CloseReason::peer_closed;
//   * ending with a reset: whatever came back is a prefix of what was sent, and the
//     server closes it once (if it opened it at all), with CloseReason::reset;
//   * afterwards no connection is left open on the server.
// A failed check aborts (a crash for libFuzzer).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "pollux/core/log.hpp"
#include "pollux/framework/tcp_server.hpp"

using namespace pollux;
using namespace pollux::framework;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "reactor_fuzz: %s\n", what);
    std::abort();
}

[[noreturn]] void fail_errno(const char* call) {
    std::fprintf(stderr, "reactor_fuzz: %s: %s\n", call, std::strerror(errno));
    std::abort();
}

struct Counts {
    std::atomic<int> opens{0};
    std::atomic<int> closes{0};
    std::atomic<int> peer_closed{0};
    std::atomic<int> resets{0};
    std::atomic<int> other{0};
};

void count_close(Counts& c, CloseReason why) {
    if (why == CloseReason::peer_closed) {
        ++c.peer_closed;
    } else if (why == CloseReason::reset) {
        ++c.resets;
    } else {
        ++c.other;
    }
    ++c.closes;  // last: the driver waits on it
}

// Echoes complete lines; a partial line stays in the connection's input until the
// rest arrives, and goes back as is at the peer's EOF.
class LineHandler final : public ConnectionHandler {
public:
    explicit LineHandler(Counts& c) : c_(c) {}
    void on_open(Connection&) override { ++c_.opens; }
    void on_data(Connection& conn, Buffer& in) override {
        for (;;) {
            const auto eol = in.find_eol();
            if (!eol) break;
            conn.send(in.readable().first(*eol + 1));
            in.consume(*eol + 1);
        }
        // Left unconsumed (the framework keeps it and hands it back with the next
        // bytes); the copy is what goes back at EOF, when on_data is over.
        const auto rest = in.readable();
        partial_.assign(rest.begin(), rest.end());
    }
    void on_read_closed(Connection& conn) override {
        conn.send(std::span<const std::byte>(partial_));
        conn.close();
    }
    void on_close(Connection&, CloseReason why) override { count_close(c_, why); }

private:
    Counts& c_;
    std::vector<std::byte> partial_;
};

struct Fixture {
    Counts echo_counts;
    Counts line_counts;
    std::unique_ptr<TcpServer> echo;
    std::unique_ptr<TcpServer> line;
};

std::unique_ptr<TcpServer> start(TcpServerOptions opts) {
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts);
    if (!server) fail("bind");
    return std::move(*server);
}

Fixture& fixture() {
    static Fixture* f = [] {
        pollux::set_log_sink(nullptr);
        auto* fx = new Fixture;  // lives until exit: the servers keep running between inputs
        TcpServerOptions opts;
        opts.reactors = 1;
        opts.connection.max_input = 1024 * 1024;
        fx->echo = start(opts);
        fx->echo->on_open([fx](Connection&) { ++fx->echo_counts.opens; });
        fx->echo->on_data([](Connection& conn, Buffer& in) {
            conn.send(in.readable());
            in.consume_all();
        });
        fx->echo->on_close([fx](Connection&, CloseReason why) { count_close(fx->echo_counts, why); });
        fx->line = start(opts);
        fx->line->set_handler_factory([fx](Connection&) { return std::make_unique<LineHandler>(fx->line_counts); });
        if (!fx->echo->start() || !fx->line->start()) fail("start");
        return fx;
    }();
    return *f;
}

// Each input's client ends in TIME_WAIT (it sent the first FIN), some thousand a
// second: the source address rotates over 127.0.0.2-127.0.0.254 (all of 127/8 answers
// on lo), so no source/destination pair runs out of ephemeral ports.
int connect_to(std::uint16_t port) {
    static std::uint32_t next_source = 0;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail_errno("socket");
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + next_source++ % 253);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0) fail_errno("bind");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
        // libFuzzer's timer signal may interrupt it; the connect goes on regardless.
        if (errno != EINTR) fail_errno("connect");
        pollfd p{fd, POLLOUT, 0};
        while (::poll(&p, 1, 10'000) < 0) {
            if (errno != EINTR) fail_errno("poll");
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            errno = err;
            fail_errno("connect");
        }
    }
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Reads what is there within `wait_ms`, or to EOF when `to_eof`. False on EOF.
bool drain(int fd, std::vector<std::uint8_t>& got, int wait_ms, bool to_eof, const Clock::time_point deadline) {
    std::uint8_t buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, wait_ms);
        if (ready <= 0) {
            if (!to_eof) return true;
            if (Clock::now() > deadline) fail("no EOF from the server within 10 s");
            continue;
        }
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return false;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            fail("recv failed on a connection that was not reset");
        }
        got.insert(got.end(), buf, buf + n);
        if (!to_eof) wait_ms = 0;
    }
}

template <class Pred>
void wait_for(Pred pred, const Clock::time_point deadline, const char* what) {
    while (!pred()) {
        if (Clock::now() > deadline) fail(what);
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& fx = fixture();
    const std::uint8_t flags = size > 0 ? data[0] : 0;
    const bool reset = (flags & 1) != 0;
    const bool lines = (flags & 2) != 0;
    const bool lockstep = (flags & 4) != 0 && !lines;
    Counts& counts = lines ? fx.line_counts : fx.echo_counts;
    TcpServer& server = lines ? *fx.line : *fx.echo;

    const int opens_before = counts.opens.load();
    const int resets_before = counts.resets.load();
    const int peer_closed_before = counts.peer_closed.load();
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    const int fd = connect_to(server.local_addr().port());

    std::vector<std::uint8_t> sent;
    std::vector<std::uint8_t> got;
    std::size_t at = size > 0 ? 1 : 0;
    while (at < size) {
        const std::size_t n = std::min<std::size_t>(data[at], size - at - 1);
        const std::uint8_t* seg = data + at + 1;
        at += 1 + n;
        if (n == 0) continue;
        for (std::size_t off = 0; off < n;) {  // blocking; a signal may cut it short
            const ssize_t w = ::send(fd, seg + off, n - off, MSG_NOSIGNAL);
            if (w < 0 && errno != EINTR) fail_errno("send");
            if (w > 0) off += static_cast<std::size_t>(w);
        }
        sent.insert(sent.end(), seg, seg + n);
        if (lockstep) {
            while (got.size() < sent.size()) {
                if (!drain(fd, got, 100, false, deadline)) fail("EOF before the echo");
                if (Clock::now() > deadline) fail("no echo within 10 s");
            }
        }
    }

    if (reset) {
        // Reset an opened connection (one reset before accept would never be opened).
        wait_for([&] { return counts.opens.load() > opens_before; }, deadline, "the server did not open the connection within 10 s");
        (void)drain(fd, got, 0, false, deadline);
        linger lg{.l_onoff = 1, .l_linger = 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::close(fd);
        if (got.size() > sent.size() || !std::equal(got.begin(), got.end(), sent.begin()))
            fail("echo before the reset is not a prefix of what was sent");
        wait_for([&] { return counts.closes.load() == counts.opens.load(); }, deadline,
                 "the server did not close the connection within 10 s");
        if (counts.opens.load() != opens_before + 1) fail("the connection was not opened exactly once");
        if (counts.resets.load() != resets_before + 1) fail("a reset connection closed with another reason");
    } else {
        if (::shutdown(fd, SHUT_WR) < 0) fail_errno("shutdown");
        (void)drain(fd, got, 1000, true, deadline);
        linger lg{.l_onoff = 1, .l_linger = 0};  // no TIME_WAIT left per input
        (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::close(fd);
        if (got != sent) fail("echo differs from what was sent");
        wait_for([&] { return counts.opens.load() > opens_before && counts.closes.load() == counts.opens.load(); },
                 deadline, "the server did not close the connection within 10 s");
        if (counts.opens.load() != opens_before + 1) fail("the connection was not opened exactly once");
        if (counts.peer_closed.load() != peer_closed_before + 1) fail("a half-closed connection closed with another reason");
    }
    if (counts.closes.load() != counts.opens.load()) fail("opens and closes differ");
    if (counts.other.load() != 0) fail("a close with an unexpected reason");
    if (server.connections() != 0) {
        // The open gauge drops after on_close returns: give it a moment.
        while (server.connections() != 0) {
            if (Clock::now() > deadline) fail("a connection is still open after its close");
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    return 0;
}
