// framework/tests/fault/fault_injector.hpp — test-only: syscall fault injection.
//
// The fault test binary is linked with -Wl,--wrap=<fn> for recv, send, recvmsg,
// sendmsg, sendto, readv, writev, accept4, epoll_ctl and close (CMakeLists.txt next to this
// file), so every call pollux makes to them lands in fault_injector.cpp first. The
// library's own sources are untouched. Faults hit only the sockets a test chose:
//
//   watch_listener_port(p)  accept4 on a listener bound to port p may fail with
//                       EMFILE; the sockets it accepts are watched, keyed by the
//                       client's port;
//   watch(fd)           a socket the test made itself.
//
// A call on a watched socket may, at the armed per-mille rates, fail with EINTR, fail
// with EAGAIN, move fewer bytes than asked (a short count), or fail with ECONNRESET
// (sticky: every later call on that socket fails the same way, as after a real reset).
// Spurious EAGAIN and short counts are the kernel's to give only when the socket is
// not ready; to keep that promise true under edge-triggered epoll, the injector re-arms
// the socket's epoll registration (EPOLL_CTL_MOD with the interest last registered)
// after each, so readiness that is still there is reported again.
//
// The decisions come from one seeded generator (a mutex guards the whole state): a
// seed fixes the sequence of decisions, though with several reactor threads the order
// in which calls draw from it is the scheduler's.
#pragma once

#include <cstdint>
#include <string>

namespace pollux::fault {

// Per-mille rates of each fault, per call on a watched socket.
struct Rates {
    unsigned eintr = 0;
    unsigned eagain = 0;
    unsigned short_io = 0;
    unsigned reset = 0;
    unsigned emfile = 0;  // accept4 on a watched listener
};

struct Tally {
    std::uint64_t calls = 0;  // calls on watched sockets and listeners
    std::uint64_t eintr = 0;
    std::uint64_t eagain = 0;
    std::uint64_t short_io = 0;
    std::uint64_t reset = 0;
    std::uint64_t emfile = 0;
    Tally& operator+=(const Tally& o) noexcept;
};

// Forgets every watched socket and the tallies, then injects at `rates`.
void arm(std::uint64_t seed, const Rates& rates);
// Injects nothing more (watched sockets stay watched, tallies stay).
void disarm();

void watch_listener_port(std::uint16_t port);
void watch(int fd);

Tally tally();
// Whether a socket accepted from the client port `port` got an injected ECONNRESET.
bool was_reset(std::uint16_t port);
// Whether accept4 on a watched listener returned a socket from client port `port`.
bool was_accepted(std::uint16_t port);

// Rates from the environment: POLLUX_FAULT_RATES="eintr,eagain,short,reset,emfile"
// (per mille), else `fallback`. Seeds: POLLUX_FAULT_SEEDS="first-last" (or one
// number), else [first, last] as given.
Rates rates_from_env(const Rates& fallback);
void seeds_from_env(std::uint64_t& first, std::uint64_t& last);
std::string to_string(const Rates& r);
std::string to_string(const Tally& t);

}  // namespace pollux::fault
