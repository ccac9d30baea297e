// pollux/core/log.hpp — public.
//
// The log hook: the few events an operator must see (accepting paused on EMFILE, a
// connection closed for a limit, a stop whose grace ran out) go to one process-wide,
// pluggable sink. pollux never logs per message.
//
//     pollux::set_log_sink([](pollux::LogLevel level, std::string_view line) {
//         my_logger.write(pollux::to_string(level), line);
//     });
//     pollux::set_log_sink(nullptr);            // silence pollux
//     pollux::set_log_level(LogLevel::warn);    // drop debug and info
//
// * The default sink writes `pollux: LEVEL: message` and a newline to stderr in one
//   write(2), so lines from several threads never interleave.
// * Levels: debug < info < warn < error. A message below the level (info by default),
//   or any message while the sink is null, costs one relaxed atomic load
//   (`log_enabled`) and builds nothing: `log_lazy` takes a callable that makes the text
//   only when the message will be written.
// * Thread-safe. Any thread may log and may set the sink or the level. Calls to the sink
//   are serialised (one at a time, so a sink needs no lock of its own), and once
//   `set_log_sink` returns the previous sink is never called again. A message logged
//   from inside the sink (on the same thread) is dropped; calling `set_log_sink` from
//   inside the sink deadlocks.
// * The sink runs on the thread that logs: often a reactor thread. Keep it short and
//   non-blocking, and do not let an exception escape (it would reach noexcept code).
// * Loops rate-limit what they log with `LogRateLimit` (at most one line per interval,
//   with the count of lines it held back).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pollux {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };

using LogSink = std::function<void(LogLevel, std::string_view)>;

// "debug", "info", "warn", "error".
std::string_view to_string(LogLevel level) noexcept;

// Replaces the sink; nullptr silences pollux. Waits for a call of the previous sink in
// progress on another thread.
void set_log_sink(LogSink sink);
// Restores the default sink (stderr).
void reset_log_sink();
// Messages below `level` are dropped. Default: info.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;

namespace detail {
// The lowest level written: the level set, or above error while the sink is null.
// Owner: set_log_sink / set_log_level (any thread); read relaxed by log_enabled.
extern std::atomic<int> log_threshold;
void write_log(LogLevel level, std::string_view message);
}  // namespace detail

// Would a message at `level` reach the sink? One relaxed load.
inline bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) >= detail::log_threshold.load(std::memory_order_relaxed);
}

// Writes one message (no trailing newline needed) at `level`.
inline void log(LogLevel level, std::string_view message) {
    if (log_enabled(level)) detail::write_log(level, message);
}

// Calls `make()` (returning something convertible to std::string_view, e.g. a
// std::string) only when the message will be written.
template <class MakeMessage>
void log_lazy(LogLevel level, MakeMessage&& make) {
    if (!log_enabled(level)) return;
    const auto message = std::forward<MakeMessage>(make)();
    detail::write_log(level, std::string_view(message));
}

// At most one line per `interval` from a loop. Not thread-safe: one owner (a reactor
// thread, say).
//
//     if (auto held_back = limit.admit(now)) log(..., "... (" + std::to_string(*held_back) + " more)");
class LogRateLimit {
public:
    using Clock = std::chrono::steady_clock;

    explicit LogRateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1)) noexcept
        : interval_(interval) {}

    // Empty: hold this line back (counted). Otherwise the line may be written, and the
    // value is how many lines were held back since the last one written.
    std::optional<std::uint64_t> admit(Clock::time_point now) noexcept {
        if (written_ && now - last_ < interval_) {
            ++held_back_;
            return std::nullopt;
        }
        written_ = true;
        last_ = now;
        return std::exchange(held_back_, 0);
    }

private:
    std::chrono::milliseconds interval_;
    Clock::time_point last_{};
    std::uint64_t held_back_ = 0;
    bool written_ = false;
};

}  // namespace pollux
