// reactor/tests/balancer_test.cpp — ConnectionCounts, ConnectionLease and the two
// balancing strategies, without sockets or threads.
#include <gtest/gtest.h>

#include <vector>

#include "pollux/reactor/balancer.hpp"
#include "pollux/reactor/reactor_pool.hpp"

namespace pollux::reactor {
namespace {

TEST(Balancer, connection_counts_start_at_zero_and_track_add_and_remove) {
    ConnectionCounts counts(3);
    EXPECT_EQ(counts.size(), 3u);
    EXPECT_EQ(counts.total(), 0u);
    counts.add(0);
    counts.add(2);
    counts.add(2);
    EXPECT_EQ(counts.get(0), 1u);
    EXPECT_EQ(counts.get(1), 0u);
    EXPECT_EQ(counts.get(2), 2u);
    EXPECT_EQ(counts.total(), 3u);
    counts.remove(2);
    EXPECT_EQ(counts.get(2), 1u);
    EXPECT_EQ(counts.total(), 2u);
}

TEST(Balancer, a_surplus_remove_reads_as_zero_not_as_a_huge_count) {
    ConnectionCounts counts(1);
    counts.remove(0);
    EXPECT_EQ(counts.get(0), 0u);
    EXPECT_EQ(counts.total(), 0u);
    counts.add(0);  // back to zero: the surplus is remembered
    EXPECT_EQ(counts.get(0), 0u);
}

TEST(Balancer, lease_reports_the_close_exactly_once_and_moves_with_the_connection) {
    ConnectionCounts counts(2);
    counts.add(1);
    counts.add(1);
    {
        ConnectionLease a(counts, 1);
        EXPECT_TRUE(a.active());
        EXPECT_EQ(a.index(), 1u);
        ConnectionLease b(std::move(a));
        EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from is inert
        EXPECT_EQ(counts.get(1), 2u);
        b.reset();
        b.reset();  // idempotent
        EXPECT_EQ(counts.get(1), 1u);
        ConnectionLease c(counts, 1);
        ConnectionLease d;
        d = std::move(c);
        EXPECT_EQ(counts.get(1), 1u);
    }
    EXPECT_EQ(counts.get(1), 0u);  // d dropped
}

TEST(Balancer, round_robin_deals_cyclically_regardless_of_load) {
    ConnectionCounts counts(4);
    counts.add(0);
    counts.add(0);
    counts.add(0);
    RoundRobin rr;
    std::vector<std::size_t> picks;
    for (int i = 0; i < 9; ++i) picks.push_back(rr.pick(counts));
    EXPECT_EQ(picks, (std::vector<std::size_t>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
}

TEST(Balancer, round_robin_with_one_reactor_always_picks_it) {
    ConnectionCounts counts(1);
    RoundRobin rr;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rr.pick(counts), 0u);
}

TEST(Balancer, least_connections_picks_the_least_loaded_reactor) {
    ConnectionCounts counts(3);
    for (int i = 0; i < 5; ++i) counts.add(0);
    for (int i = 0; i < 2; ++i) counts.add(1);
    counts.add(2);
    LeastConnections lc;
    EXPECT_EQ(lc.pick(counts), 2u);
    counts.add(2);
    counts.add(2);  // now {5, 2, 3}
    EXPECT_EQ(lc.pick(counts), 1u);
}

TEST(Balancer, least_connections_rotates_ties_so_equal_loads_are_dealt_round_robin) {
    ConnectionCounts counts(3);
    LeastConnections lc;
    std::vector<std::size_t> picks;
    for (int i = 0; i < 6; ++i) {
        const std::size_t p = lc.pick(counts);
        picks.push_back(p);
        counts.add(p);  // the acceptor counts at hand-off
    }
    EXPECT_EQ(picks, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(Balancer, least_connections_steers_new_connections_away_from_long_lived_ones) {
    ConnectionCounts counts(3);
    LeastConnections lc;
    for (int i = 0; i < 6; ++i) counts.add(lc.pick(counts));  // {2, 2, 2}
    counts.remove(1);
    counts.remove(1);
    counts.remove(2);
    counts.remove(2);  // {2, 0, 0}: reactor 0 keeps its long-lived connections
    std::vector<std::size_t> picks;
    for (int i = 0; i < 4; ++i) {
        const std::size_t p = lc.pick(counts);
        picks.push_back(p);
        counts.add(p);
    }
    EXPECT_EQ(picks, (std::vector<std::size_t>{1, 2, 1, 2}));
    EXPECT_EQ(counts.get(0), 2u);
    EXPECT_EQ(counts.get(1), 2u);
    EXPECT_EQ(counts.get(2), 2u);
}

}  // namespace
}  // namespace pollux::reactor
