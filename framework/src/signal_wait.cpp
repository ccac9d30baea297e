// framework/src/signal_wait.cpp — internal.
#include "signal_wait.hpp"

#include <pthread.h>
#include <signal.h>

#include <system_error>

namespace pollux::framework::detail {

Result<void> run_until_signal(const std::function<Result<void>()>& start, const std::function<Result<void>()>& stop) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigset_t previous;
    if (int e = pthread_sigmask(SIG_BLOCK, &set, &previous); e != 0) {
        return std::unexpected(std::error_code(e, std::system_category()));
    }
    auto result = start();
    if (result) {
        int sig = 0;
        (void)sigwait(&set, &sig);
        result = stop();
    }
    (void)pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return result;
}

}  // namespace pollux::framework::detail
