// The HTTP app on a real TcpServer over loopback: one write per pipelined batch (seen in
// its own /metrics), a slowloris client closed at the header deadline, keep-alive and
// the per-connection request cap.
#include "http_app.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace pollux::samples::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Client {
public:
    explicit Client(const net::SocketAddr& addr) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        EXPECT_EQ(::connect(fd_, addr.as_sockaddr(), addr.len()), 0);
    }
    ~Client() { ::close(fd_); }
    bool send(std::string_view s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
    // Reads until `n` complete responses (by Content-Length) arrived, EOF, or a timeout.
    std::string read_responses(int n) {
        std::string got;
        char buf[65536];
        while (count_complete(got) < n) {
            const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r <= 0) break;
            got.append(buf, static_cast<std::size_t>(r));
        }
        return got;
    }
    // Reads until EOF (or error); {bytes, the errno or 0}.
    std::pair<std::string, int> read_to_eof() {
        std::string got;
        char buf[4096];
        for (;;) {
            const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r == 0) return {got, 0};
            if (r < 0) return {got, errno};
            got.append(buf, static_cast<std::size_t>(r));
        }
    }

    static int count_complete(std::string_view s) {
        int n = 0;
        std::size_t at = 0;
        for (;;) {
            const auto end = s.find("\r\n\r\n", at);
            if (end == std::string_view::npos) return n;
            const auto cl = s.find("Content-Length: ", at);
            if (cl == std::string_view::npos || cl > end) return n;
            const std::size_t len = std::stoul(std::string(s.substr(cl + 16, 12)));
            if (s.size() < end + 4 + len) return n;
            ++n;
            at = end + 4 + len;
        }
    }

private:
    int fd_ = -1;
};

std::uint64_t counter(const std::string& metrics, std::string_view name) {
    const std::string key = std::string(name) + " ";
    const auto at = metrics.find("\n" + key);
    if (at == std::string::npos) return ~std::uint64_t{0};
    return std::stoull(metrics.substr(at + 1 + key.size()));
}

struct Fixture {
    explicit Fixture(AppConfig config = {}) {
        framework::TcpServerOptions options;
        options.reactors = 2;
        app = App::bind(net::SocketAddr::loopback_v4(0), options, config).value();
        EXPECT_TRUE(app->start());
    }
    std::string metrics() {
        Client c(app->local_addr());
        c.send("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        return c.read_to_eof().first;
    }
    std::unique_ptr<App> app;
};

TEST(HttpApp, a_pipelined_batch_sent_at_once_is_answered_in_order_with_one_write) {
    Fixture f;
    const std::string before = f.metrics();
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += "GET /plaintext?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    Client c(f.app->local_addr());
    ASSERT_TRUE(c.send(batch));  // one send: one segment on loopback, one read on the server
    const std::string got = c.read_responses(16);
    EXPECT_EQ(Client::count_complete(got), 16);
    const std::string after = f.metrics();
    // The first /metrics response was written after its text was rendered, so it counts
    // in `after` too: 1 write for it, 1 for the batch.
    EXPECT_EQ(counter(after, "pollux_http_writes_total") - counter(before, "pollux_http_writes_total"), 2u);
    EXPECT_EQ(counter(after, "pollux_http_requests_total") - counter(before, "pollux_http_requests_total"), 17u);
}

TEST(HttpApp, a_slowloris_client_is_answered_408_and_closed_at_the_header_deadline) {
    AppConfig config;
    config.header_timeout = 1000ms;
    Fixture f(config);
    Client c(f.app->local_addr());
    const std::string head = "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 's');
    const auto t0 = Clock::now();
    std::atomic<bool> done{false};
    std::thread trickle([&] {
        for (char ch : head) {  // one header byte every 100 ms, never the blank line
            if (done || !c.send(std::string_view(&ch, 1))) break;
            std::this_thread::sleep_for(100ms);
        }
    });
    auto [bytes, err] = c.read_to_eof();
    const auto took = Clock::now() - t0;
    done = true;
    trickle.join();
    EXPECT_TRUE(bytes.starts_with("HTTP/1.1 408 ")) << bytes.substr(0, 40);
    EXPECT_GE(took, 1000ms);
    EXPECT_LT(took, 2000ms) << "closed at the deadline + at most 1 s";
    (void)err;  // EOF, or a reset if a trickled byte arrived after the close
}

TEST(HttpApp, keep_alive_serves_many_requests_on_one_connection_up_to_the_cap) {
    AppConfig config;
    config.max_requests = 5;
    Fixture f(config);
    Client c(f.app->local_addr());
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(c.send("GET /json HTTP/1.1\r\nHost: t\r\n\r\n"));
        const std::string r = c.read_responses(1);
        ASSERT_TRUE(r.starts_with("HTTP/1.1 200 ")) << i;
        EXPECT_EQ(r.find("Connection: close"), std::string::npos);
    }
    ASSERT_TRUE(c.send("GET /json HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto [last, err] = c.read_to_eof();
    EXPECT_EQ(err, 0);
    EXPECT_NE(last.find("Connection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace pollux::samples::http
