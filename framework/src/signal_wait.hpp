// framework/src/signal_wait.hpp — internal.
//
// The shared body of every server's run_until_signal():
//
//     block SIGINT+SIGTERM in this thread (threads started by `start` inherit the mask)
//     start() -> sigwait -> stop() -> restore this thread's previous mask
//
// A signal that arrives again while stop() runs stays pending until the mask is
// restored, and then gets its default action (a second Ctrl-C ends a slow stop).
#pragma once

#include <functional>

#include "pollux/core/result.hpp"

namespace pollux::framework::detail {

Result<void> run_until_signal(const std::function<Result<void>()>& start, const std::function<Result<void>()>& stop);

}  // namespace pollux::framework::detail
