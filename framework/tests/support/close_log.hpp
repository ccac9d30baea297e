// framework/tests/support/close_log.hpp — records on_close calls from any reactor thread.
//
//     CloseLog log;
//     server->on_close([&](Connection&, CloseReason r) { log.add(r); });
//     ASSERT_TRUE(log.wait_for(1));
//     EXPECT_EQ(log.reasons(), std::vector{CloseReason::peer_closed});
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

#include "pollux/framework/metrics.hpp"
#include "support/loopback_client.hpp"

namespace pollux::test {

class CloseLog {
public:
    void add(framework::CloseReason r) {
        std::lock_guard lock(mutex_);
        reasons_.push_back(r);
    }
    std::vector<framework::CloseReason> reasons() const {
        std::lock_guard lock(mutex_);
        return reasons_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return reasons_.size();
    }
    std::size_t count(framework::CloseReason r) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (auto x : reasons_) n += x == r ? 1 : 0;
        return n;
    }
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        return eventually([&] { return size() >= n; }, timeout);
    }

private:
    mutable std::mutex mutex_;
    std::vector<framework::CloseReason> reasons_;
};

}  // namespace pollux::test
