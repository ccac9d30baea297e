// The server over loopback: keys set on one connection are read on another that the
// balancer placed on another reactor; pipelined replies come back in order.
#include "kv_app.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace pollux::samples::kv {
namespace {

class Client {
public:
    explicit Client(const net::SocketAddr& addr) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        EXPECT_EQ(::connect(fd_, addr.as_sockaddr(), addr.len()), 0);
    }
    ~Client() { ::close(fd_); }
    // Sends `wire` and reads until `want` bytes came back (or a timeout).
    std::string ask(const std::string& wire, std::size_t want) {
        EXPECT_EQ(::send(fd_, wire.data(), wire.size(), MSG_NOSIGNAL), static_cast<ssize_t>(wire.size()));
        std::string got;
        char buf[65536];
        while (got.size() < want) {
            const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r <= 0) break;
            got.append(buf, static_cast<std::size_t>(r));
        }
        return got;
    }

private:
    int fd_ = -1;
};

std::string command(std::initializer_list<std::string_view> args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (auto a : args) s += "$" + std::to_string(a.size()) + "\r\n" + std::string(a) + "\r\n";
    return s;
}

TEST(KvApp, keys_set_on_one_reactor_are_read_on_another) {
    framework::TcpServerOptions options;
    options.reactors = 2;  // round robin: the two clients land on different reactors
    auto app = App::bind(net::SocketAddr::loopback_v4(0), options, {}).value();
    ASSERT_TRUE(app->start());
    Client a(app->local_addr());
    Client b(app->local_addr());
    std::string sets, want;
    for (int i = 0; i < 50; ++i) {
        sets += command({"SET", "key" + std::to_string(i), std::to_string(i * i)});
        want += "+OK\r\n";
    }
    EXPECT_EQ(a.ask(sets, want.size()), want);
    std::string gets, values;
    for (int i = 0; i < 50; ++i) {
        gets += command({"GET", "key" + std::to_string(i)});
        const std::string v = std::to_string(i * i);
        values += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
    }
    EXPECT_EQ(b.ask(gets, values.size()), values);
    EXPECT_EQ(b.ask(command({"DBSIZE"}), 5), ":50\r\n");
    const auto accepted = app->server().metrics().snapshot();
    EXPECT_EQ(accepted.reactors[0].connections_accepted, 1u);
    EXPECT_EQ(accepted.reactors[1].connections_accepted, 1u);
    ASSERT_TRUE(app->stop(std::chrono::milliseconds(500)));
}

}  // namespace
}  // namespace pollux::samples::kv
