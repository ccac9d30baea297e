// core/tests/detail_syscall_test.cpp — the raw syscalls of pollux/core/detail/syscall.hpp:
// kernel convention (-errno), errno untouched, the same results as the libc calls.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "pollux/core/detail/syscall.hpp"

namespace pollux::detail {
namespace {

struct SocketPair {
    int fd[2] = {-1, -1};
    SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0); }
    ~SocketPair() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
};

TEST(DetailSyscall, send_then_recv_moves_the_bytes_and_returns_the_count) {
    SocketPair p;
    const char msg[] = "hello";
    EXPECT_EQ(sys_send(p.fd[0], msg, 5, MSG_NOSIGNAL), 5);
    std::array<char, 16> buf{};
    EXPECT_EQ(sys_recv(p.fd[1], buf.data(), buf.size(), 0), 5);
    EXPECT_EQ(std::memcmp(buf.data(), msg, 5), 0);
}

TEST(DetailSyscall, failures_return_minus_errno_and_leave_errno_alone) {
    SocketPair p;
    std::array<char, 16> buf{};
    errno = 12345;
    EXPECT_EQ(sys_recv(p.fd[1], buf.data(), buf.size(), 0), -EAGAIN);  // nothing to read
    EXPECT_EQ(sys_recv(-1, buf.data(), buf.size(), 0), -EBADF);
#if !defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    EXPECT_EQ(errno, 12345);  // the libc fallback (sanitizer builds) sets errno
#endif
}

TEST(DetailSyscall, send_to_a_closed_peer_is_epipe_not_sigpipe_with_msg_nosignal) {
    SocketPair p;
    ::close(p.fd[1]);
    p.fd[1] = -1;
    const char b = 'x';
    EXPECT_EQ(sys_send(p.fd[0], &b, 1, MSG_NOSIGNAL), -EPIPE);  // a SIGPIPE would kill the test
}

TEST(DetailSyscall, vectored_send_and_recv_gather_and_scatter) {
    SocketPair p;
    char a[] = "abc", b[] = "defg";
    ::iovec out[2] = {{a, 3}, {b, 4}};
    ::msghdr m{};
    m.msg_iov = out;
    m.msg_iovlen = 2;
    EXPECT_EQ(sys_sendmsg(p.fd[0], &m, MSG_NOSIGNAL), 7);
    char x[2], y[8];
    ::iovec in[2] = {{x, 2}, {y, 8}};
    ::msghdr r{};
    r.msg_iov = in;
    r.msg_iovlen = 2;
    EXPECT_EQ(sys_recvmsg(p.fd[1], &r, 0), 7);
    EXPECT_EQ(std::memcmp(x, "ab", 2), 0);
    EXPECT_EQ(std::memcmp(y, "cdefg", 5), 0);
}

TEST(DetailSyscall, epoll_wait_times_out_with_zero_and_reports_a_ready_fd) {
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(ep, 0);
    SocketPair p;
    ::epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 42;
    ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, p.fd[1], &ev), 0);
    std::array<::epoll_event, 4> out{};
    EXPECT_EQ(sys_epoll_wait(ep, out.data(), 4, 0), 0);
    const char c = 'c';
    ASSERT_EQ(sys_send(p.fd[0], &c, 1, MSG_NOSIGNAL), 1);
    EXPECT_EQ(sys_epoll_wait(ep, out.data(), 4, 1000), 1);
    EXPECT_EQ(out[0].data.u64, 42u);
    EXPECT_EQ(sys_epoll_wait(-1, out.data(), 4, 0), -EBADF);
    ::close(ep);
}

}  // namespace
}  // namespace pollux::detail
