// framework/tests/udp_server_test.cpp — UdpServer over loopback.
#include "pollux/framework/udp_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/counting_alloc.hpp"

namespace pollux::framework {
namespace {

using namespace std::chrono_literals;
using net::RecvMeta;
using net::SocketAddr;
using net::UdpSocket;

// Echo: replies with the datagram as received.
void echo(UdpContext& ctx, std::span<const std::byte> bytes, bool) { (void)ctx.reply(bytes); }

UdpSocket client(const SocketAddr& like) {
    auto s = UdpSocket::bind(like.is_ipv6() ? SocketAddr::loopback_v6() : SocketAddr::loopback_v4());
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

// recv_from, waiting up to `timeout` for a datagram.
Result<RecvMeta> recv_within(const UdpSocket& s, std::span<std::byte> buf, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto r = s.recv_from(buf);
        if (r || !is_would_block(r)) return r;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) return r;
        ::pollfd p{s.fd(), POLLIN, 0};
        (void)::poll(&p, 1, static_cast<int>(left.count()) + 1);
    }
}

// A datagram whose bytes depend on (client, seq) and whose size varies.
std::vector<std::byte> payload(std::size_t client_id, std::size_t seq) {
    std::vector<std::byte> p(8 + (client_id * 31 + seq * 7) % 200);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::byte>((client_id * 131 + seq * 17 + i) & 0xff);
    return p;
}

std::unique_ptr<UdpServer> started(DatagramCallback cb, UdpServerOptions o = {.reactors = 2},
                                   SocketAddr addr = SocketAddr::loopback_v4()) {
    auto s = UdpServer::bind(addr, std::move(o));
    EXPECT_TRUE(s.has_value()) << s.error().message();
    if (!s) return nullptr;
    EXPECT_TRUE((*s)->on_datagram(std::move(cb)).has_value());
    auto r = (*s)->start();
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return std::move(*s);
}

TEST(UdpServer, echo_via_reply_from_many_clients_returns_every_datagram_intact) {
    auto server = started(echo);
    ASSERT_TRUE(server);
    constexpr std::size_t kClients = 20, kRounds = 50;
    std::vector<UdpSocket> clients;
    for (std::size_t c = 0; c < kClients; ++c) clients.push_back(client(server->local_addr()));

    std::uint64_t bytes = 0;
    std::array<std::byte, 1024> buf{};
    for (std::size_t round = 0; round < kRounds; ++round) {
        for (std::size_t c = 0; c < kClients; ++c) {
            auto p = payload(c, round);
            bytes += p.size();
            ASSERT_TRUE(clients[c].send_to(p, server->local_addr()).has_value());
        }
        for (std::size_t c = 0; c < kClients; ++c) {
            auto r = recv_within(clients[c], buf);
            ASSERT_TRUE(r.has_value()) << "client " << c << " round " << round << ": " << r.error().message();
            EXPECT_EQ(r->peer, server->local_addr());
            auto want = payload(c, round);
            ASSERT_EQ(r->size, want.size());
            EXPECT_EQ(std::memcmp(buf.data(), want.data(), want.size()), 0) << "client " << c << " round " << round;
        }
    }
    ASSERT_TRUE(server->stop().has_value());  // the out-counters move after sendto returns
    const MetricValues st = server->metrics().total();
    EXPECT_EQ(st.datagrams_in, kClients * kRounds);
    EXPECT_EQ(st.datagrams_out, kClients * kRounds);
    EXPECT_EQ(st.datagram_bytes_in, bytes);
    EXPECT_EQ(st.datagram_bytes_out, bytes);
    EXPECT_EQ(st.datagrams_truncated + st.datagram_send_dropped + st.datagram_send_errors + st.datagram_recv_errors,
              0u);
}

TEST(UdpServer, datagrams_spread_over_every_reactor_and_one_flow_stays_on_one_reactor) {
    constexpr std::size_t kReactors = 3, kClients = 64;
    // Replies carry the reactor index that received the datagram.
    auto server = started(
        [](UdpContext& ctx, std::span<const std::byte>, bool) {
            const auto idx = static_cast<std::byte>(ctx.reactor_index());
            (void)ctx.reply(std::span(&idx, 1));
        },
        {.reactors = kReactors});
    ASSERT_TRUE(server);
    ASSERT_EQ(server->reactor_count(), kReactors);
    std::vector<UdpSocket> clients;
    for (std::size_t c = 0; c < kClients; ++c) clients.push_back(client(server->local_addr()));

    std::array<std::byte, 16> buf{};
    const std::array<std::byte, 4> ping{};
    for (std::size_t c = 0; c < kClients; ++c) {
        std::optional<std::byte> first;
        for (int i = 0; i < 3; ++i) {
            ASSERT_TRUE(clients[c].send_to(ping, server->local_addr()).has_value());
            auto r = recv_within(clients[c], buf);
            ASSERT_TRUE(r.has_value()) << r.error().message();
            ASSERT_EQ(r->size, 1u);
            if (!first) first = buf[0];
            EXPECT_EQ(buf[0], *first) << "client " << c << " moved between reactors";
        }
    }
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kReactors; ++i) {
        const std::uint64_t in = server->metrics().reactor(i).datagrams_in.load();
        EXPECT_GT(in, 0u) << "reactor " << i << " got nothing from " << kClients << " flows";
        sum += in;
    }
    EXPECT_EQ(sum, kClients * 3);
}

