// framework/tests/support/coro_run.hpp — running a coroutine task on a reactor from a test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <system_error>

#include "pollux/framework/coro/coro.hpp"
#include "pollux/reactor/reactor.hpp"

namespace pollux::test {

inline std::unique_ptr<reactor::Reactor> started_reactor() {
    auto r = reactor::Reactor::create().value();
    EXPECT_TRUE(r->start());
    return r;
}

// Spawns `task` on `r` and waits (at most 10 s) for its end; returns its error.
inline std::error_code run_on(reactor::Reactor& r, coro::Task<void> task) {
    auto ended = std::make_shared<std::promise<std::error_code>>();
    auto f = ended->get_future();
    coro::spawn(r, std::move(task), [ended](std::error_code ec) { ended->set_value(ec); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        return std::make_error_code(std::errc::timed_out);
    }
    return f.get();
}

}  // namespace pollux::test
