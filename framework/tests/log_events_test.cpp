// The framework's log lines (pollux/core/log.hpp): a connection closed for a limit (one
// warning naming the peer and the limit, at most one line per second per reactor, the
// next one counting what it held back), and a stop whose grace ran out (how many
// connections were left).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/core/log.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using namespace pollux::framework;
using pollux::test::BlockingClient;
using pollux::test::eventually;

namespace {

// Records warnings for the length of a test, then restores the default sink.
class Recorder {
public:
    Recorder() {
        set_log_sink([this](LogLevel level, std::string_view text) {
            std::lock_guard lock(mu_);
            if (level >= LogLevel::warn) lines_.emplace_back(text);
        });
    }
    ~Recorder() { reset_log_sink(); }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mu_);
        return lines_;
    }
    std::size_t size() const {
        std::lock_guard lock(mu_);
        return lines_.size();
    }

private:
    mutable std::mutex mu_;
    std::vector<std::string> lines_;
};

// A client with a tiny receive buffer that never reads: the server's output backs up.
class SilentPeer {
public:
    explicit SilentPeer(const net::SocketAddr& addr) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        if (::connect(fd_, addr.as_sockaddr(), addr.len()) != 0 || ::send(fd_, "x", 1, MSG_NOSIGNAL) != 1) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~SilentPeer() {
        if (fd_ >= 0) ::close(fd_);
    }
    SilentPeer(const SilentPeer&) = delete;
    SilentPeer& operator=(const SilentPeer&) = delete;
    bool ok() const { return fd_ >= 0; }
    std::string local() const {
        ::sockaddr_storage ss{};
        ::socklen_t len = sizeof ss;
        ::getsockname(fd_, reinterpret_cast<::sockaddr*>(&ss), &len);
        return net::SocketAddr::from_sockaddr(reinterpret_cast<::sockaddr*>(&ss), len).value().to_string();
    }

private:
    int fd_ = -1;
};

const std::vector<std::byte>& big() {
    static const std::vector<std::byte> data(16 * 1024 * 1024, std::byte{'y'});
    return data;
}

// One reactor; on the first byte of each connection it sends 16 MiB at once.
std::unique_ptr<TcpServer> flooding_server(TcpServerOptions opts) {
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        in.consume_all();
        if (conn.is_open()) conn.send(big());
    });
    EXPECT_TRUE(server->start());
    return server;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(LogEvents, output_cap_closes_log_one_line_per_second_per_reactor_and_count_the_rest) {
    Recorder rec;
    TcpServerOptions opts;
    opts.connection.max_output = 1024 * 1024;
    opts.connection.high_water_mark = 0;
    auto server = flooding_server(opts);

    SilentPeer first(server->local_addr());
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(eventually([&] { return rec.size() >= 1; }));
    const auto t_first = std::chrono::steady_clock::now();
    const std::string line = rec.lines().at(0);
    EXPECT_EQ(line.rfind("connection with " + first.local() + " on reactor 0 closed for a limit: its output queue "
                         "would pass max_output (1048576 bytes); ", 0), 0u) << line;
    EXPECT_TRUE(contains(line, " queued bytes dropped with a reset")) << line;
    EXPECT_FALSE(contains(line, "more limit close")) << line;

    // Four more within the second: counted, not written.
    std::vector<std::unique_ptr<SilentPeer>> more;
    for (int i = 0; i < 4; ++i) more.push_back(std::make_unique<SilentPeer>(server->local_addr()));
    ASSERT_TRUE(eventually([&] { return server->metrics().total().closed(CloseReason::limit) == 5; }));
    if (std::chrono::steady_clock::now() - t_first < 900ms) {
        EXPECT_EQ(rec.size(), 1u);
    }

    // The next one, a second later, says how many were held back.
    std::this_thread::sleep_until(t_first + 1100ms);
    SilentPeer last(server->local_addr());
    ASSERT_TRUE(eventually([&] { return rec.size() >= 2; }));
    const std::string later = rec.lines().at(1);
    EXPECT_TRUE(contains(later, "; 4 more limit closes on this reactor since the last report")) << later;
    EXPECT_EQ(rec.size(), 2u);
}

TEST(LogEvents, an_input_limit_close_names_max_input) {
    Recorder rec;
    TcpServerOptions opts;
    opts.reactors = 1;
    opts.connection.max_input = 1024;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection&, Buffer&) {});  // never consumes
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all(std::string(4096, 'a')));
    client.shutdown_write();
    (void)client.read_to_eof();  // the lingering close ends with the peer's EOF
    ASSERT_TRUE(eventually([&] { return rec.size() >= 1; }));
    const std::string line = rec.lines().at(0);
    EXPECT_TRUE(contains(line, "closed for a limit: its unconsumed input passed max_input (1024 bytes)")) << line;
}

TEST(LogEvents, an_application_abort_for_a_limit_says_the_application_aborted) {
    Recorder rec;
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        in.consume_all();
        conn.abort(CloseReason::limit);  // e.g. a protocol's own size limit
    });
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all(std::string(16, 'a')));
    ASSERT_TRUE(eventually([&] { return rec.size() >= 1; }));
    const std::string line = rec.lines().at(0);
    EXPECT_TRUE(contains(line, "closed for a limit: the application aborted it (0 queued bytes dropped with a reset)"))
        << line;
    EXPECT_FALSE(contains(line, "max_input")) << line;
}

TEST(LogEvents, a_stop_whose_grace_ran_out_warns_with_how_many_connections_were_left) {
    Recorder rec;
    TcpServerOptions opts;
    opts.connection.max_output = 64 * 1024 * 1024;
    opts.connection.high_water_mark = 0;
    auto server = flooding_server(opts);
    const std::string where = server->local_addr().to_string();
    SilentPeer a(server->local_addr()), b(server->local_addr());
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(eventually([&] { return server->metrics().total().bytes_out > 0 && server->connections() == 2; }));
    ASSERT_TRUE(server->stop(200ms));
    const auto lines = rec.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "stop: the grace of 200 ms ran out with 2 connections still closing on " + where +
                            "; they were closed, output still queued dropped with a reset");
}

TEST(LogEvents, a_stop_that_drained_in_time_logs_nothing) {
    Recorder rec;
    TcpServerOptions opts;
    opts.reactors = 1;
    auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), opts).value();
    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    ASSERT_TRUE(server->start());
    BlockingClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("ping"));
    ASSERT_EQ(client.read_exact(4).size(), 4u);
    std::thread closer([&] {  // answers the server's FIN with its own
        (void)client.read_to_eof();
        client.close();
    });
    ASSERT_TRUE(server->stop(5s));
    closer.join();
    EXPECT_EQ(rec.size(), 0u);
}