TEST(UdpServer, oversize_datagram_reaches_callback_truncated_with_its_wire_size) {
    struct Seen {
        std::size_t size;
        std::size_t full_size;
        bool truncated;
    };
    std::mutex mutex;
    std::vector<Seen> seen;
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool truncated) {
            {
                std::lock_guard lock(mutex);
                seen.push_back({bytes.size(), ctx.full_size(), truncated});
            }
            (void)ctx.reply(bytes);
        },
        {.reactors = 1, .datagram_size = 512});
    ASSERT_TRUE(server);
    UdpSocket c = client(server->local_addr());
    std::vector<std::byte> big(1000), exact(512);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i & 0xff);
    std::array<std::byte, 2048> buf{};

    ASSERT_TRUE(c.send_to(big, server->local_addr()).has_value());
    auto r = recv_within(c, buf);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->size, 512u);  // the head, as received
    EXPECT_EQ(std::memcmp(buf.data(), big.data(), 512), 0);

    ASSERT_TRUE(c.send_to(exact, server->local_addr()).has_value());
    ASSERT_TRUE(recv_within(c, buf).has_value());

    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].size, 512u);
    EXPECT_EQ(seen[0].full_size, 1000u);
    EXPECT_TRUE(seen[0].truncated);
    EXPECT_EQ(seen[1].size, 512u);
    EXPECT_EQ(seen[1].full_size, 512u);
    EXPECT_FALSE(seen[1].truncated);
    EXPECT_EQ(server->metrics().total().datagrams_truncated, 1u);
    EXPECT_EQ(server->metrics().total().datagrams_in, 2u);
}

TEST(UdpServer, zero_byte_datagram_is_delivered_and_can_be_answered) {
    std::atomic<int> empties{0};
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool truncated) {
            if (bytes.empty() && !truncated && ctx.full_size() == 0) empties.fetch_add(1);
            (void)ctx.reply(bytes);
        },
        {.reactors = 1});
    ASSERT_TRUE(server);
    UdpSocket c = client(server->local_addr());
    ASSERT_TRUE(c.send_to({}, server->local_addr()).has_value());
    std::array<std::byte, 16> buf{};
    auto r = recv_within(c, buf);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->size, 0u);
    EXPECT_EQ(empties.load(), 1);
    ASSERT_TRUE(server->stop().has_value());  // the out-counters move after sendto returns
    EXPECT_EQ(server->metrics().total().datagrams_in, 1u);
    EXPECT_EQ(server->metrics().total().datagrams_out, 1u);
}

