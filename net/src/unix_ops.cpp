// net/src/unix_ops.cpp — AF_UNIX bind with an exact file mode, stale-file handling,
// addresses and socketpair.
#include "unix_ops.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "socket_ops.hpp"

namespace pollux::net::ops {
namespace {

// ---- Creating the socket file with an exact mode ------------------------------------
//
// bind(2) creates the socket file with mode 0777 & ~umask. The umask is per process
// (strictly: per fs_struct, shared by all threads), so setting it around bind() races
// with every other thread that creates files or sets the umask. chmod() after bind()
// leaves a window in which the file has the umask's bits (a datagram socket is
// reachable at once; a listener would be too if listen() ran first).
//
// pollux instead runs the bind(2) in a vfork-style child: clone(CLONE_VM | CLONE_VFORK |
// CLONE_FILES) WITHOUT CLONE_FS. The child shares our memory and fd table, so its bind
// binds our socket; but it has its own copy of the fs_struct, so its umask is its own:
// it sets umask(0777 & ~mode), binds, and exits with 0 or the errno. The calling thread is suspended until then. The file
// therefore comes into existence with exactly `mode`, and no other thread's umask is
// touched. (posix_spawn uses the same clone flags; seccomp profiles that allow
// posix_spawn allow this.)
//
// Why not bind inside a private 0700 directory and rename(2) the socket into place?
// The kernel records the address given to bind(), not the file's later name:
// getsockname(), the peer address a client sees, and the sender address of every
// datagram would all name the temporary path, so datagram replies would fail with
// ENOENT. The child keeps the real path as the socket's address.
//
// One exception the umask cannot cover: a directory with a default POSIX ACL. The
// kernel then derives the mode from the ACL and ignores the umask. pollux chmods the
// file to `mode` right after bind — before listen() for a listener, so no client can
// connect in between; a datagram socket in such a directory has a short window.

// ThreadSanitizer intercepts clone() and treats every clone as a fork, running its fork
// bookkeeping inside the child; with CLONE_VM that bookkeeping overwrites the parent's
// own state. Under TSan the child is therefore a plain copy-on-write child (no flags):
// slower, same semantics — its copy of our fd table still refers to the same socket,
// and the result travels in the exit status either way.
#if defined(__SANITIZE_THREAD__)
#define POLLUX_UNIX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POLLUX_UNIX_TSAN 1
#endif
#endif
#ifdef POLLUX_UNIX_TSAN
constexpr int kCloneFlags = 0;
#else
constexpr int kCloneFlags = CLONE_VM | CLONE_VFORK | CLONE_FILES;
#endif

constexpr std::size_t kChildStackSize = 64 * 1024;

struct BindRequest {
    int fd;
    const ::sockaddr* addr;
    ::socklen_t len;
    ::mode_t umask;
};

// The child. It runs on its own small stack while the parent thread waits, so it makes
// raw syscalls only and is not instrumented by the sanitizers. Exit status: 0 or errno.
__attribute__((no_sanitize("address", "thread", "undefined"))) int bind_in_child(void* arg) {
    const auto* req = static_cast<const BindRequest*>(arg);
    ::syscall(SYS_umask, req->umask);
    const long err = ::syscall(SYS_bind, req->fd, req->addr, req->len) < 0 ? errno : 0;
    ::syscall(SYS_exit, err);
    return 0;
}

Result<void> bind_with_mode(int fd, const UnixSocketAddr& addr, ::mode_t mode) {
    void* stack = ::mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                         -1, 0);
    if (stack == MAP_FAILED) return last_error();
    BindRequest req{fd, addr.as_sockaddr(), addr.len(), static_cast<::mode_t>(0777 & ~mode)};

