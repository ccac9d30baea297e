// core/src/pipe.cpp
#include "pollux/core/pipe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

namespace pollux {
namespace {

Result<void> set_nonblocking_fd(int fd, bool on) {
    if (fd < 0) return error(std::errc::bad_file_descriptor);
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return last_error();
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) return last_error();
    return {};
}

// write(2) on a pipe cannot take MSG_NOSIGNAL. Block SIGPIPE for this thread around
// the write, and if the write raised one that was not already pending, consume it,
// so the process never sees the signal and no global SIG_IGN is needed.
Result<std::size_t> write_without_sigpipe(int fd, std::span<const std::byte> buf) {
    sigset_t pipe_set, old_mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

    const ssize_t n = ::write(fd, buf.data(), buf.size());
    const int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (n < 0) return std::unexpected(errno_code(saved));
    return static_cast<std::size_t>(n);
}

}  // namespace

Result<std::size_t> Sender::write(std::span<const std::byte> buf) const {
    return io_.do_io([&](int fd) { return write_without_sigpipe(fd, buf); });
}

Result<void> Sender::set_nonblocking(bool on) const { return set_nonblocking_fd(io_.fd(), on); }

Result<std::size_t> Receiver::read(std::span<std::byte> buf) const {
    return io_.do_io([&](int fd) -> Result<std::size_t> {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) return last_error();
        return static_cast<std::size_t>(n);
    });
}

Result<void> Receiver::set_nonblocking(bool on) const { return set_nonblocking_fd(io_.fd(), on); }

Result<std::pair<Sender, Receiver>> pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return last_error();
    return std::pair{Sender::from_fd(OwnedFd(fds[1])), Receiver::from_fd(OwnedFd(fds[0]))};
}

}  // namespace pollux
