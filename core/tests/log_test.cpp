// core/tests/log_test.cpp — the log hook: a pluggable sink, levels, silencing, the
// default stderr line, thread safety, and the rate limit loops use.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollux/core/log.hpp"

namespace pollux {
namespace {

using namespace std::chrono_literals;

struct Line {
    LogLevel level;
    std::string text;
};

// A sink that records every line; thread-safe through the hook's own serialisation.
struct Recorder {
    std::vector<Line> lines;
    LogSink sink() {
        return [this](LogLevel level, std::string_view text) { lines.push_back({level, std::string(text)}); };
    }
};

class Log : public ::testing::Test {
protected:
    void TearDown() override {
        reset_log_sink();
        set_log_level(LogLevel::info);
    }
};

TEST_F(Log, a_recording_sink_gets_each_message_with_its_level) {
    Recorder rec;
    set_log_sink(rec.sink());
    log(LogLevel::warn, "accept paused");
    log(LogLevel::error, "gave up");
    reset_log_sink();
    ASSERT_EQ(rec.lines.size(), 2u);
    EXPECT_EQ(rec.lines[0].level, LogLevel::warn);
    EXPECT_EQ(rec.lines[0].text, "accept paused");
    EXPECT_EQ(rec.lines[1].level, LogLevel::error);
    EXPECT_EQ(rec.lines[1].text, "gave up");
}

TEST_F(Log, messages_below_the_level_are_dropped_and_never_built) {
    Recorder rec;
    set_log_sink(rec.sink());
    EXPECT_EQ(log_level(), LogLevel::info);
    EXPECT_FALSE(log_enabled(LogLevel::debug));
    EXPECT_TRUE(log_enabled(LogLevel::info));
    int built = 0;
    log_lazy(LogLevel::debug, [&] {
        ++built;
        return std::string("debug detail");
    });
    EXPECT_EQ(built, 0);
    set_log_level(LogLevel::debug);
    log_lazy(LogLevel::debug, [&] {
        ++built;
        return std::string("debug detail");
    });
    EXPECT_EQ(built, 1);
    set_log_level(LogLevel::error);
    log(LogLevel::warn, "dropped");
    log(LogLevel::error, "kept");
    reset_log_sink();
    ASSERT_EQ(rec.lines.size(), 2u);
    EXPECT_EQ(rec.lines[0].text, "debug detail");
    EXPECT_EQ(rec.lines[1].text, "kept");
}

TEST_F(Log, a_null_sink_silences_every_level_and_builds_nothing) {
    set_log_sink(nullptr);
    EXPECT_FALSE(log_enabled(LogLevel::error));
    int built = 0;
    log_lazy(LogLevel::error, [&] {
        ++built;
        return std::string("x");
    });
    EXPECT_EQ(built, 0);
    ::testing::internal::CaptureStderr();
    log(LogLevel::error, "nobody hears this");
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(Log, the_default_sink_writes_one_prefixed_line_to_stderr) {
    ::testing::internal::CaptureStderr();
    log(LogLevel::warn, "accepting on 127.0.0.1:9000 paused for 100 ms");
    log(LogLevel::debug, "below the default level");
    EXPECT_EQ(::testing::internal::GetCapturedStderr(),
              "pollux: warn: accepting on 127.0.0.1:9000 paused for 100 ms\n");
}

TEST_F(Log, level_names) {
    EXPECT_EQ(to_string(LogLevel::debug), "debug");
    EXPECT_EQ(to_string(LogLevel::info), "info");
    EXPECT_EQ(to_string(LogLevel::warn), "warn");
    EXPECT_EQ(to_string(LogLevel::error), "error");
}

TEST_F(Log, a_message_logged_from_inside_the_sink_is_dropped_instead_of_deadlocking) {
    std::vector<std::string> seen;
    set_log_sink([&](LogLevel, std::string_view text) {
        seen.emplace_back(text);
        log(LogLevel::error, "recursive");
    });
    log(LogLevel::warn, "outer");
    reset_log_sink();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "outer");
}

TEST_F(Log, concurrent_logging_from_several_threads_loses_and_tears_nothing) {
    constexpr int kThreads = 6;
    constexpr int kLines = 2000;
    Recorder rec;  // not thread-safe itself: the hook serialises its calls
    set_log_sink(rec.sink());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t] {
            for (int i = 0; i < kLines; ++i) {
                log_lazy(LogLevel::warn, [&] { return "thread " + std::to_string(t) + " line " + std::to_string(i); });
            }
        });
    }
    // Meanwhile another thread flips the level back and forth (messages stay at warn,
    // above both levels used).
    std::atomic<bool> done{false};
    std::thread flipper([&] {
        while (!done.load()) {
            set_log_level(LogLevel::debug);
            set_log_level(LogLevel::info);
        }
    });
    for (auto& th : threads) th.join();
    done = true;
    flipper.join();
    reset_log_sink();

    ASSERT_EQ(rec.lines.size(), static_cast<std::size_t>(kThreads * kLines));
    std::vector<int> next(kThreads, 0);
    for (const Line& line : rec.lines) {
        int t = -1;
        int i = -1;
        ASSERT_EQ(std::sscanf(line.text.c_str(), "thread %d line %d", &t, &i), 2) << line.text;
        ASSERT_GE(t, 0);
        ASSERT_LT(t, kThreads);
        EXPECT_EQ(i, next[static_cast<std::size_t>(t)]++) << "one thread's lines arrive in order";
    }
}

TEST_F(Log, once_set_log_sink_returns_the_previous_sink_is_never_called_again) {
    std::atomic<int> old_calls{0};
    std::atomic<int> new_calls{0};
    set_log_sink([&](LogLevel, std::string_view) { old_calls.fetch_add(1); });
    std::atomic<bool> stop{false};
    std::thread logger([&] {
        while (!stop.load()) log(LogLevel::warn, "tick");
    });
    while (old_calls.load() < 100) std::this_thread::yield();
    set_log_sink([&](LogLevel, std::string_view) { new_calls.fetch_add(1); });
    const int at_swap = old_calls.load();
    while (new_calls.load() < 100) std::this_thread::yield();
    stop = true;
    logger.join();
    EXPECT_EQ(old_calls.load(), at_swap);
}

TEST(LogRateLimit, admits_one_line_per_interval_and_counts_the_ones_held_back) {
    LogRateLimit limit(1s);
    const auto t0 = LogRateLimit::Clock::time_point{} + 10s;
    auto first = limit.admit(t0);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, 0u);
    EXPECT_FALSE(limit.admit(t0 + 1ms).has_value());
    EXPECT_FALSE(limit.admit(t0 + 500ms).has_value());
    EXPECT_FALSE(limit.admit(t0 + 999ms).has_value());
    auto next = limit.admit(t0 + 1s);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, 3u);
    auto later = limit.admit(t0 + 5s);
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(*later, 0u);
}

}  // namespace
}  // namespace pollux
