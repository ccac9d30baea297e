// net/tests/support/unix_temp_dir.hpp — test helpers for the Unix socket tests.
//
//   TempDir dir;                 // mkdtemp("/tmp/pollux-unix-XXXXXX"), removed with its contents
//   dir.path("a.sock")           // "<dir>/a.sock"
//   UmaskGuard guard(0);         // sets the umask, restores it on scope exit
//   SigpipeCounter sigpipe;      // counts SIGPIPE deliveries while alive (handler restored after)
//   fd_is_cloexec_and_nonblocking(fd)
#pragma once

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "socket_ops.hpp"

namespace pollux::test {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/pollux-unix-XXXXXX";
        if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
        EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }

    const std::string& path() const { return path_; }
    std::string path(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
    std::string path_;
};

class UmaskGuard {
public:
    explicit UmaskGuard(::mode_t mask) : old_(::umask(mask)) {}
    UmaskGuard(const UmaskGuard&) = delete;
    UmaskGuard& operator=(const UmaskGuard&) = delete;
    ~UmaskGuard() { ::umask(old_); }

private:
    ::mode_t old_;
};

class SigpipeCounter {
public:
    SigpipeCounter() {
        count_.store(0);
        struct ::sigaction sa {};
        sa.sa_handler = [](int) { count_.fetch_add(1); };
        ::sigemptyset(&sa.sa_mask);
        ::sigaction(SIGPIPE, &sa, &old_);
    }
    SigpipeCounter(const SigpipeCounter&) = delete;
    SigpipeCounter& operator=(const SigpipeCounter&) = delete;
    ~SigpipeCounter() { ::sigaction(SIGPIPE, &old_, nullptr); }

    int count() const { return count_.load(); }

private:
    static inline std::atomic<int> count_{0};  // written by the signal handler
    struct ::sigaction old_ {};
};

inline ::testing::AssertionResult fd_is_cloexec_and_nonblocking(int fd) {
    auto cloexec = net::ops::is_cloexec(fd);
    auto nonblocking = net::ops::is_nonblocking(fd);
    if (!cloexec || !nonblocking) return ::testing::AssertionFailure() << "fcntl failed on fd " << fd;
    if (!*cloexec) return ::testing::AssertionFailure() << "fd " << fd << " is not CLOEXEC";
    if (!*nonblocking) return ::testing::AssertionFailure() << "fd " << fd << " is not O_NONBLOCK";
    return ::testing::AssertionSuccess();
}

// Permission bits of the file at `path` (lstat), or -1 when there is none.
inline int file_mode(const std::string& path) {
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) < 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
}

}  // namespace pollux::test
