// UnixServer: echo over pathname and abstract sockets, the socket file's mode and
// removal, stop, max_connections.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pollux/framework/unix_server.hpp"
#include "support/close_log.hpp"
#include "support/loopback_client.hpp"

using namespace pollux;
using namespace pollux::framework;
using namespace std::chrono_literals;
using pollux::test::CloseLog;
using pollux::test::eventually;

namespace {

// A unique pathname under /tmp for this process and test.
std::string temp_path(std::string_view tag) {
    static std::atomic<int> n{0};
    return "/tmp/pollux-us-" + std::to_string(::getpid()) + "-" + std::string(tag) + "-" + std::to_string(n++) + ".sock";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// A blocking AF_UNIX client with 10 s timeouts: a broken test fails, it does not hang.
class UnixClient {
public:
    explicit UnixClient(const net::UnixSocketAddr& addr) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return;
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd_, addr.as_sockaddr(), addr.len()) != 0) close();
    }
    ~UnixClient() { close(); }
    UnixClient(const UnixClient&) = delete;
    UnixClient& operator=(const UnixClient&) = delete;

    bool connected() const noexcept { return fd_ >= 0; }
    bool write_all(std::string_view s) {
        while (!s.empty()) {
            const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    std::string read_exact(std::size_t n) {
        std::string out(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }
    // True on EOF or reset within the timeout.
    bool wait_closed() {
        char c;
        return ::recv(fd_, &c, 1, 0) <= 0;
    }
    // 0 for a clean EOF, else the errno that ended the read (ECONNRESET, EAGAIN on timeout).
    int read_end() {
        char c;
        const ssize_t r = ::recv(fd_, &c, 1, 0);
        return r == 0 ? 0 : (r < 0 ? errno : -1);
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

void echo(UnixServer& server) {
    server.on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
}

}  // namespace

TEST(UnixServer, echoes_over_a_pathname_socket_created_with_mode_0600_and_removed_by_stop) {
    const std::string path = temp_path("echo");
    UnixServerOptions opts;
    opts.reactors = 2;
    auto server = UnixServer::bind(path, opts).value();
    echo(*server);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_TRUE(server->start());

    std::vector<std::unique_ptr<UnixClient>> clients;
    for (int i = 0; i < 8; ++i) {  // round-robin: both reactors get some
        clients.push_back(std::make_unique<UnixClient>(server->local_addr()));
        ASSERT_TRUE(clients.back()->connected());
    }
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const std::string msg = "msg-" + std::to_string(i) + "-" + std::to_string(round);
            ASSERT_TRUE(clients[i]->write_all(msg));
            EXPECT_EQ(clients[i]->read_exact(msg.size()), msg);
        }
    }
    EXPECT_EQ(server->connections(), 8u);
    const auto snap = server->metrics().total();
    EXPECT_EQ(snap.connections_accepted, 8u);
    EXPECT_GT(server->metrics().reactor(0).load().connections_accepted, 0u);
    EXPECT_GT(server->metrics().reactor(1).load().connections_accepted, 0u);

    clients.clear();
    EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
    server->stop();
    EXPECT_FALSE(exists(path));
}

TEST(UnixServer, stop_closes_open_connections_with_server_stop_and_frees_the_path) {
    const std::string path = temp_path("stop");
    UnixServerOptions opts;
    opts.reactors = 1;
    auto server = UnixServer::bind(path, opts).value();
    echo(*server);
    CloseLog closes;
    server->on_close([&](Connection&, CloseReason r) { closes.add(r); });
    ASSERT_TRUE(server->start());
    UnixClient client(server->local_addr());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.write_all("x"));
    ASSERT_EQ(client.read_exact(1), "x");

    std::thread peer([&] { EXPECT_EQ(client.read_end(), 0); });  // a clean EOF, no reset
    server->stop(2000ms);
    peer.join();
    EXPECT_EQ(closes.reasons(), std::vector{CloseReason::server_stop});
    EXPECT_FALSE(exists(path));
    // The path can be bound again at once.
    auto again = UnixServer::bind(path, opts);
    ASSERT_TRUE(again) << again.error().message();
}

TEST(UnixServer, echoes_over_an_abstract_address) {
    const std::string name = "pollux-us-abstract-" + std::to_string(::getpid());
    auto addr = net::UnixSocketAddr::from_abstract_name(name).value();
    UnixServerOptions opts;
    opts.reactors = 1;
    auto server = UnixServer::bind(addr, opts).value();
    echo(*server);
    ASSERT_TRUE(server->start());
    EXPECT_EQ(server->local_addr().kind(), net::UnixSocketAddr::Kind::Abstract);
    UnixClient client(addr);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.write_all("abstract"));
    EXPECT_EQ(client.read_exact(8), "abstract");
    client.close();
    server->stop();
    UnixClient late(addr);  // nobody listens any more
    EXPECT_FALSE(late.connected());
}

TEST(UnixServer, bind_to_a_live_path_fails_with_address_in_use_and_leaves_it_alone) {
    const std::string path = temp_path("busy");
    auto first = UnixServer::bind(path).value();
    auto second = UnixServer::bind(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), std::errc::address_in_use);
    EXPECT_TRUE(exists(path));  // the failed bind did not unlink the first server's file
    first->stop();
    EXPECT_FALSE(exists(path));
}

TEST(UnixServer, runs_a_handler_made_by_the_factory) {
    struct Upper final : ConnectionHandler {
        void on_data(Connection& conn, Buffer& in) override {
            std::string s(reinterpret_cast<const char*>(in.readable().data()), in.readable_size());
            for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
            conn.send(std::string_view(s));
            in.consume_all();
        }
    };
    const std::string path = temp_path("factory");
    UnixServerOptions opts;
    opts.reactors = 1;
    auto server = UnixServer::bind(path, opts).value();
    server->set_handler_factory([](Connection&) { return std::make_unique<Upper>(); });
    ASSERT_TRUE(server->start());
    UnixClient client(server->local_addr());
    ASSERT_TRUE(client.write_all("pollux"));
    EXPECT_EQ(client.read_exact(6), "POLLUX");
}

