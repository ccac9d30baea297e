// core/tests/support/scoped_signal.hpp — test helper: install a signal handler for the
// length of a scope and put the previous disposition back afterwards.
//
//   ScopedSignal usr1(SIGUSR1, &on_signal);            // no SA_RESTART
//   ScopedSignal pipe(SIGPIPE, &count_signal, SA_RESTART);
#pragma once

#include <signal.h>

#include <gtest/gtest.h>

namespace pollux::test {

class ScopedSignal {
public:
    ScopedSignal(int signo, void (*handler)(int), int flags = 0) : signo_(signo) {
        struct sigaction sa {};
        sa.sa_handler = handler;
        sa.sa_flags = flags;
        sigemptyset(&sa.sa_mask);
        installed_ = ::sigaction(signo_, &sa, &old_) == 0;
        EXPECT_TRUE(installed_) << "sigaction(" << signo_ << ") failed";
    }
    ScopedSignal(const ScopedSignal&) = delete;
    ScopedSignal& operator=(const ScopedSignal&) = delete;
    ~ScopedSignal() {
        if (installed_) ::sigaction(signo_, &old_, nullptr);
    }

private:
    int signo_;
    bool installed_ = false;
    struct sigaction old_ {};
};

}  // namespace pollux::test
