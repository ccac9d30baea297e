// coro::UdpSocket::send_to and recv_from under injected EAGAIN and EINTR
// (fault_injector.hpp), per seed. Over loopback a UDP send never finds its buffer full
// (the kernel gives a loopback datagram's buffer space back as it sends it), so only an
// injected EAGAIN makes send_to wait for WRITABLE: this is where that wait is tested.
// Every datagram must arrive once and in order, and EINTR must never reach the task.
// Seeds: POLLUX_FAULT_SEEDS (default 1-100).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#include "fault_injector.hpp"
#include "pollux/framework/coro/coro.hpp"
#include "pollux/net/udp_socket.hpp"
#include "support/coro_run.hpp"

using namespace std::chrono_literals;
using namespace pollux;
namespace coro = pollux::coro;

namespace {

constexpr fault::Rates kRates{.eintr = 100, .eagain = 300, .short_io = 0, .reset = 0, .emfile = 0};
constexpr int kDatagrams = 50;

struct Outcome {
    std::error_code error = std::make_error_code(std::errc::state_not_recoverable);  // not run
    int matched = 0;
    std::string first_wrong;
};

// A watched sender (registered after it is watched, so the injector can re-arm its
// readiness) sends kDatagrams, each received by a plain socket before the next goes.
coro::Task<void> exchange(Outcome& out) {
    reactor::Reactor& r = *reactor::Reactor::current();
    auto raw = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
    if (!raw) {
        out.error = raw.error();
        co_return;
    }
    fault::watch(raw->fd());
    auto sender = coro::UdpSocket::adopt(r, std::move(*raw));
    auto receiver = coro::UdpSocket::bind(r, net::SocketAddr::loopback_v4(0));
    if (!sender || !receiver) {
        out.error = !sender ? sender.error() : receiver.error();
        co_return;
    }
    auto to = receiver->socket().local_addr();
    auto from = sender->socket().local_addr();
    if (!to || !from) {
        out.error = std::make_error_code(std::errc::address_not_available);
        co_return;
    }
    std::array<std::byte, 64> msg{};
    std::array<std::byte, 256> buf{};
    for (int i = 0; i < kDatagrams; ++i) {
        const std::string text = "datagram " + std::to_string(i);
        std::memcpy(msg.data(), text.data(), text.size());
        auto sent = co_await sender->send_to(std::span(msg).first(text.size()), *to, 5s);
        if (!sent) {
            out.error = sent.error();
            co_return;
        }
        if (*sent != text.size()) {
            out.error = std::make_error_code(std::errc::message_size);
            co_return;
        }
        auto got = co_await receiver->recv_from(buf, 5s);
        if (!got) {
            out.error = got.error();
            co_return;
        }
        const std::string seen(reinterpret_cast<const char*>(buf.data()), got->first);
        if (seen == text && got->second == *from) {
            ++out.matched;
        } else if (out.first_wrong.empty()) {
            out.first_wrong = seen;
        }
    }
    out.error = {};
}

}  // namespace

TEST(FaultCoroUdp, send_to_waits_out_injected_would_block_and_every_datagram_arrives_once_in_order) {
    auto r = test::started_reactor();
    std::uint64_t first = 1, last = 100;
    fault::seeds_from_env(first, last);
    fault::Tally all;
    for (std::uint64_t seed = first; seed <= last && !::testing::Test::HasFailure(); ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed) + " (POLLUX_FAULT_SEEDS=" + std::to_string(seed) + ")");
        fault::arm(seed, kRates);
        Outcome out;
        EXPECT_FALSE(test::run_on(*r, exchange(out)));
        fault::disarm();
        EXPECT_FALSE(out.error) << out.error.message();
        EXPECT_EQ(out.matched, kDatagrams) << "first wrong datagram: " << out.first_wrong;
        all += fault::tally();
    }
    std::printf("seeds %llu-%llu: %s\n", static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                fault::to_string(all).c_str());
    // Each seed's sends drew EAGAIN (a wait for WRITABLE) and EINTR (a retry).
    EXPECT_GT(all.eagain, last - first);
    EXPECT_GT(all.eintr, 0u);
}
