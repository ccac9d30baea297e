// reactor/tests/reactor_stress_test.cpp — a randomized TSan/ASan stress: two reactors and
// two foreign threads post, wake, register, deregister, close and reuse fds at random for
// a bounded time per seed. Checks: no task lost, no event delivered to a dead or foreign
// handler, at most one eventfd write per drained batch.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "pollux/core/pipe.hpp"
#include "pollux/reactor/reactor.hpp"

// The moodycamel suppression for this test binary (defined here, once).
#include "support/tsan_suppressions.hpp"

namespace pollux::reactor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDurationPerSeed = 1s;
constexpr std::size_t kMaxConns = 48;
constexpr std::uint64_t kMaxBacklog = 2048;

struct Counters {
    std::atomic<std::uint64_t> posted{0};
    std::atomic<std::uint64_t> ran{0};
    std::atomic<std::uint64_t> bad_events{0};  // dead handler, wrong reactor or wrong thread
    std::atomic<std::uint64_t> refused{0};     // post() returned false while running
    std::atomic<std::uint64_t> events{0};
    std::atomic<std::uint64_t> timers{0};
};

struct LoopState;

struct Conn final : EventHandler {
    static constexpr std::uint64_t kAlive = 0xA11CE;
    static constexpr std::uint64_t kDead = 0xDEAD;

    std::uint64_t magic = kAlive;
    Reactor* owner = nullptr;
    LoopState* state = nullptr;
    Sender tx;
    Receiver rx;
    RegistrationId id{};

    ~Conn() { magic = kDead; }
    void on_event(const Event& ev) override;
};

// Touched only on its reactor's loop thread.
struct LoopState {
    Reactor* reactor = nullptr;
    Counters* counters = nullptr;
    std::vector<std::unique_ptr<Conn>> conns;
    std::minstd_rand rng;

    void open_one() {
        if (conns.size() >= kMaxConns) return;
        auto p = pollux::pipe();
        if (!p) return;  // fd pressure: fine
        auto c = std::make_unique<Conn>();
        c->owner = reactor;
        c->state = this;
        c->tx = std::move(p->first);
        c->rx = std::move(p->second);
        auto id = reactor->register_in_loop(c->rx, Interest::READABLE, *c);
        ASSERT_TRUE(id);
        c->id = *id;
        const std::byte b{1};
        (void)c->tx.write({&b, 1});
        conns.push_back(std::move(c));
    }
    // Deregisters and closes a random conn now; its object dies after the batch.
    void close_one() {
        if (conns.empty()) return;
        const std::size_t i = rng() % conns.size();
        std::unique_ptr<Conn> victim = std::move(conns[i]);
        conns[i] = std::move(conns.back());
        conns.pop_back();
        ASSERT_TRUE(reactor->deregister_in_loop(victim->rx, victim->id));
        victim->rx = Receiver();  // free the fd number so the next pipe reuses it
        reactor->defer_in_loop([v = std::move(victim)]() mutable { v.reset(); });
    }
    void poke_some() {
        for (int k = 0; k < 4 && !conns.empty(); ++k) {
            const std::byte b{2};
            (void)conns[rng() % conns.size()]->tx.write({&b, 1});
        }
    }
    void close_all() {
        for (auto& c : conns) ASSERT_TRUE(reactor->deregister_in_loop(c->rx, c->id));
        conns.clear();
    }
};

