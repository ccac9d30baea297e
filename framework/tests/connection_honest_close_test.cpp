// Honest closes: whenever the framework drops output it had accepted (linger timeout,
// output cap, abort, stop's grace running out) the peer gets a reset, never a clean EOF
// after a truncated stream, and the close reason and metrics say what happened.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"
#include "support/probe_handler.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;
using pollux::test::Probe;

namespace {

// A blocking client with a tiny receive buffer, set before connect so the window stays
// small: the server's output backs up instead of vanishing into the kernel.
class SlowReader {
public:
    explicit SlowReader(const net::SocketAddr& addr) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (::connect(fd_, addr.as_sockaddr(), addr.len()) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~SlowReader() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const { return fd_ >= 0; }
    bool send_byte() { return ::send(fd_, "x", 1, MSG_NOSIGNAL) == 1; }
    // Reads to the end: {bytes, 0 for a clean EOF or the errno that ended it}.
    std::pair<std::size_t, int> drain() {
        std::size_t total = 0;
        char buf[64 * 1024];
        for (;;) {
            const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return {total, errno};
            if (r == 0) return {total, 0};
            total += static_cast<std::size_t>(r);
        }
    }

private:
    int fd_ = -1;
};

std::unique_ptr<TcpServer> start_server(Probe& probe, TcpServerOptions opts) {
    if (!opts.reactors) opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->set_handler_factory(probe.factory());
    EXPECT_TRUE(server->start());
    return server;
}

const std::vector<std::byte>& big(std::size_t n) {
    static std::vector<std::byte> data(32 * 1024 * 1024, std::byte{'y'});
    EXPECT_LE(n, data.size());
    return data;
}

}  // namespace

TEST(HonestClose, linger_timeout_with_output_still_queued_resets_the_peer_and_says_linger_timeout) {
    Probe probe;
    constexpr std::size_t kReply = 16 * 1024 * 1024;  // well past what the kernel buffers
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        if (!c.is_open()) return;
        c.send(std::span(big(kReply)).first(kReply));
        c.close();  // graceful: flush, bounded by linger_timeout
    };
    TcpServerOptions opts;
    opts.connection.linger_timeout = 200ms;
    opts.connection.max_output = 64 * 1024 * 1024;
    opts.connection.high_water_mark = 0;
    auto server = start_server(probe, opts);

    SlowReader client(server->local_addr());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_byte());
    ASSERT_TRUE(probe.closes.wait_for(1, 5s));  // the linger timer ran out first
    auto [got, err] = client.drain();
    EXPECT_EQ(err, ECONNRESET) << "a truncated reply must end in a reset, not a clean EOF";
    EXPECT_LT(got, kReply);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::linger_timeout});
    const MetricValues m = server->metrics().total();
    EXPECT_EQ(m.output_dropped, 1u);
    EXPECT_GT(m.output_dropped_bytes, 0u);
    EXPECT_EQ(m.closed(CloseReason::linger_timeout), 1u);
    EXPECT_EQ(m.closed(CloseReason::peer_closed), 0u);
}

TEST(HonestClose, linger_timeout_after_everything_was_flushed_is_a_clean_close) {
    Probe probe;
    const std::vector<std::byte> reply(1024, std::byte{'z'});
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        if (!c.is_open()) return;
        c.send(reply);
        c.close();
    };
    TcpServerOptions opts;
    opts.connection.linger_timeout = 200ms;
    auto server = start_server(probe, opts);
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("q"));
    // The client never half-closes: the server waits for its EOF until the linger
    // timeout, then closes; nothing of the reply was lost.
    auto rest = client.read_to_eof();
    EXPECT_EQ(rest.error, 0);
    EXPECT_EQ(rest.bytes.size(), reply.size());
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::local_close});
    EXPECT_EQ(server->metrics().total().output_dropped, 0u);
}

TEST(HonestClose, the_output_cap_drops_the_queue_with_a_reset_and_reason_limit) {
    Probe probe;
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        for (int i = 0; i < 64 && c.is_open(); ++i) c.send(std::span(big(256 * 1024)).first(256 * 1024));
    };
    TcpServerOptions opts;
    opts.connection.max_output = 1024 * 1024;
    auto server = start_server(probe, opts);
    SlowReader client(server->local_addr());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_byte());
    ASSERT_TRUE(probe.closes.wait_for(1));
    auto [got, err] = client.drain();
    EXPECT_EQ(err, ECONNRESET);
    EXPECT_LT(got, 64u * 256 * 1024);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::limit});
    EXPECT_EQ(server->metrics().total().output_dropped, 1u);
}

TEST(HonestClose, abort_resets_the_peer_even_with_nothing_queued) {
    Probe probe;
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        c.abort();
    };
    auto server = start_server(probe, {});
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("a"));
    auto rest = client.read_to_eof();
    EXPECT_EQ(rest.error, ECONNRESET);
    ASSERT_TRUE(probe.closes.wait_for(1));
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::local_close});
}

TEST(HonestClose, stop_whose_grace_runs_out_resets_peers_with_queued_output) {
    Probe probe;
    constexpr std::size_t kReply = 16 * 1024 * 1024;
    probe.on_data = [&](Connection& c, Buffer& in) {
        in.consume_all();
        if (c.is_open()) c.send(std::span(big(kReply)).first(kReply));
    };
    TcpServerOptions opts;
    opts.connection.max_output = 64 * 1024 * 1024;
    opts.connection.high_water_mark = 0;
    auto server = start_server(probe, opts);
    SlowReader client(server->local_addr());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_byte());
    ASSERT_TRUE(eventually([&] { return server->metrics().total().bytes_out > 0; }));
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(server->stop(300ms));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1300ms);
    auto [got, err] = client.drain();
    EXPECT_EQ(err, ECONNRESET);
    EXPECT_LT(got, kReply);
    EXPECT_EQ(probe.closes.reasons(), std::vector{CloseReason::server_stop});
    EXPECT_EQ(server->metrics().total().output_dropped, 1u);
}
