// framework/tests/reliability/suite_support.hpp — what the reliability suites share: the
// load client as a child process (its progress lines read with a deadline), this
// process's RSS, fd count and CPU time from /proc, and sizes from the environment (the
// long runs and manual overrides set them; the short CI runs use the defaults).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pollux::reliability {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitized = true;
#else
inline constexpr bool kThreadSanitized = false;
#endif
#else
inline constexpr bool kThreadSanitized = false;
#endif

// The integer in environment variable `name`, else `fallback`.
long env_param(const char* name, long fallback);

// The load client (reliability_load) running as a child: stdout and stdin are pipes.
class LoadClient {
public:
    // reliability_load <args...>; the child is killed and reaped by the destructor if
    // still running.
    explicit LoadClient(const std::vector<std::string>& args);
    ~LoadClient();
    LoadClient(const LoadClient&) = delete;
    LoadClient& operator=(const LoadClient&) = delete;

    bool running() const noexcept { return pid_ > 0; }
    // The next line on the child's stdout, or nullopt after `timeout` or at its EOF.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    // Lines until one starts with `prefix` (returned), at most `timeout` in all.
    std::optional<std::string> wait_for(const std::string& prefix, std::chrono::milliseconds timeout);
    void close_stdin();
    // Waits for the exit (killing it after `timeout`); its exit status, or -1.
    int wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int out_ = -1;  // child's stdout
    int in_ = -1;   // child's stdin
    std::string pending_;
};

// "result a=1 b=2.5" -> {a: 1, b: 2.5}.
std::map<std::string, double> parse_fields(const std::string& line);

std::size_t resident_bytes();   // VmRSS of this process
std::size_t open_fds();         // entries in /proc/self/fd
// CPU time of this process, from /proc/self/stat, in seconds.
struct CpuTimes {
    double user = 0;
    double system = 0;
    double total() const noexcept { return user + system; }
};
CpuTimes cpu_times();

}  // namespace pollux::reliability
