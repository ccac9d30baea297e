// core/src/log.cpp — the process-wide log sink.
//
// The one piece of process-wide mutable state besides the Poll id (architecture.md):
// the sink and the level, guarded by one mutex, plus `log_threshold`, an atomic copy
// of "what is the lowest level written" that log_enabled reads without the lock.
// The sink is called with the mutex held: calls are serialised, and set_log_sink
// waits for a call in progress, so a replaced sink is never called again.
#include "pollux/core/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace pollux {
namespace {

constexpr int kSilent = static_cast<int>(LogLevel::error) + 1;

void stderr_sink(LogLevel level, std::string_view message) {
    std::string line;
    line.reserve(message.size() + 16);
    line += "pollux: ";
    line += to_string(level);
    line += ": ";
    line += message;
    line += '\n';
    // One write(2): lines from several threads do not interleave.
    const char* p = line.data();
    std::size_t left = line.size();
    while (left != 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

struct LogState {
    std::mutex mutex;
    LogSink sink = stderr_sink;          // guarded by mutex
    LogLevel level = LogLevel::info;     // guarded by mutex

    void publish() noexcept {  // with mutex held
        detail::log_threshold.store(sink ? static_cast<int>(level) : kSilent, std::memory_order_relaxed);
    }
};

LogState& state() {
    // Never destroyed: a thread may still log while static destructors run at exit.
    static LogState* const s = new LogState;
    return *s;
}

thread_local bool t_in_sink = false;

}  // namespace

namespace detail {
std::atomic<int> log_threshold{static_cast<int>(LogLevel::info)};

void write_log(LogLevel level, std::string_view message) {
    if (t_in_sink) return;  // a sink that logs: drop, rather than deadlock
    LogState& s = state();
    std::lock_guard lock(s.mutex);
    if (!s.sink || level < s.level) return;  // changed since log_enabled looked
    t_in_sink = true;
    struct Reset {
        ~Reset() { t_in_sink = false; }
    } reset;
    s.sink(level, message);
}
}  // namespace detail

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "unknown";
}

void set_log_sink(LogSink sink) {
    LogState& s = state();
    LogSink old;
    {
        std::lock_guard lock(s.mutex);
        old = std::exchange(s.sink, std::move(sink));
        s.publish();
    }
    // `old` is destroyed here, outside the lock (its captures may log or set a sink).
}

void reset_log_sink() { set_log_sink(stderr_sink); }

void set_log_level(LogLevel level) noexcept {
    LogState& s = state();
    std::lock_guard lock(s.mutex);
    s.level = level;
    s.publish();
}

LogLevel log_level() noexcept {
    LogState& s = state();
    std::lock_guard lock(s.mutex);
    return s.level;
}

}  // namespace pollux