TEST(UdpServer, callback_runs_on_the_reactor_thread_that_owns_the_socket) {
    std::atomic<int> wrong{0}, calls{0};
    UdpServer* self = nullptr;
    std::atomic<bool> ready{false};
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            calls.fetch_add(1);
            if (!ready.load(std::memory_order_acquire)) wrong.fetch_add(1);
            else if (reactor::Reactor::current() != &ctx.reactor() || !ctx.reactor().is_in_loop_thread() ||
                     &self->pool().reactor(ctx.reactor_index()) != &ctx.reactor())
                wrong.fetch_add(1);
            (void)ctx.reply(bytes);
        });
    ASSERT_TRUE(server);
    self = server.get();
    ready.store(true, std::memory_order_release);
    std::vector<UdpSocket> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(client(server->local_addr()));
    std::array<std::byte, 16> buf{};
    for (auto& c : clients) {
        ASSERT_TRUE(c.send_to(std::as_bytes(std::span("hi", 2)), server->local_addr()).has_value());
        ASSERT_TRUE(recv_within(c, buf).has_value());
    }
    EXPECT_EQ(calls.load(), 8);
    EXPECT_EQ(wrong.load(), 0);
}

TEST(UdpServer, no_callback_runs_after_stop_returns_and_the_port_is_free) {
    std::atomic<bool> stopped{false};
    std::atomic<int> late{0}, calls{0};
    auto server = started([&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
        if (stopped.load()) late.fetch_add(1);
        calls.fetch_add(1);
        (void)ctx.reply(bytes);
    });
    ASSERT_TRUE(server);
    const SocketAddr addr = server->local_addr();

    // A sender floods from its own thread while stop() runs.
    std::atomic<bool> done{false};
    std::thread flood([&] {
        UdpSocket c = client(addr);
        const std::array<std::byte, 32> d{};
        for (int i = 0; i < 200000 && !done.load(); ++i) (void)c.send_to(d, addr);
    });
    const auto t0 = std::chrono::steady_clock::now();
    while (calls.load() < 100 && std::chrono::steady_clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(server->stop().has_value());
    stopped.store(true);
    const int at_stop = calls.load();
    std::this_thread::sleep_for(50ms);
    done.store(true);
    flood.join();

    EXPECT_GE(at_stop, 100);
    EXPECT_EQ(late.load(), 0);
    EXPECT_EQ(calls.load(), at_stop);
    EXPECT_TRUE(server->stop().has_value());  // idempotent
    // The sockets are closed: the same port binds without SO_REUSEPORT.
    EXPECT_TRUE(UdpSocket::bind(addr).has_value());
}

TEST(UdpServer, stop_from_the_callback_is_refused_instead_of_deadlocking) {
    std::atomic<UdpServer*> self{nullptr};
    std::atomic<int> refused{0};
    auto server = started([&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
        if (UdpServer* s = self.load(); s != nullptr && s->stop().error() == std::errc::resource_deadlock_would_occur)
            refused.fetch_add(1);
        (void)ctx.reply(bytes);
    });
    ASSERT_TRUE(server);
    self.store(server.get());
    UdpSocket c = client(server->local_addr());
    std::array<std::byte, 16> buf{};
    ASSERT_TRUE(c.send_to(std::as_bytes(std::span("x", 1)), server->local_addr()).has_value());
    ASSERT_TRUE(recv_within(c, buf).has_value());  // still serving: the stop did nothing
    EXPECT_EQ(refused.load(), 1);
    EXPECT_TRUE(server->stop().has_value());
}

TEST(UdpServer, bind_to_a_port_held_without_reuseport_fails_with_address_in_use) {
    auto holder = UdpSocket::bind(SocketAddr::loopback_v4());
    ASSERT_TRUE(holder.has_value());
    const SocketAddr addr = holder->local_addr().value();
    auto s = UdpServer::bind(addr, {.reactors = 2});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), std::errc::address_in_use) << s.error().message();
}

TEST(UdpServer, bad_options_and_misuse_are_rejected) {
    const auto addr = SocketAddr::loopback_v4();
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 0}).error(), std::errc::invalid_argument);
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 1, .batch = 0}).error(), std::errc::invalid_argument);
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 1, .batch = UdpSocket::kMaxBatch + 1}).error(),
              std::errc::invalid_argument);
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 1, .datagram_size = 0}).error(), std::errc::invalid_argument);
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 1, .event_budget = 0}).error(), std::errc::invalid_argument);
    EXPECT_EQ(UdpServer::bind(addr, {.reactors = 1, .send_area = (std::size_t{64} << 20) + 1}).error(),
              std::errc::invalid_argument);

    auto s = UdpServer::bind(addr, {.reactors = 1});
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ((*s)->start().error(), std::errc::invalid_argument);  // no callback
    ASSERT_TRUE((*s)->on_datagram(echo).has_value());
    ASSERT_TRUE((*s)->start().has_value());
    EXPECT_EQ((*s)->start().error(), std::errc::operation_not_permitted);
    EXPECT_EQ((*s)->on_datagram(echo).error(), std::errc::operation_not_permitted);
    EXPECT_TRUE((*s)->stop().has_value());
    EXPECT_EQ((*s)->start().error(), std::errc::operation_not_permitted);  // no restart
}

