// pollux/core/detail/syscall.hpp — public, but not API: shared by pollux's own layers.
//
// The per-message syscalls (recv, send, their vectored forms, epoll_wait) made straight
// to the kernel, bypassing glibc's wrappers.
//
// Why: those wrappers are pthread cancellation points. Each call brackets the syscall
// with __pthread_enable_asynccancel / __pthread_disable_asynccancel, about 30 user-space
// instructions, and sets errno (a TLS write) on failure. On an echo that is two of
// every ~150 instructions the framework spends per message. pollux does not support
// pthread_cancel of a reactor thread (it would leak every connection on it anyway), so
// nothing is lost by skipping the cancellation check.
//
// Convention: the kernel's. A result >= 0 is success; a negative result is -errno.
// errno is never read or written.
//
// Sanitizer builds (ASan, TSan, MSan) call the libc functions instead, so the
// sanitizers' interceptors keep seeing the buffers (ASan) and the happens-before edges
// that travel through file descriptors (TSan). Architectures other than x86-64 use
// syscall(2), which is not a cancellation point either.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLLUX_DETAIL_LIBC_SYSCALLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define POLLUX_DETAIL_LIBC_SYSCALLS 1
#endif
#endif

namespace pollux::detail {

#if !defined(POLLUX_DETAIL_LIBC_SYSCALLS)
// syscall(2) without errno: the x86-64 `syscall` instruction, or libc's syscall().
inline long raw_syscall(long nr, long a1, long a2, long a3, long a4 = 0, long a5 = 0, long a6 = 0) noexcept {
#if defined(__x86_64__)
    // The kernel takes arguments 4-6 in r10, r8, r9 and clobbers rcx and r11. Explicit
    // register variables (a GCC/Clang extension) let the compiler load them directly.
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    const long ret = ::syscall(nr, a1, a2, a3, a4, a5, a6);
    return ret < 0 ? -errno : ret;
#endif
}

template <class P>
long arg(P* p) noexcept {
    return reinterpret_cast<long>(p);
}
#endif

// The libc fallback: -errno on failure.
inline long from_libc(long ret) noexcept { return ret < 0 ? -errno : ret; }

inline long sys_recv(int fd, void* buf, std::size_t len, int flags) noexcept {
#if defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    return from_libc(::recv(fd, buf, len, flags));
#else
    return raw_syscall(SYS_recvfrom, fd, arg(buf), static_cast<long>(len), flags, 0, 0);
#endif
}

inline long sys_send(int fd, const void* buf, std::size_t len, int flags) noexcept {
#if defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    return from_libc(::send(fd, buf, len, flags));
#else
    return raw_syscall(SYS_sendto, fd, arg(buf), static_cast<long>(len), flags, 0, 0);
#endif
}

inline long sys_recvmsg(int fd, ::msghdr* msg, int flags) noexcept {
#if defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    return from_libc(::recvmsg(fd, msg, flags));
#else
    return raw_syscall(SYS_recvmsg, fd, arg(msg), flags);
#endif
}

inline long sys_sendmsg(int fd, const ::msghdr* msg, int flags) noexcept {
#if defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    return from_libc(::sendmsg(fd, msg, flags));
#else
    return raw_syscall(SYS_sendmsg, fd, arg(msg), flags);
#endif
}

// epoll_wait(2), as epoll_pwait with no signal mask (the same call; every architecture
// has epoll_pwait, not all have epoll_wait).
inline long sys_epoll_wait(int epfd, ::epoll_event* events, int max, int timeout_ms) noexcept {
#if defined(POLLUX_DETAIL_LIBC_SYSCALLS)
    return from_libc(::epoll_wait(epfd, events, max, timeout_ms));
#else
    return raw_syscall(SYS_epoll_pwait, epfd, arg(events), max, timeout_ms, 0, _NSIG / 8);
#endif
}

}  // namespace pollux::detail
