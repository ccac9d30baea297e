// Tests for pollux/reactor/timer_wheel.hpp against a reference model: random programs of
// starts, cancels and advances run on the wheel and on the model, whose fire logs must
// match. Time is synthetic, built from a fixed origin, never slept.
#include "pollux/reactor/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = TimerWheel::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1000h;  // arbitrary origin

Clock::time_point at(std::int64_t ms) { return kT0 + milliseconds{ms}; }

// ---- reference model ----------------------------------------------------------------------
//
// The contract written as plainly as possible: a sorted set of (tick, seq, id). Both
// the wheel and the model run the same random program; each callback's reaction
// (spawn a timer, cancel another, cancel itself) is a function of its logical id, so
// the two fire logs must match exactly if the wheel keeps the contract.

struct LogEntry {
    int kind;  // 0 fired, 1 cancel result from a callback
    int id;
    std::int64_t ms;
    bool ok;
    friend bool operator==(const LogEntry&, const LogEntry&) = default;
};

// One side of the comparison: the wheel or the model.
class Side {
public:
    virtual ~Side() = default;
    virtual int start(std::int64_t delay_ms, std::int64_t period_ms) = 0;  // period 0: one-shot
    virtual bool cancel(int id) = 0;
    virtual std::size_t advance(std::int64_t ms, std::size_t budget) = 0;
    virtual std::optional<std::int64_t> until_next(std::int64_t ms) = 0;
    virtual std::size_t size() const = 0;

    std::vector<LogEntry> log;

protected:
    // What timer `id` does when it fires; identical on both sides.
    void react(int id, bool periodic, std::int64_t now_ms) {
        const int count = ++fire_counts_[id];
        log.push_back({0, id, now_ms, true});
        if (!periodic && id % 7 == 3) {
            (void)start((id * 37) % 60 - 10, 0);  // -10..49 ms: includes zero and past
        }
        if (id % 11 == 5) {
            log.push_back({1, id - 3, now_ms, cancel(id - 3)});
        }
        if (periodic && id % 4 == 0 && count == 3) {
            log.push_back({1, id, now_ms, cancel(id)});
        }
    }

private:
    std::map<int, int> fire_counts_;
};

class ModelSide final : public Side {
public:
    int start(std::int64_t delay_ms, std::int64_t period_ms) override {
        const int id = next_id_++;
        Timer t;
        if (period_ms > 0 || is_periodic_request(period_ms)) {
            t.period = std::max<std::int64_t>(period_ms, 1);
            t.tick = now_ + t.period;
        } else {
            t.tick = delay_ms <= 0 ? now_ : now_ + delay_ms;
        }
        t.seq = next_seq_++;
        live_[id] = t;
        pending_.insert({t.tick, t.seq, id});
        return id;
    }

    bool cancel(int id) override {
        auto it = live_.find(id);
        if (it == live_.end()) {
            return false;
        }
        if (!it->second.firing) {
            pending_.erase({it->second.tick, it->second.seq, id});
        }
        live_.erase(it);
        return true;
    }

    std::size_t advance(std::int64_t ms, std::size_t budget) override {
        now_ = std::max(now_, ms);
        const std::uint64_t barrier = next_seq_;
        std::size_t fired = 0;
        while (fired < budget && !pending_.empty()) {
            const auto [tick, seq, id] = *pending_.begin();
            if (tick > now_ || seq >= barrier) {
                break;
            }
            pending_.erase(pending_.begin());
            ++fired;
            const std::int64_t period = live_[id].period;
            if (period == 0) {
                live_.erase(id);
                react(id, false, now_);
                continue;
            }
            live_[id].firing = true;
            react(id, true, now_);
            auto it = live_.find(id);
            if (it == live_.end()) {
                continue;
            }
            Timer& t = it->second;
            t.firing = false;
            // The first point of the tick + k * period grid that lies after now_.
            t.tick += t.period * ((now_ - t.tick) / t.period + 1);
            t.seq = next_seq_++;
            pending_.insert({t.tick, t.seq, id});
        }
        return fired;
    }

    std::optional<std::int64_t> until_next(std::int64_t ms) override {
        if (pending_.empty()) {
            return std::nullopt;
        }
        const std::int64_t from = std::max(ms, now_);
        return std::max<std::int64_t>(std::get<0>(*pending_.begin()) - from, 0);
    }

    std::size_t size() const override { return live_.size(); }

    // run_every with a zero period: the wheel clamps it to 1 ms.
    static bool is_periodic_request(std::int64_t period_ms) { return period_ms == kZeroPeriod; }
    static constexpr std::int64_t kZeroPeriod = -1'000'000;

private:
    struct Timer {
        std::int64_t tick = 0;
        std::uint64_t seq = 0;
        std::int64_t period = 0;
        bool firing = false;
    };
    std::int64_t now_ = 0;
    std::uint64_t next_seq_ = 0;
    int next_id_ = 0;
    std::map<int, Timer> live_;
    std::set<std::tuple<std::int64_t, std::uint64_t, int>> pending_;
};

class WheelSide final : public Side {
public:
    explicit WheelSide(std::size_t slots) : wheel_(at(0), slots) {}

