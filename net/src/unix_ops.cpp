// net/src/unix_ops.cpp — AF_UNIX bind with an exact file mode, stale-file handling,
// addresses and socketpair.
#include "unix_ops.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "socket_ops.hpp"

namespace pollux::net::ops {
namespace {

// ---- Creating the socket file with an exact mode ------------------------------------
//
// bind(2) creates the socket file with the mode of the socket's own (sockfs) inode,
// masked by the umask — or, in a directory with a default POSIX ACL, by that ACL. The
// sockfs inode starts at 0777, so a plain bind gives 0777 & ~umask: wider than asked
// under a permissive umask. Setting the umask around bind() is no fix: it is shared by
// every thread of the process.
//
// pollux fchmod()s the unbound socket to `mode` first. The file then comes into
// existence with `mode` & ~umask (or `mode` masked by the ACL): never wider than asked,
// with no window and no process-wide state touched. A chmod right after bind() restores
// any bits the umask took away; that only ever widens the file up to `mode`.
Result<void> bind_with_mode(int fd, const UnixSocketAddr& addr, ::mode_t mode) {
    if (::fchmod(fd, mode) < 0) return last_error();
    return ops::bind(fd, addr.as_sockaddr(), addr.len());
}

// After bind: give back the bits the umask or a default ACL took away (see above).
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