TEST(UdpServer, a_burst_is_drained_in_budgeted_turns_in_arrival_order) {
    std::mutex mutex;
    std::vector<std::uint32_t> order;
    auto s = UdpServer::bind(SocketAddr::loopback_v4(), {.reactors = 1, .batch = 2, .event_budget = 4});
    ASSERT_TRUE(s.has_value());
    auto& server = *s;
    ASSERT_TRUE(server
                    ->on_datagram([&](UdpContext&, std::span<const std::byte> bytes, bool) {
                        std::uint32_t v = 0;
                        if (bytes.size() == sizeof v) std::memcpy(&v, bytes.data(), sizeof v);
                        std::lock_guard lock(mutex);
                        order.push_back(v);
                    })
                    .has_value());
    // Queued in the kernel before start(): the first event finds all of them.
    constexpr std::uint32_t kCount = 100;
    UdpSocket c = client(server->local_addr());
    for (std::uint32_t i = 0; i < kCount; ++i)
        ASSERT_TRUE(c.send_to(std::as_bytes(std::span(&i, 1)), server->local_addr()).has_value());
    ASSERT_TRUE(server->start().has_value());
    const auto t0 = std::chrono::steady_clock::now();
    while (server->metrics().total().datagrams_in < kCount && std::chrono::steady_clock::now() - t0 < 5s)
        std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(server->stop().has_value());
    std::lock_guard lock(mutex);
    ASSERT_EQ(order.size(), kCount);
    for (std::uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(order[i], i);
    EXPECT_GE(server->metrics().total().datagram_budget_yields, kCount / 4 - 1);  // re-posted, not looped
}

TEST(UdpServer, runs_on_a_borrowed_pool_and_over_ipv6) {
    auto pool = reactor::ReactorPool::create({.threads = 2});
    ASSERT_TRUE(pool.has_value());
    ASSERT_TRUE((*pool)->start().has_value());
    auto s = UdpServer::bind(**pool, SocketAddr::loopback_v6(), {.only_v6 = true});
    ASSERT_TRUE(s.has_value()) << s.error().message();
    ASSERT_TRUE((*s)->on_datagram(echo).has_value());
    ASSERT_TRUE((*s)->start().has_value());
    EXPECT_EQ((*s)->reactor_count(), 2u);
    UdpSocket c = client((*s)->local_addr());
    std::array<std::byte, 64> buf{};
    for (int i = 0; i < 10; ++i) {
        const auto p = payload(1, static_cast<std::size_t>(i));
        ASSERT_TRUE(c.send_to(p, (*s)->local_addr()).has_value());
        auto r = recv_within(c, buf);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->size, std::min(p.size(), buf.size()));
    }
    ASSERT_TRUE((*s)->stop().has_value());
    EXPECT_TRUE((*pool)->is_running());  // a borrowed pool is left running
    ASSERT_TRUE((*pool)->stop().has_value());
}

// A server on 1 reactor whose socket already holds `count` datagrams (4-byte sequence
// numbers) when start() runs, so the first recv_many batches find them together.
std::unique_ptr<UdpServer> started_with_queued(DatagramCallback cb, UdpServerOptions o, const UdpSocket& c,
                                               std::uint32_t count) {
    auto s = UdpServer::bind(SocketAddr::loopback_v4(), std::move(o));
    EXPECT_TRUE(s.has_value()) << s.error().message();
    if (!s) return nullptr;
    EXPECT_TRUE((*s)->on_datagram(std::move(cb)).has_value());
    for (std::uint32_t i = 0; i < count; ++i)
        EXPECT_TRUE(c.send_to(std::as_bytes(std::span(&i, 1)), (*s)->local_addr()).has_value());
    EXPECT_TRUE((*s)->start().has_value());
    return std::move(*s);
}

