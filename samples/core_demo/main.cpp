// core_demo — one Poll watching a pipe, a Waker and a timerfd, printing what it sees.
//
// A second thread writes three messages into the pipe and then wakes the loop; a
// periodic timerfd ticks every 20 ms. The loop drains each source until WouldBlock
// (edge-triggered), and exits after the Waker event once it has seen all three
// messages and at least three timer ticks. Exit status 0 means every event arrived.
// It takes no arguments (--help says so; anything else is a usage error, status 2).
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <thread>

#include "cli.hpp"
#include "pollux/core/core.hpp"

namespace {

using namespace std::chrono_literals;
using pollux::Interest;
using pollux::Token;

constexpr Token kPipe{1};
constexpr Token kTimer{2};
constexpr Token kWaker{3};

int fail(const char* what, const std::error_code& ec) {
    std::fprintf(stderr, "core_demo: %s: %s\n", what, ec.message().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"One Poll watching a pipe, a Waker and a timerfd, printing what it sees. No arguments.",
                 "core_demo"};
    if (auto status = pollux::samples::cli::parse(app, argc, argv)) return *status;

    auto poll = pollux::Poll::create();
    if (!poll) return fail("Poll::create", poll.error());
    auto events = pollux::Events::with_capacity(16);
    const pollux::Registry& registry = poll->registry();

    auto ends = pollux::pipe();
    if (!ends) return fail("pipe", ends.error());
    auto& [sender, receiver] = *ends;
    if (auto r = registry.register_source(receiver, kPipe, Interest::READABLE); !r) return fail("register pipe", r.error());

    pollux::OwnedFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer) return fail("timerfd_create", pollux::errno_code(errno));
    const itimerspec every_20ms{{0, 20'000'000}, {0, 20'000'000}};
    ::timerfd_settime(timer.get(), 0, &every_20ms, nullptr);
    pollux::SourceFd timer_source(timer.get());
    if (auto r = registry.register_source(timer_source, kTimer, Interest::READABLE); !r) return fail("register timer", r.error());

    auto waker = pollux::Waker::create(registry, kWaker);
    if (!waker) return fail("Waker::create", waker.error());

    std::thread producer([&] {
        for (std::string_view msg : {"hello", "from", "another thread"}) {
            (void)sender.write(std::as_bytes(std::span(msg.data(), msg.size())));
            std::this_thread::sleep_for(30ms);
        }
        (void)waker->wake();
    });

    int messages = 0;
    std::uint64_t ticks = 0;
    bool woken = false;
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!(woken && messages == 3 && ticks >= 3) && std::chrono::steady_clock::now() < give_up) {
        if (auto r = poll->poll(events, 1s); !r) {
            if (pollux::is_interrupted(r.error())) continue;
            producer.join();
            return fail("poll", r.error());
        }
        for (const pollux::Event& ev : events) {
            if (ev.token() == kPipe) {
                std::array<std::byte, 64> buf;
                for (;;) {  // drain until WouldBlock
                    auto n = receiver.read(buf);
                    if (!n || *n == 0) break;
                    std::printf("pipe:  %.*s\n", static_cast<int>(*n), reinterpret_cast<const char*>(buf.data()));
                    ++messages;
                }
            } else if (ev.token() == kTimer) {
                std::uint64_t expirations = 0;
                while (::read(timer.get(), &expirations, sizeof expirations) == sizeof expirations) ticks += expirations;
                std::printf("timer: %llu tick(s) so far\n", static_cast<unsigned long long>(ticks));
            } else if (ev.token() == kWaker) {
                std::printf("waker: woken\n");
                woken = true;
            }
        }
    }
    producer.join();
    (void)registry.deregister(timer_source);
    (void)registry.deregister(receiver);

    const bool ok = woken && messages == 3 && ticks >= 3;
    std::printf("core_demo: %d message(s), %llu tick(s), woken=%s -> %s\n", messages,
                static_cast<unsigned long long>(ticks), woken ? "yes" : "no", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
