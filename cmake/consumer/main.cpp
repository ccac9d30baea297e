// Polls a pipe once through an installed pollux; exits 0 when the readable event arrives.
#include <array>
#include <chrono>
#include <cstdio>

#include <pollux/core/core.hpp>

int main() {
    using namespace pollux;
    auto poll = Poll::create();
    auto ends = pollux::pipe();
    if (!poll || !ends) return 1;
    auto& [tx, rx] = *ends;
    if (!poll->registry().register_source(rx, Token(7), Interest::READABLE)) return 2;
    const std::array<std::byte, 1> byte{std::byte{42}};
    if (!tx.write(byte)) return 3;
    auto events = Events::with_capacity(4);
    if (!poll->poll(events, std::chrono::seconds(1)) || events.empty()) return 4;
    std::printf("consumer: %zu event(s), token %zu\n", events.size(), events[0].token().value());
    return events[0].token() == Token(7) ? 0 : 5;
}