std::uint32_t u32_at(std::span<const std::byte> b, std::size_t off = 0) {
    std::uint32_t v = 0;
    if (b.size() >= off + sizeof v) std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

TEST(UdpServer, replies_of_one_batch_leave_together_after_its_last_callback) {
    constexpr std::uint32_t kDatagrams = 6;
    UdpSocket c = client(SocketAddr::loopback_v4());
    std::atomic<int> seen_early{0}, calls{0};
    auto server = started_with_queued(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            // Loopback delivers a sent datagram before sendto returns: had an earlier
            // reply of this batch gone out, the client could peek it now.
            std::array<std::byte, 16> peek{};
            if (calls.fetch_add(1) > 0 && c.peek_from(peek).has_value()) seen_early.fetch_add(1);
            (void)ctx.reply(bytes);
        },
        {.reactors = 1, .batch = 16}, c, kDatagrams);
    ASSERT_TRUE(server);
    std::array<std::byte, 16> buf{};
    for (std::uint32_t i = 0; i < kDatagrams; ++i) {
        auto r = recv_within(c, buf);
        ASSERT_TRUE(r.has_value()) << i;
        EXPECT_EQ(u32_at(buf), i);
    }
    ASSERT_TRUE(server->stop().has_value());
    EXPECT_EQ(calls.load(), static_cast<int>(kDatagrams));
    EXPECT_EQ(seen_early.load(), 0) << "a reply left before the end of its batch";
    EXPECT_EQ(server->metrics().total().datagrams_out, kDatagrams);
}

TEST(UdpServer, several_replies_per_datagram_arrive_in_call_order_even_past_64_per_batch) {
    constexpr std::uint32_t kDatagrams = 16, kRepliesEach = 10;  // 160 replies per batch: early flushes
    UdpSocket c = client(SocketAddr::loopback_v4());
    ASSERT_TRUE(c.set_recv_buffer_size(1 << 20).has_value());
    auto server = started_with_queued(
        [](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            for (std::uint32_t k = 0; k < kRepliesEach; ++k) {
                const std::array<std::uint32_t, 2> reply{u32_at(bytes), k};
                EXPECT_TRUE(ctx.reply(std::as_bytes(std::span(reply))).has_value());  // queued: success
            }
        },
        {.reactors = 1, .batch = 16}, c, kDatagrams);
    ASSERT_TRUE(server);
    std::array<std::byte, 64> buf{};
    for (std::uint32_t i = 0; i < kDatagrams; ++i) {
        for (std::uint32_t k = 0; k < kRepliesEach; ++k) {
            auto r = recv_within(c, buf);
            ASSERT_TRUE(r.has_value()) << "datagram " << i << " reply " << k << ": " << r.error().message();
            ASSERT_EQ(r->size, 8u);
            ASSERT_EQ(u32_at(buf, 0), i) << "reply " << k;
            ASSERT_EQ(u32_at(buf, 4), k) << "datagram " << i;
        }
    }
    ASSERT_TRUE(server->stop().has_value());
    const MetricValues m = server->metrics().total();
    EXPECT_EQ(m.datagrams_out, kDatagrams * kRepliesEach);
    EXPECT_EQ(m.datagram_bytes_out, kDatagrams * kRepliesEach * 8);
    EXPECT_EQ(m.datagram_send_errors + m.datagram_send_dropped, 0u);
}

TEST(UdpServer, a_queued_reply_that_the_kernel_refuses_is_counted_and_skipped_and_the_rest_go_out) {
    constexpr std::uint32_t kDatagrams = 12;
    std::atomic<int> queued_ok{0};
    UdpSocket c = client(SocketAddr::loopback_v4());
    auto server = started_with_queued(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            // An IPv6 destination on an IPv4 socket: refused by the kernel at the flush.
            if (ctx.send_to(bytes, SocketAddr::loopback_v6(9)).has_value()) queued_ok.fetch_add(1);
            (void)ctx.reply(bytes);
        },
        {.reactors = 1}, c, kDatagrams);
    ASSERT_TRUE(server);
    std::array<std::byte, 16> buf{};
    for (std::uint32_t i = 0; i < kDatagrams; ++i) {
        auto r = recv_within(c, buf);
        ASSERT_TRUE(r.has_value()) << i << ": " << r.error().message();
        EXPECT_EQ(u32_at(buf), i);
    }
    ASSERT_TRUE(server->stop().has_value());
    EXPECT_EQ(queued_ok.load(), static_cast<int>(kDatagrams));  // queued: the error is not returned
    const MetricValues m = server->metrics().total();
    EXPECT_EQ(m.datagram_send_errors, kDatagrams);
    EXPECT_EQ(m.datagrams_out, kDatagrams);
    EXPECT_EQ(m.datagram_send_dropped, 0u);
}

