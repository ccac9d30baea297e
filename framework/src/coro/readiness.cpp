// framework/src/coro/readiness.cpp — internal: edge flags and waits (coro/readiness.hpp).
#include "pollux/framework/coro/readiness.hpp"

namespace pollux::coro::detail {

void ReadinessCore::Awaiter::abandon(Waiter& w) noexcept {
    auto& a = static_cast<Awaiter&>(w);
    if (a.core_->waiter_[a.dir_] == &a) a.core_->waiter_[a.dir_] = nullptr;
}

bool ReadinessCore::Awaiter::await_ready() noexcept {
    if (cancelled_early()) return true;
    if (core_->waiter_[dir_] != nullptr) {
        set_error(std::make_error_code(std::errc::operation_in_progress));
        return true;
    }
    if (core_->edge_[dir_]) {  // an edge came since the last wait: consume it
        core_->edge_[dir_] = false;
        return true;
    }
    return false;
}

void ReadinessCore::on_event(const Event& ev) {
    const bool broken = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
    const bool dirs[2] = {ev.is_readable() || broken, ev.is_writable() || broken};
    std::coroutine_handle<> wake[2];
    for (int d = 0; d < 2; ++d) {
        if (!dirs[d]) continue;
        if (Awaiter* w = waiter_[d]; w != nullptr) {
            waiter_[d] = nullptr;
            wake[d] = w->settle();  // the edge goes to this wait
        } else {
            edge_[d] = true;
        }
    }
    // A resumed task may destroy this Readiness: nothing of it is touched from here on.
    for (auto h : wake) {
        if (h) h.resume();
    }
}

ReadinessCore::~ReadinessCore() {
    for (int d = 0; d < 2; ++d) {
        if (Awaiter* w = waiter_[d]; w != nullptr) {
            waiter_[d] = nullptr;
            w->core_ = nullptr;
            w->settle(std::make_error_code(std::errc::operation_canceled)).resume();
        }
    }
}

}  // namespace pollux::coro::detail
