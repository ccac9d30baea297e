// TcpServer::run_until_signal: the 15-line echo server's main loop, in a forked child.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "pollux/framework/tcp_server.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;

TEST(TcpServerSignal, run_until_signal_serves_then_stops_gracefully_on_sigterm) {
    int port_pipe[2];
    ASSERT_EQ(::pipe(port_pipe), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(port_pipe[0]);
        auto server = TcpServer::bind(net::SocketAddr::loopback_v4(0), TcpServerOptions{.reactors = 1});
        if (!server) ::_exit(2);
        (*server)->on_data([](Connection& conn, Buffer& in) {
            conn.send(in.readable());
            in.consume_all();
        });
        const std::uint16_t port = (*server)->local_addr().port();
        if (::write(port_pipe[1], &port, sizeof port) != sizeof port) ::_exit(3);
        auto r = (*server)->run_until_signal();
        ::_exit(r ? 0 : 4);
    }
    ::close(port_pipe[1]);
    std::uint16_t port = 0;
    ASSERT_EQ(::read(port_pipe[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    ::close(port_pipe[0]);
    {
        pollux::test::BlockingClient client(net::SocketAddr::loopback_v4(port));
        ASSERT_TRUE(client.connected());
        ASSERT_TRUE(client.write_all("echo me"));
        EXPECT_EQ(client.read_exact(7).size(), 7u);
        ::kill(child, SIGTERM);
        EXPECT_TRUE(client.wait_closed());  // the graceful stop closes us
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
}