void Conn::on_event(const Event&) {
    if (magic != kAlive || Reactor::current() != owner || !owner->is_in_loop_thread()) {
        state->counters->bad_events.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    state->counters->events.fetch_add(1, std::memory_order_relaxed);
    std::byte buf[64];
    while (rx.read(buf)) {
    }
    // Sometimes close another conn *and* open one in its place inside the batch: the
    // closed conn's pending event (if any) must be dropped, not given to the newcomer.
    switch (state->rng() % 8) {
        case 0:
            state->close_one();  // may close this very conn: fine, it is only deferred
            state->open_one();
            return;
        case 1: {
            const std::byte b{3};
            (void)tx.write({&b, 1});  // keep events flowing
            return;
        }
        default:
            return;
    }
}

class ReactorStress : public ::testing::TestWithParam<unsigned> {};

TEST_P(ReactorStress, random_post_register_close_and_fd_reuse_across_two_reactors_and_two_threads) {
    Counters counters;
    std::array<std::unique_ptr<Reactor>, 2> reactors;
    std::array<LoopState, 2> states;
    for (std::size_t i = 0; i < 2; ++i) {
        ReactorOptions o;
        o.index = i;
        o.task_budget = 64;
        o.timer_budget = 16;
        reactors[i] = Reactor::create(o).value();
        states[i].reactor = reactors[i].get();
        states[i].counters = &counters;
        states[i].rng.seed(GetParam() * 7919 + static_cast<unsigned>(i));
        ASSERT_TRUE(reactors[i]->start());
    }

    auto post_counted = [&](Reactor& r, Task t) {
        counters.posted.fetch_add(1, std::memory_order_relaxed);
        if (!r.post(std::move(t))) ADD_FAILURE() << "post refused while running";
    };

    std::atomic<bool> running{true};
    auto foreign = [&](unsigned seed) {
        std::minstd_rand rng(seed);
        std::array<Reactor::Producer, 2> producers{reactors[0]->make_producer(), reactors[1]->make_producer()};
        while (running.load(std::memory_order_relaxed)) {
            // Bounded backlog: the loops must keep up, or the end-of-run check would wait
            // on millions of queued tasks.
            if (counters.posted.load(std::memory_order_relaxed) - counters.ran.load(std::memory_order_relaxed) >
                kMaxBacklog) {
                std::this_thread::yield();
                continue;
            }
            const std::size_t r = rng() % 2;
            Reactor& reactor = *reactors[r];
            LoopState* st = &states[r];
            Counters* c = &counters;
            switch (rng() % 8) {
                case 0:
                    post_counted(reactor, [c] { c->ran.fetch_add(1, std::memory_order_relaxed); });
                    break;
                case 1:  // explicit producer token path
                    c->posted.fetch_add(1, std::memory_order_relaxed);
                    if (!producers[r].post([c] { c->ran.fetch_add(1, std::memory_order_relaxed); }))
                        ADD_FAILURE() << "producer post refused while running";
                    break;
                case 2:
                    post_counted(reactor, [st, c] {
                        st->open_one();
                        c->ran.fetch_add(1, std::memory_order_relaxed);
                    });
                    break;
                case 3:
                    post_counted(reactor, [st, c] {
                        st->close_one();
                        st->open_one();  // likely takes the closed fd number and slot
                        c->ran.fetch_add(1, std::memory_order_relaxed);
                    });
                    break;
                case 4:
                    post_counted(reactor, [st, c] {
                        st->poke_some();
                        c->ran.fetch_add(1, std::memory_order_relaxed);
                    });
                    break;
                case 5:
                    post_counted(reactor, [st, c] {
                        st->reactor->run_after_in_loop(std::chrono::milliseconds(st->rng() % 3), [c] {
                            c->timers.fetch_add(1, std::memory_order_relaxed);
                        });
                        c->ran.fetch_add(1, std::memory_order_relaxed);
                    });
                    break;
                case 6: {  // reactor-to-reactor post
                    Reactor* other = reactors[1 - r].get();
                    post_counted(reactor, [other, c] {
                        c->posted.fetch_add(1, std::memory_order_relaxed);
                        if (!other->post([c] { c->ran.fetch_add(1, std::memory_order_relaxed); }))
                            c->refused.fetch_add(1, std::memory_order_relaxed);
                        c->ran.fetch_add(1, std::memory_order_relaxed);
                    });
                    break;
                }
                default:
                    if (rng() % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
                    break;
            }
        }
    };
    std::thread t1(foreign, GetParam() * 31 + 1);
    std::thread t2(foreign, GetParam() * 31 + 2);
    std::this_thread::sleep_for(kDurationPerSeed);
    running = false;
    t1.join();
    t2.join();

    // Every post has been issued once the foreign tasks have run (only they cross-post).
    const auto deadline = Clock::now() + 10s;
    while (counters.ran.load() != counters.posted.load() && Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(counters.ran.load(), counters.posted.load()) << "a posted task was lost";

    for (std::size_t i = 0; i < 2; ++i) {
        std::promise<void> cleaned;
        ASSERT_TRUE(reactors[i]->post([&, i] {
            states[i].close_all();
            cleaned.set_value();
        }));
        ASSERT_EQ(cleaned.get_future().wait_for(10s), std::future_status::ready);
    }
    for (auto& r : reactors) r->stop();
    for (auto& r : reactors) {
        ASSERT_TRUE(r->join());
        const ReactorStats s = r->stats();
        EXPECT_LE(s.wakes_written, s.batches_drained);
    }
    EXPECT_EQ(counters.bad_events.load(), 0u);
    EXPECT_EQ(counters.refused.load(), 0u);
    EXPECT_GT(counters.events.load(), 0u);
    std::printf("seed %u: %llu tasks, %llu events, %llu timers, stale dropped %llu + %llu\n", GetParam(),
                static_cast<unsigned long long>(counters.ran.load()),
                static_cast<unsigned long long>(counters.events.load()),
                static_cast<unsigned long long>(counters.timers.load()),
                static_cast<unsigned long long>(reactors[0]->stats().stale_events_dropped),
                static_cast<unsigned long long>(reactors[1]->stats().stale_events_dropped));
}

INSTANTIATE_TEST_SUITE_P(ReactorSeeds, ReactorStress, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace pollux::reactor