TEST(UdpServer, a_reply_larger_than_the_send_area_is_sent_at_once_in_order_and_returns_its_result) {
    std::atomic<int> big_ok{0}, huge_refused{0};
    UdpSocket c = client(SocketAddr::loopback_v4());
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte>, bool) {
            std::array<std::byte, 200> big{};
            big.fill(std::byte{'B'});
            static const std::vector<std::byte> huge(70000);  // more than any UDP payload
            (void)ctx.reply(std::as_bytes(std::span("A", 1)));
            if (ctx.reply(big).has_value()) big_ok.fetch_add(1);  // direct: flushes "A" first
            (void)ctx.reply(std::as_bytes(std::span("C", 1)));
            if (ctx.reply(huge).error() == std::errc::message_size) huge_refused.fetch_add(1);
        },
        {.reactors = 1, .send_area = 64});
    ASSERT_TRUE(server);
    ASSERT_TRUE(c.send_to(std::as_bytes(std::span("x", 1)), server->local_addr()).has_value());
    std::array<std::byte, 512> buf{};
    auto a = recv_within(c, buf);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->size, 1u);
    EXPECT_EQ(buf[0], std::byte{'A'});
    auto b = recv_within(c, buf);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->size, 200u);
    EXPECT_EQ(buf[0], std::byte{'B'});
    auto cc = recv_within(c, buf);
    ASSERT_TRUE(cc.has_value());
    EXPECT_EQ(cc->size, 1u);
    EXPECT_EQ(buf[0], std::byte{'C'});
    ASSERT_TRUE(server->stop().has_value());
    EXPECT_EQ(big_ok.load(), 1);
    EXPECT_EQ(huge_refused.load(), 1);
    EXPECT_EQ(server->metrics().total().datagrams_out, 3u);
    EXPECT_EQ(server->metrics().total().datagram_send_errors, 1u);
}

TEST(UdpServer, with_send_area_zero_every_reply_is_sent_at_once_and_returns_the_send_error) {
    std::atomic<int> refused{0};
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            if (!ctx.send_to(bytes, SocketAddr::loopback_v6(9)).has_value()) refused.fetch_add(1);
            (void)ctx.reply(bytes);
        },
        {.reactors = 1, .send_area = 0});
    ASSERT_TRUE(server);
    UdpSocket c = client(server->local_addr());
    std::array<std::byte, 16> buf{};
    ASSERT_TRUE(c.send_to(std::as_bytes(std::span("q", 1)), server->local_addr()).has_value());
    ASSERT_TRUE(recv_within(c, buf).has_value());
    ASSERT_TRUE(server->stop().has_value());
    EXPECT_EQ(refused.load(), 1);
    EXPECT_EQ(server->metrics().total().datagram_send_errors, 1u);
    EXPECT_EQ(server->metrics().total().datagrams_out, 1u);
}

TEST(UdpServer, steady_state_receive_and_reply_allocate_nothing_per_datagram) {
    constexpr int kWarmup = 200, kMeasured = 500;
    // Touched only on the one reactor thread, then read after stop().
    std::optional<test::AllocationCounter> counter;
    std::atomic<long> allocations{-1};
    int n = 0;
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool) {
            ++n;
            if (n == kWarmup) counter.emplace();
            (void)ctx.reply(bytes);
            if (n == kWarmup + kMeasured) {
                allocations.store(static_cast<long>(counter->count()));
                counter.reset();
            }
        },
        {.reactors = 1});
    ASSERT_TRUE(server);
    UdpSocket c = client(server->local_addr());
    std::array<std::byte, 256> buf{};
    for (int i = 0; i < kWarmup + kMeasured; ++i) {
        const auto p = payload(2, static_cast<std::size_t>(i));
        ASSERT_TRUE(c.send_to(p, server->local_addr()).has_value());
        ASSERT_TRUE(recv_within(c, buf).has_value()) << i;
    }
    ASSERT_TRUE(server->stop().has_value());
    EXPECT_EQ(allocations.load(), 0) << "heap allocations over " << kMeasured << " datagrams";
}

