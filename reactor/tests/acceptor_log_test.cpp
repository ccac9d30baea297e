// reactor/tests/acceptor_log_test.cpp — the acceptor's pause warning: one EMFILE pause
// logs one line naming the listener, the pause and the error; further pauses within a
// second are held back and counted in the next line.
//
// RLIMIT_NOFILE applies to the whole process, so the scenario runs in a fork()ed child
// (as acceptor_emfile_test.cpp does). The child makes its client sockets first, at fd
// numbers >= 256, then lowers the limit to its lowest free fd number, so that the next
// accept4 fails with EMFILE while the clients keep working.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/core/log.hpp"
#include "pollux/reactor/acceptor.hpp"
#include "pollux/reactor/reactor_pool.hpp"
#include "support/pool_support.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Lines {
    std::mutex mu;
    std::vector<std::string> text;
    std::vector<LogLevel> level;
    std::size_t size() {
        std::lock_guard lock(mu);
        return text.size();
    }
    std::string at(std::size_t i) {
        std::lock_guard lock(mu);
        return i < text.size() ? text[i] : std::string();
    }
};

net::TcpStream high_client_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 256);
    ::close(fd);
    return high < 0 ? net::TcpStream() : net::TcpStream::from_fd(OwnedFd(high));
}

bool start_connect(const net::TcpStream& s, const net::SocketAddr& addr) {
    return ::connect(s.fd(), addr.as_sockaddr(), addr.len()) == 0 || errno == EINPROGRESS;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

int fail(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "[log child] FAILED: %s %s\n", what, detail.c_str());
    return 1;
}

int run_pause_log_scenario() {
    Lines lines;
    set_log_sink([&lines](LogLevel level, std::string_view text) {
        std::lock_guard lock(lines.mu);
        lines.text.emplace_back(text);
        lines.level.push_back(level);
    });
    auto pool_or = ReactorPool::create({.threads = 1});
    if (!pool_or) return fail("pool");
    auto& pool = **pool_or;
    std::atomic<std::size_t> delivered{0};
    AcceptorOptions options;
    options.resource_pause = 200ms;
    auto acceptor_or = Acceptor::start(
        pool, net::SocketAddr::loopback_v4(0),
        [&](Reactor& r, net::TcpStream, net::SocketAddr) {
            pool.connection_closed(r.index());  // the stream closes here
            delivered.fetch_add(1);
        },
        options);
    if (!acceptor_or || !pool.start()) return fail("acceptor/pool start");
    Acceptor& acceptor = **acceptor_or;
    const net::SocketAddr addr = acceptor.local_addr();

    net::TcpStream first = high_client_socket(), second = high_client_socket(), warm = high_client_socket();
    if (first.fd() < 0 || second.fd() < 0 || warm.fd() < 0) return fail("client sockets");
    // UBSan's vptr check validates an unseen (object, type) pair with a pipe(2), which
    // fails once fds run out (acceptor_emfile_test.cpp). So, while fds are plentiful:
    // one accepted connection (the listener's on_event), and the log line's
    // error_code::message().
    if (!start_connect(warm, addr) || !test::wait_until([&] { return delivered.load() == 1; }, 5s))
        return fail("warm-up connection");
    if (errno_code(EMFILE).message().empty() || is_would_block(errno_code(EMFILE))) return fail("warm-up");

    ::rlimit saved{};
    ::getrlimit(RLIMIT_NOFILE, &saved);
    // No new fd from here on: the limit is the lowest free fd number.
    auto exhaust_fds = [&saved] {
        const int lowest_free = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
        if (lowest_free < 0) return false;
        ::close(lowest_free);
        ::rlimit low = saved;
        low.rlim_cur = static_cast<rlim_t>(lowest_free);
        return ::setrlimit(RLIMIT_NOFILE, &low) == 0;
    };

    int failures = 0;
    auto check = [&failures](bool ok, const char* what, const std::string& detail = {}) {
        if (!ok) failures += fail(what, detail);
    };
    // One connection while out of fds: one EMFILE, one shed, one pause, one line. The
    // limit is restored at once, so the retry after the pause finds nothing to do.
    if (!exhaust_fds()) return fail("setrlimit");
    if (!start_connect(first, addr)) return fail("connect 1");
    const bool paused = test::wait_until([&] { return acceptor.stats().pauses >= 1; }, 5s);
    const auto t_first = Clock::now();
    ::setrlimit(RLIMIT_NOFILE, &saved);
    check(paused, "no pause");
    std::this_thread::sleep_for(400ms);  // the pause ends; accept finds nothing pending
    const std::string line = lines.at(0);
    std::fprintf(stderr, "[log child] %s\n", line.c_str());
    const std::string expected = "accepting on " + addr.to_string() +
                                 " paused for 200 ms: Too many open files (shed 1 pending connection)";
    check(lines.size() == 1, "lines after one pause:", std::to_string(lines.size()));
    check(line == expected, "line:", line + " != " + expected);
    check(acceptor.stats().pauses == 1, "pauses != 1:", std::to_string(acceptor.stats().pauses));
    {
        std::lock_guard lock(lines.mu);
        check(!lines.level.empty() && lines.level[0] == LogLevel::warn, "level is not warn");
    }

    // Out of fds for a while: accept4 fails with EMFILE after every pause (the kernel
    // takes the fd before it looks at the queue), so the listener pauses every 200 ms.
    // At most one line per second reaches the sink, the next one counting the rest.
    if (!exhaust_fds()) return fail("setrlimit");
    if (!start_connect(second, addr)) return fail("connect 2");
    std::this_thread::sleep_until(t_first + 1700ms);
    ::setrlimit(RLIMIT_NOFILE, &saved);
    const auto t_end = Clock::now();
    std::this_thread::sleep_for(300ms);
    const std::uint64_t pauses = acceptor.stats().pauses;
    const std::size_t n = lines.size();
    const double seconds = std::chrono::duration<double>(t_end - t_first).count();
    std::fprintf(stderr, "[log child] %llu pauses in %.2f s, %zu lines\n", static_cast<unsigned long long>(pauses),
                 seconds, n);
    check(pauses >= 4, "too few pauses while out of fds:", std::to_string(pauses));
    check(n >= 2 && static_cast<double>(n) <= 2.0 + seconds, "lines not one per second:", std::to_string(n));
    const std::string later = lines.at(1);
    std::fprintf(stderr, "[log child] %s\n", later.c_str());
    check(contains(later, " more pauses since the last report"), "second line:", later);

    ::setrlimit(RLIMIT_NOFILE, &saved);
    check(pool.stop(1s).has_value(), "pool stop");
    reset_log_sink();
    return failures == 0 ? 0 : 1;
}

TEST(AcceptorLog, one_emfile_pause_logs_one_warning_naming_the_listener_and_later_ones_are_rate_limited) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork: " << errno;
    if (pid == 0) {
        const int code = run_pause_log_scenario();
        std::fflush(nullptr);
        ::_exit(code);
    }
    int status = 0;
    const auto until = Clock::now() + 60s;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < until) std::this_thread::sleep_for(10ms);
    if (done == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL() << "the scenario did not finish within 60 s";
    }
    ASSERT_EQ(done, pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "see the [log child] lines above";
}

}  // namespace
}  // namespace pollux::reactor
