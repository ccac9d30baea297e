// reactor/tests/reactor_registration_table_test.cpp — RegistrationTable and token packing.
#include <gtest/gtest.h>

#include "pollux/reactor/event_handler.hpp"
#include "pollux/reactor/registration_table.hpp"

namespace pollux::reactor {
namespace {

struct NullHandler final : EventHandler {
    void on_event(const Event&) override {}
};

TEST(ReactorRegistrationTable, token_packs_generation_high_and_index_low_and_round_trips) {
    const RegistrationId id{7, 0xABCD'0123u};
    const Token t = to_token(id);
    EXPECT_EQ(t.value(), (std::size_t{0xABCD'0123u} << 32) | 7u);
    EXPECT_EQ(to_registration_id(t), id);
    EXPECT_EQ(to_registration_id(to_token({kReservedIndex, 0xFFFF'FFFFu})),
              (RegistrationId{kReservedIndex, 0xFFFF'FFFFu}));
}

TEST(ReactorRegistrationTable, lookup_returns_the_handler_of_a_live_id) {
    RegistrationTable table;
    NullHandler a, b;
    const auto ia = table.insert(a);
    const auto ib = table.insert(b);
    EXPECT_NE(ia.index, ib.index);
    EXPECT_EQ(table.lookup(ia), &a);
    EXPECT_EQ(table.lookup(ib), &b);
    EXPECT_EQ(table.size(), 2u);
}

TEST(ReactorRegistrationTable, removed_id_is_stale_and_its_reused_slot_has_a_new_generation) {
    RegistrationTable table;
    NullHandler a, c;
    const auto ia = table.insert(a);
    ASSERT_TRUE(table.remove(ia));
    EXPECT_EQ(table.lookup(ia), nullptr);
    EXPECT_FALSE(table.remove(ia)) << "double remove must be a no-op";

    const auto ic = table.insert(c);
    EXPECT_EQ(ic.index, ia.index) << "free slots are reused LIFO";
    EXPECT_NE(ic.generation, ia.generation);
    EXPECT_EQ(table.lookup(ia), nullptr) << "the old id must not reach the new owner";
    EXPECT_EQ(table.lookup(ic), &c);
    EXPECT_EQ(table.size(), 1u);
}

TEST(ReactorRegistrationTable, ids_never_issued_or_out_of_range_are_stale) {
    RegistrationTable table;
    NullHandler a;
    const auto ia = table.insert(a);
    EXPECT_EQ(table.lookup({ia.index + 1, 0}), nullptr);
    EXPECT_EQ(table.lookup({kReservedIndex, 0}), nullptr);
    EXPECT_EQ(table.lookup({ia.index, ia.generation + 1}), nullptr);
}

TEST(ReactorRegistrationTable, replace_repoints_a_live_id_and_refuses_a_stale_one) {
    RegistrationTable table;
    NullHandler a, b;
    const auto ia = table.insert(a);
    EXPECT_TRUE(table.replace(ia, b));
    EXPECT_EQ(table.lookup(ia), &b);
    table.remove(ia);
    EXPECT_FALSE(table.replace(ia, a));
}

TEST(ReactorRegistrationTable, many_inserts_and_removes_keep_the_table_dense) {
    RegistrationTable table;
    NullHandler h;
    std::vector<RegistrationId> ids;
    for (int round = 0; round < 100; ++round) {
        for (int i = 0; i < 64; ++i) ids.push_back(table.insert(h));
        for (const auto& id : ids) ASSERT_TRUE(table.remove(id));
        ids.clear();
    }
    EXPECT_EQ(table.capacity(), 64u);
    EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace pollux::reactor