TEST(UnixServer, connections_above_max_connections_are_closed_at_once_and_counted) {
    const std::string path = temp_path("max");
    UnixServerOptions opts;
    opts.reactors = 1;
    opts.max_connections = 1;
    auto server = UnixServer::bind(path, opts).value();
    echo(*server);
    ASSERT_TRUE(server->start());
    UnixClient first(server->local_addr());
    ASSERT_TRUE(first.write_all("a"));
    ASSERT_EQ(first.read_exact(1), "a");
    UnixClient second(server->local_addr());
    ASSERT_TRUE(second.connected());  // the kernel completes it; the server closes it
    EXPECT_TRUE(second.wait_closed());
    EXPECT_EQ(server->metrics().total().connections_rejected, 1u);
    ASSERT_TRUE(first.write_all("b"));
    EXPECT_EQ(first.read_exact(1), "b");
}

namespace {

// The EMFILE scenario, run in a fork()ed child because RLIMIT_NOFILE is per process.
// Storm clients are created before the limit drops and moved to fd numbers >= 256
// (above the new limit: existing fds keep working, only new ones are refused); then
// every free fd below the limit is taken, so the server cannot accept at all.
int run_unix_emfile_child(const std::string& path) {
    int failures = 0;
    auto fail = [&](const char* what) {
        std::fprintf(stderr, "[unix emfile child] FAILED: %s\n", what);
        ++failures;
    };
    UnixServerOptions opts;
    opts.reactors = 1;
    opts.resource_pause = 50ms;
    auto server_or = UnixServer::bind(path, opts);
    if (!server_or) return fail("bind"), 2;
    UnixServer& server = **server_or;
    echo(server);
    if (!server.start()) return fail("start"), 2;
    UnixClient veteran(server.local_addr());
    if (!veteran.write_all("v1") || veteran.read_exact(2) != "v1") return fail("veteran before"), 2;

    constexpr int kStorm = 20;
    std::vector<int> storm;
    for (int i = 0; i < kStorm; ++i) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 256);
        ::close(fd);
        if (high < 0) return fail("storm socket"), 2;
        storm.push_back(high);
    }
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // UBSan's vptr check opens a pipe the first time it sees a (type, object) pair; make
    // the error-category calls of the shed path here, while fds are plentiful.
    const std::error_code warm(EMFILE, std::system_category());
    if (is_would_block(warm) || warm == std::errc::interrupted || warm != std::errc::too_many_files_open)
        return fail("warm-up"), 2;

    ::rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = 200;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return fail("setrlimit"), 2;
    std::vector<int> fillers;
    for (int fd; (fd = ::fcntl(devnull, F_DUPFD_CLOEXEC, 0)) >= 0;) fillers.push_back(fd);

    const auto iterations_before = server.pool().reactor(0).stats().loop_iterations;
    const net::UnixSocketAddr& addr = server.local_addr();
    for (int fd : storm)
        if (::connect(fd, addr.as_sockaddr(), addr.len()) != 0) fail("storm connect");
    // Every storm peer sees a close (shed), none hangs in the backlog.
    int closed = 0;
    const auto until = std::chrono::steady_clock::now() + 5s;
    std::vector<bool> seen(kStorm, false);
    while (closed < kStorm && std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < kStorm; ++i) {
            char c;
            if (!seen[static_cast<std::size_t>(i)] && (::recv(storm[static_cast<std::size_t>(i)], &c, 1, 0) == 0 || errno == ECONNRESET)) {
                seen[static_cast<std::size_t>(i)] = true;
                ++closed;
            }
        }
        std::this_thread::sleep_for(5ms);
    }
    if (closed != kStorm) fail("some storm peers were not closed");
    // The acceptor's EMFILE count reaches the metrics with the once-a-second refresh.
    const auto booked_by = std::chrono::steady_clock::now() + 3s;
    while (server.metrics().reactor(0).load().emfile_events == 0 && std::chrono::steady_clock::now() < booked_by)
        std::this_thread::sleep_for(20ms);
    if (server.metrics().reactor(0).load().emfile_events == 0) fail("emfile_events is 0");
    if (!veteran.write_all("v2") || veteran.read_exact(2) != "v2") fail("veteran during");
    std::this_thread::sleep_for(300ms);
    const auto iterations = server.pool().reactor(0).stats().loop_iterations - iterations_before;
    std::fprintf(stderr, "[unix emfile child] %d shed, %llu loop iterations in ~0.3 s+\n", closed,
                 static_cast<unsigned long long>(iterations));
    if (iterations > 5000) fail("the accept loop spins");

    for (int fd : fillers) ::close(fd);
    UnixClient late(addr);
    if (!late.write_all("late") || late.read_exact(4) != "late") fail("new connection after fds were freed");
    for (int fd : storm) ::close(fd);
    server.stop(1s);
    return failures == 0 ? 0 : 1;
}

}  // namespace

TEST(UnixServer, emfile_sheds_pending_connections_without_spinning_and_recovers) {
    const std::string path = temp_path("emfile");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork: " << errno;
    if (pid == 0) {
        const int code = run_unix_emfile_child(path);
        std::fflush(nullptr);
        ::_exit(code);
    }
    int status = 0;
    const auto until = std::chrono::steady_clock::now() + 60s;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    if (done == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL() << "the EMFILE scenario did not finish within 60 s";
    }
    ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "see the [unix emfile child] lines above";
    ::unlink(path.c_str());
}
