// Readiness of a registered source as awaits: a UdpSocket drained after each readable
// edge, an edge that came before the wait, a deadline and a cancel while suspended.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "pollux/framework/coro/coro.hpp"
#include "pollux/framework/coro/readiness.hpp"
#include "pollux/net/udp_socket.hpp"

using namespace std::chrono_literals;
using namespace pollux;
using pollux::reactor::Reactor;
namespace coro = pollux::coro;

namespace {

struct Outcome {
    std::promise<net::SocketAddr> addr;
    std::promise<int> received;
    std::error_code timed_out;
    std::error_code cancelled;
    bool writable_at_once = false;
};

coro::Task<void> receiver(Outcome& out, int want) {
    auto sock = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0));
    if (!sock) co_return;
    auto ready = coro::Readiness<net::UdpSocket>::register_in_loop(*Reactor::current(), *sock,
                                                                   Interest::READABLE | Interest::WRITABLE);
    if (!ready) co_return;
    // A fresh socket is writable: that edge came at registration and waits for us.
    out.writable_at_once = static_cast<bool>(co_await (*ready)->writable(0ms));
    // Nothing sent yet: the deadline ends the wait.
    auto idle = co_await (*ready)->readable(20ms);
    out.timed_out = idle ? std::error_code() : idle.error();
    coro::CancelSource cancel;
    auto canceller = [](coro::CancelSource& c) -> coro::Task<int> {
        co_await coro::sleep_for(5ms);
        c.cancel();
        co_return 0;
    };
    auto waiter = [](coro::Readiness<net::UdpSocket>& r, coro::CancelToken t, std::error_code& e) -> coro::Task<int> {
        auto w = co_await r.readable({}, t);
        e = w ? std::error_code() : w.error();
        co_return 0;
    };
    co_await coro::when_all(waiter(**ready, cancel.token(), out.cancelled), canceller(cancel));

    out.addr.set_value(sock->local_addr().value());
    int got = 0;
    std::array<std::byte, 64> buf{};
    while (got < want) {
        if (!co_await (*ready)->readable(10s)) break;
        while (sock->recv_from(buf)) ++got;  // edge-triggered: drain until WouldBlock
    }
    out.received.set_value(got);
}

}  // namespace

TEST(CoroReadiness, a_udp_socket_is_drained_after_each_readable_edge) {
    auto r = Reactor::create().value();
    ASSERT_TRUE(r->start());
    Outcome out;
    auto addr_f = out.addr.get_future();
    auto got_f = out.received.get_future();
    constexpr int kDatagrams = 200;
    ASSERT_TRUE(coro::spawn(*r, receiver(out, kDatagrams)));
    ASSERT_EQ(addr_f.wait_for(10s), std::future_status::ready);
    const net::SocketAddr target = addr_f.get();
    auto sender = net::UdpSocket::bind(net::SocketAddr::loopback_v4(0)).value();
    std::array<std::byte, 16> msg{};
    for (int i = 0; i < kDatagrams; ++i) {
        msg[0] = static_cast<std::byte>(i);
        while (!sender.send_to(msg, target)) std::this_thread::sleep_for(1ms);  // WouldBlock: retry
        if (i % 50 == 0) std::this_thread::sleep_for(2ms);  // several edges, not one
    }
    ASSERT_EQ(got_f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(got_f.get(), kDatagrams);
    EXPECT_TRUE(out.writable_at_once);
    EXPECT_EQ(out.timed_out, std::errc::timed_out);
    EXPECT_EQ(out.cancelled, std::errc::operation_canceled);
}