    int start(std::int64_t delay_ms, std::int64_t period_ms) override {
        const int id = static_cast<int>(ids_.size());
        ids_.emplace_back();
        if (period_ms == ModelSide::kZeroPeriod) {
            ids_.back() = wheel_.run_every(0ms, [this, id] { react(id, true, now_ms()); });
        } else if (period_ms > 0) {
            ids_.back() = wheel_.run_every(milliseconds{period_ms}, [this, id] { react(id, true, now_ms()); });
        } else {
            ids_.back() = wheel_.run_after(milliseconds{delay_ms}, [this, id] { react(id, false, now_ms()); });
        }
        return id;
    }

    bool cancel(int id) override {
        return id >= 0 && static_cast<std::size_t>(id) < ids_.size() && wheel_.cancel(ids_[static_cast<std::size_t>(id)]);
    }

    std::size_t advance(std::int64_t ms, std::size_t budget) override { return wheel_.advance(at(ms), budget); }

    std::optional<std::int64_t> until_next(std::int64_t ms) override {
        const auto d = wheel_.time_until_next(at(ms));
        return d ? std::optional<std::int64_t>(d->count()) : std::nullopt;
    }

    std::size_t size() const override { return wheel_.size(); }

private:
    std::int64_t now_ms() const { return std::chrono::duration_cast<milliseconds>(wheel_.now() - kT0).count(); }

    TimerWheel wheel_;
    std::vector<TimerId> ids_;
};

// Runs one random program on both sides; the first divergence fails the test.
void run_against_model(std::uint64_t seed, int ops, std::size_t slots) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " slots " << slots);
    std::mt19937_64 rng(seed);
    auto uniform = [&rng](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    ModelSide model;
    WheelSide wheel(slots);
    std::int64_t now = 0;
    int started = 0;
    for (int op = 0; op < ops; ++op) {
        SCOPED_TRACE(testing::Message() << "op " << op << " at " << now << " ms");
        const std::int64_t r = uniform(0, 99);
        if (r < 45) {
            const std::int64_t kind = uniform(0, 19);
            std::int64_t delay = 0;
            if (kind < 12) {
                delay = uniform(0, 20'000);
            } else if (kind < 16) {
                delay = uniform(0, 50);
            } else if (kind < 18) {
                delay = uniform(-5, 0);
            } else {
                delay = uniform(3'600'000, 3 * 3'600'000);
            }
            const int id = model.start(delay, 0);
            ASSERT_EQ(wheel.start(delay, 0), id);
            started = id + 1;
        } else if (r < 50) {
            std::int64_t period = uniform(0, 300);
            if (period == 0) {
                period = ModelSide::kZeroPeriod;
            }
            const int id = model.start(0, period);
            ASSERT_EQ(wheel.start(0, period), id);
            started = id + 1;
        } else if (r < 70) {
            if (started > 0) {
                const int id = static_cast<int>(uniform(0, started - 1));
                ASSERT_EQ(wheel.cancel(id), model.cancel(id)) << "cancel " << id;
            }
        } else {
            const std::int64_t kind = uniform(0, 99);
            if (kind < 70) {
                now += uniform(0, 20);
            } else if (kind < 90) {
                now += uniform(0, 500);
            } else if (kind < 98) {
                now += uniform(0, 6000);
            } else {
                now += uniform(0, 4 * 3'600'000);
            }
            const std::size_t budget = uniform(0, 4) == 0 ? static_cast<std::size_t>(uniform(0, 8))
                                                           : std::numeric_limits<std::size_t>::max();
            ASSERT_EQ(wheel.advance(now, budget), model.advance(now, budget)) << "budget " << budget;
        }
        ASSERT_EQ(wheel.size(), model.size());
        const std::int64_t probe = now + uniform(-3, 3);
        ASSERT_EQ(wheel.until_next(probe), model.until_next(probe)) << "probe " << probe;
        ASSERT_EQ(wheel.log.size(), model.log.size());
        if (!wheel.log.empty()) {
            const LogEntry& w = wheel.log.back();
            const LogEntry& m = model.log.back();
            ASSERT_EQ(w, m) << "wheel {" << w.kind << "," << w.id << "," << w.ms << "," << w.ok << "} model {"
                            << m.kind << "," << m.id << "," << m.ms << "," << m.ok << "}";
        }
    }
    EXPECT_EQ(wheel.log, model.log);
    EXPECT_GT(wheel.log.size(), static_cast<std::size_t>(ops) / 10);
}

TEST(TimerWheel, fires_in_the_same_order_and_at_the_same_ms_as_a_reference_model) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        run_against_model(seed, 4000, TimerWheel::kDefaultSlots);
    }
}

TEST(TimerWheel, large_wheel_matches_the_reference_model) {
    // 65536 slots: 1024 bitmap words under 16 summary words; most deadlines in range.
    for (std::uint64_t seed = 21; seed <= 22; ++seed) {
        run_against_model(seed, 4000, std::size_t{1} << 16);
    }
}

TEST(TimerWheel, small_wheel_matches_the_reference_model_across_many_revolutions) {
    // 64 slots: most deadlines (0..20000 ms) go through the overflow heap.
    for (std::uint64_t seed = 11; seed <= 13; ++seed) {
        run_against_model(seed, 4000, 64);
    }
}

}  // namespace
}  // namespace pollux::reactor