    // Every signal stays blocked in the child (it inherits this mask), so no handler of
    // ours ever runs on the child's stack.
    ::sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // Exit signal 0 (low byte of the flags): no SIGCHLD reaches the application, and
    // only a __WCLONE wait (ours) reaps the child, never the application's waitpid(-1).
    const int pid = ::clone(bind_in_child, static_cast<char*>(stack) + kChildStackSize, kCloneFlags, &req);
    const int clone_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    int status = 0;
    int waited = -1;
    if (pid > 0) {
        while ((waited = ::waitpid(pid, &status, static_cast<int>(__WCLONE))) < 0 && errno == EINTR) {
        }
    }
    const int wait_errno = errno;
    ::munmap(stack, kChildStackSize);
    if (pid < 0) return std::unexpected(errno_code(clone_errno));
    if (waited < 0) return std::unexpected(errno_code(wait_errno));
    if (!WIFEXITED(status)) return error(std::errc::interrupted);
    if (WEXITSTATUS(status) != 0) return std::unexpected(errno_code(WEXITSTATUS(status)));
    return {};
}

// After bind: a default ACL on the directory may have overridden the umask (above).
void enforce_mode(const std::string& path, ::mode_t mode) {
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) != mode) {
        ::chmod(path.c_str(), mode);
    }
}

// ---- An existing file at the path ----------------------------------------------------

// True when nobody is bound at `addr` any more: connect() says ECONNREFUSED. A live
// socket accepts the probe (or says EAGAIN, backlog full; or EPROTOTYPE, other type);
// any other answer (EACCES, ...) cannot prove staleness either.
bool is_stale(int type, const UnixSocketAddr& addr) {
    auto probe = new_socket(AF_UNIX, type);
    if (!probe) return false;
    return ::connect(probe->get(), addr.as_sockaddr(), addr.len()) < 0 && errno == ECONNREFUSED;
}

Result<void> bind_pathname(int fd, int type, const UnixSocketAddr& addr, const UnixBindOptions& options) {
    const std::string path(*addr.as_pathname());
    const auto in_use = [] { return error(std::errc::address_in_use); };
    // Two attempts: the second only after the path was found gone or a stale file at
    // it was unlinked.
    for (int attempt = 0;; ++attempt) {
        auto bound = bind_with_mode(fd, addr, options.mode);
        if (bound) {
            enforce_mode(path, options.mode);
            return bound;
        }
        if (bound.error() != std::errc::address_in_use || attempt == 1) return bound;

        struct ::stat before {};
        if (::lstat(path.c_str(), &before) < 0) {
            if (errno == ENOENT) continue;  // gone meanwhile
            return in_use();
        }
        if (!S_ISSOCK(before.st_mode)) return in_use();  // never unlink a non-socket
        if (!is_stale(type, addr) || !options.replace_stale) return in_use();

        // Unlink only the file we probed. Another process could still swap in a live
        // socket between this lstat and the unlink; no syscall closes that window
        // (there is no "unlink if inode"), so the check narrows it to microseconds.
        struct ::stat now {};
        if (::lstat(path.c_str(), &now) < 0) {
            if (errno == ENOENT) continue;
            return in_use();
        }
        if (now.st_dev != before.st_dev || now.st_ino != before.st_ino) return in_use();
        if (::unlink(path.c_str()) < 0 && errno != ENOENT) return last_error();
    }
}

Result<UnixSocketAddr> addr_from(int (*get)(int, ::sockaddr*, ::socklen_t*), int fd) {
    ::sockaddr_un sa{};
    ::socklen_t len = sizeof sa;
    if (get(fd, reinterpret_cast<::sockaddr*>(&sa), &len) < 0) return last_error();
    return UnixSocketAddr::from_sockaddr(&sa, len);
}

}  // namespace

Result<void> bind_unix(int fd, int type, const UnixSocketAddr& addr, const UnixBindOptions& options) {
    if ((options.mode & ~static_cast<::mode_t>(0777)) != 0) return error(std::errc::invalid_argument);
    if (addr.kind() != UnixSocketAddr::Kind::Pathname) return ops::bind(fd, addr.as_sockaddr(), addr.len());
    return bind_pathname(fd, type, addr, options);
}

Result<void> connect_unix(int fd, const UnixSocketAddr& addr) {
    return ops::connect(fd, addr.as_sockaddr(), addr.len());
}

Result<UnixSocketAddr> unix_local_addr(int fd) { return addr_from(::getsockname, fd); }
Result<UnixSocketAddr> unix_peer_addr(int fd) { return addr_from(::getpeername, fd); }

Result<std::pair<OwnedFd, OwnedFd>> unix_pair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) return last_error();
    return std::pair{OwnedFd(fds[0]), OwnedFd(fds[1])};
}

}  // namespace pollux::net::ops