// The value of the sample line `series` ("name{labels}" exactly as rendered), or nullopt.
std::optional<std::uint64_t> sample(const std::string& text, const std::string& series) {
    const std::string key = "\n" + series + " ";
    const auto at = text.find(key);
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(text.substr(at + key.size()));
}

TEST(UdpServer, metrics_render_the_datagram_counters_in_prometheus_text_per_reactor_and_in_total) {
    constexpr std::size_t kEchoes = 25;
    std::atomic<std::size_t> calls{0};
    auto server = started(
        [&](UdpContext& ctx, std::span<const std::byte> bytes, bool truncated) {
            if (calls.fetch_add(1) == 0) (void)ctx.send_to(bytes, SocketAddr::loopback_v6());  // wrong family
            if (!truncated) (void)ctx.reply(bytes);
        },
        {.reactors = 2, .datagram_size = 100});
    ASSERT_TRUE(server);
    UdpSocket c = client(server->local_addr());
    const std::array<std::byte, 40> small{};
    const std::array<std::byte, 300> big{};
    std::array<std::byte, 512> buf{};
    for (std::size_t i = 0; i < kEchoes; ++i) {
        ASSERT_TRUE(c.send_to(small, server->local_addr()).has_value());
        ASSERT_TRUE(recv_within(c, buf).has_value()) << i;
    }
    ASSERT_TRUE(c.send_to(big, server->local_addr()).has_value());  // truncated to 100, not answered
    const auto t0 = std::chrono::steady_clock::now();
    while (server->metrics().total().datagrams_in < kEchoes + 1 && std::chrono::steady_clock::now() - t0 < 5s)
        std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(server->stop().has_value());  // every count final

    // One client flow: all on one reactor; which one depends on the reuseport hash.
    const std::size_t r = server->metrics().reactor(0).datagrams_in.load() > 0 ? 0 : 1;
    std::string text;
    server->metrics().render_prometheus(text);
    const std::string on = "{reactor=\"" + std::to_string(r) + "\"}";
    const std::string off = "{reactor=\"" + std::to_string(1 - r) + "\"}";
    EXPECT_NE(text.find("# TYPE pollux_udp_datagrams_in_total counter\n"), std::string::npos);
    EXPECT_EQ(sample(text, "pollux_udp_datagrams_in_total" + on), kEchoes + 1) << text;
    EXPECT_EQ(sample(text, "pollux_udp_datagrams_in_total" + off), 0u);
    EXPECT_EQ(sample(text, "pollux_udp_datagrams_in_total"), kEchoes + 1);
    EXPECT_EQ(sample(text, "pollux_udp_bytes_in_total"), kEchoes * small.size() + 100);
    EXPECT_EQ(sample(text, "pollux_udp_truncated_total" + on), 1u);
    EXPECT_EQ(sample(text, "pollux_udp_datagrams_out_total" + on), kEchoes);
    EXPECT_EQ(sample(text, "pollux_udp_bytes_out_total"), kEchoes * small.size());
    EXPECT_EQ(sample(text, "pollux_udp_send_errors_total" + on), 1u);  // the IPv6 destination
    EXPECT_EQ(sample(text, "pollux_udp_send_dropped_total"), 0u);
    EXPECT_EQ(sample(text, "pollux_udp_recv_errors_total"), 0u);
    EXPECT_TRUE(sample(text, "pollux_udp_budget_yields_total").has_value());
    EXPECT_EQ(sample(text, "pollux_connections_accepted_total"), 0u);  // no stream counters here
    // The loop fields, booked at stop at the latest (each reactor looped at least once
    // to run start's registration task).
    EXPECT_GT(sample(text, "pollux_loop_iterations_total" + on).value_or(0), 0u);
    EXPECT_GT(sample(text, "pollux_loop_iterations_total" + off).value_or(0), 0u);
    EXPECT_TRUE(sample(text, "pollux_posted_queue_depth").has_value());
    EXPECT_TRUE(sample(text, "pollux_timers").has_value());
}

}  // namespace
}  // namespace pollux::framework
