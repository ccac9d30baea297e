// framework/tests/reliability/load_modes.cpp — the churn, linger, storm and stop modes of
// the reliability load client (load_client.cpp has the hold mode and the command line).
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "load_common.hpp"

namespace pollux::reliability {
int start_connect_for(int rcvbuf);
int so_error_of(int fd);
void abortive_close_of(int fd);
}  // namespace pollux::reliability

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace pollux::reliability;

namespace {

using u64 = unsigned long long;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

void epoll_set(int ep, int op, int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = data;
    ::epoll_ctl(ep, op, fd, &e);
}

// Connects `n` sockets (blocking wait, at most 10 s); -1 for the failed ones.
std::vector<int> connect_many(std::size_t n, int rcvbuf = 0) {
    std::vector<int> fds;
    std::vector<pollfd> p;
    for (std::size_t i = 0; i < n; ++i) {
        fds.push_back(start_connect_for(rcvbuf));
        p.push_back({fds.back(), POLLOUT, 0});
    }
    const auto end = Clock::now() + 10s;
    std::size_t left = n;
    for (auto& x : p)
        if (x.fd < 0) --left;
    while (left > 0 && Clock::now() < end) {
        if (::poll(p.data(), p.size(), 100) <= 0) continue;
        for (std::size_t i = 0; i < n; ++i) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            p[i].fd = -1;
            --left;
            if (so_error_of(fds[i]) != 0) {
                ::close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        if (p[i].fd >= 0) {
            ::close(fds[i]);
            fds[i] = -1;
        }
    return fds;
}

}  // namespace

// ---- churn (T3) ----
int run_churn(long slots_arg, long ops_arg, long seed, long max_payload) {
    enum Kind { shut_write, plain_close, abortive, kKinds };
    struct Slot {
        int fd = -1;
        Kind kind = shut_write;
        bool connecting = false;
        bool shut = false;
        std::size_t len = 0, target = 0, sent = 0, recvd = 0;
        ByteStream tx{0}, rx{0};
        std::vector<std::uint8_t> pend;  // generated, not yet sent
        std::size_t pend_off = 0;
    };
    const auto nslots = static_cast<std::size_t>(slots_arg);
    const auto ops = static_cast<std::uint64_t>(ops_arg);
    std::vector<Slot> slots(nslots);
    Rng rng{static_cast<std::uint64_t>(seed) * 2654435761u + 1};
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::uint64_t started = 0, finished = 0, graceful_ok = 0, aborted = 0, connect_errors = 0, addr_not_avail = 0,
                  corrupted = 0, lost = 0, duplicated = 0, unexpected_resets = 0, bytes_checked = 0;
    std::vector<std::uint8_t> in(64 * 1024);
    const auto deadline = Clock::now() + std::chrono::seconds(900);
    auto done = [&](Slot& s, bool abort_fd) {
        if (abort_fd) abortive_close_of(s.fd);
        else ::close(s.fd);
        s.fd = -1;
        ++finished;
    };
    auto start = [&](std::size_t i) {
        Slot& s = slots[i];
        ++started;
        s = Slot{};
        s.kind = static_cast<Kind>(rng.next() % 10 < 4 ? shut_write : (rng.next() % 3 == 0 ? abortive : plain_close));
        const auto bits = rng.next() % 19;  // log-uniform lengths 0 .. max_payload
        s.len = std::min<std::size_t>(static_cast<std::size_t>(rng.next() & ((1ull << bits) - 1)),
                                      static_cast<std::size_t>(max_payload));
        s.target = s.kind == abortive ? (s.len == 0 ? 0 : rng.next() % (s.len + 1)) : s.len;
        const std::uint64_t stream_seed = static_cast<std::uint64_t>(seed) * 1000003u + started;
        s.tx = ByteStream(stream_seed);
        s.rx = ByteStream(stream_seed);
        s.fd = start_connect_for(0);
        if (s.fd < 0) {
            ++connect_errors;
            if (errno == EADDRNOTAVAIL) ++addr_not_avail;
            ++finished;
            return;
        }
        s.connecting = true;
        epoll_set(ep, EPOLL_CTL_ADD, s.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, i);
    };
    std::vector<epoll_event> evs(512);
    while (finished < ops && Clock::now() < deadline) {
        for (std::size_t i = 0; i < nslots && started < ops; ++i)
            if (slots[i].fd < 0) start(i);
        const int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            Slot& s = slots[evs[e].data.u64];
            if (s.fd < 0) continue;
            if (s.connecting) {
                if (so_error_of(s.fd) != 0) {
                    ++connect_errors;
                    done(s, false);
                    continue;
                }
                s.connecting = false;
            }
            // Write what is due; a partial send keeps the rest of its chunk pending.
            while (s.sent < s.target) {
                if (s.pend_off == s.pend.size()) {
                    s.pend.resize(std::min<std::size_t>(64 * 1024, s.target - s.sent));
                    s.tx.fill(s.pend.data(), s.pend.size());
                    s.pend_off = 0;
                }
                const ssize_t w = ::send(s.fd, s.pend.data() + s.pend_off, s.pend.size() - s.pend_off, MSG_NOSIGNAL);
                if (w <= 0) break;  // EAGAIN: wait for EPOLLOUT; an error shows on the read below
                s.sent += static_cast<std::size_t>(w);
                s.pend_off += static_cast<std::size_t>(w);
                if (s.pend_off < s.pend.size()) break;
            }
            if (s.kind == abortive && s.sent == s.target) {
                ++aborted;
                done(s, true);
                continue;
            }
            if (s.kind == shut_write && s.sent == s.len && !s.shut) {
                ::shutdown(s.fd, SHUT_WR);
                s.shut = true;
            }
            if (s.sent == s.target) epoll_set(ep, EPOLL_CTL_MOD, s.fd, EPOLLIN | EPOLLRDHUP, evs[e].data.u64);
            // Read and check what came back.
            bool closed = false;
            for (;;) {
                const ssize_t r = ::recv(s.fd, in.data(), in.size(), 0);
                if (r > 0) {
                    const auto rn = static_cast<std::size_t>(r);
                    if (s.recvd + rn > s.len) ++duplicated;
                    else if (s.rx.check(in.data(), rn) != rn) ++corrupted;
                    else bytes_checked += rn;
                    s.recvd += rn;
                    continue;
                }
                if (r == 0) {
                    if (s.kind == shut_write && s.recvd == s.len && s.sent == s.len) ++graceful_ok;
                    else ++lost;
                    closed = true;
                } else if (errno != EAGAIN) {
                    ++unexpected_resets;
                    closed = true;
                }
                break;
            }
            if (closed) {
                done(s, false);
                continue;
            }
            if (s.kind == plain_close && s.recvd == s.len && s.sent == s.len) {
                ++graceful_ok;
                done(s, false);
            }
        }
    }
    std::uint64_t stuck = 0;
    for (auto& s : slots)
        if (s.fd >= 0) {
            ++stuck;
            ::close(s.fd);
        }
    ::close(ep);
    std::printf("result ops=%llu graceful_ok=%llu aborted=%llu connect_errors=%llu addr_not_avail=%llu corrupted=%llu "
                "lost=%llu duplicated=%llu unexpected_resets=%llu stuck=%llu bytes_checked=%llu\n",
                u64(finished), u64(graceful_ok), u64(aborted), u64(connect_errors), u64(addr_not_avail), u64(corrupted),
                u64(lost), u64(duplicated), u64(unexpected_resets), u64(stuck), u64(bytes_checked));
    std::fflush(stdout);
    return 0;
}

// ---- linger (T4) ----
int run_linger(long conns_arg, long slow_arg, long reply_arg) {
    const auto n = static_cast<std::size_t>(conns_arg);
    const auto slow = static_cast<std::size_t>(slow_arg);
    const auto reply = static_cast<std::size_t>(reply_arg);
    // Slow readers take a small receive buffer, so the server's output waits in its queue.
    std::vector<int> fds = connect_many(slow, 4096);
    for (int fd : connect_many(n - slow)) fds.push_back(fd);
    struct Peer {
        std::size_t got = 0;
        bool ended = false, corrupt = false, sent_more = false;
        int end_errno = 0;
        int send_errno = 0;  // a reset seen by our own send
    };
    std::vector<Peer> peers(n);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::size_t connected = 0;
    char request[51];
    request[0] = 'R';
    std::fill(request + 1, request + 51, 'x');  // 50 extra pipelined bytes the server never reads
    for (std::size_t i = 0; i < n; ++i) {
        if (fds[i] < 0) {
            peers[i].ended = true;
            continue;
        }
        ++connected;
        ::send(fds[i], request, sizeof request, MSG_NOSIGNAL);
        if (i >= slow) epoll_set(ep, EPOLL_CTL_ADD, fds[i], EPOLLIN | EPOLLRDHUP, i);
    }
    std::vector<std::uint8_t> buf(64 * 1024);
    auto read_some = [&](std::size_t i, std::size_t max) {
        Peer& p = peers[i];
        const ssize_t r = ::recv(fds[i], buf.data(), max, 0);
        if (r > 0) {
            for (ssize_t k = 0; k < r; ++k)
                if (p.got + static_cast<std::size_t>(k) >= reply || buf[static_cast<std::size_t>(k)] != reply_byte(p.got + static_cast<std::size_t>(k)))
                    p.corrupt = true;
            p.got += static_cast<std::size_t>(r);
            if (!p.sent_more) {  // more bytes while the server is closing: it must drain them
                p.sent_more = true;
                // A reset that arrived behind the bytes just read is reported to whichever
                // call comes first, and only once: to this send as ECONNRESET (or EPIPE),
                // after which the reads drain the queue and end with a plain 0.
                if (::send(fds[i], request, sizeof request, MSG_NOSIGNAL) < 0 && (errno == ECONNRESET || errno == EPIPE))
                    p.send_errno = errno;
            }
            return true;
        }
        if (r < 0 && errno == EAGAIN) return false;
        p.ended = true;
        p.end_errno = r == 0 ? p.send_errno : errno;
        ::close(fds[i]);
        fds[i] = -1;
        return false;
    };
    const auto deadline = Clock::now() + 120s;
    std::vector<epoll_event> evs(256);
    auto next_slow = Clock::now();
    for (;;) {
        std::size_t open = 0;
        for (auto& p : peers) open += p.ended ? 0 : 1;
        if (open == 0 || Clock::now() > deadline) break;
        const int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 5);
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            const auto i = static_cast<std::size_t>(evs[e].data.u64);
            while (fds[i] >= 0 && read_some(i, buf.size())) {
            }
        }
        if (Clock::now() >= next_slow) {  // slow readers: 2 KiB each per 10 ms
            next_slow += 10ms;
            for (std::size_t i = 0; i < slow; ++i)
                if (fds[i] >= 0) read_some(i, 2048);
        }
    }
    std::uint64_t complete_eof = 0, truncated_reset = 0, truncated_eof = 0, complete_reset = 0, corrupt = 0, stuck = 0,
                  slow_reset = 0, reset_seen_by_send = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const Peer& p = peers[i];
        if (p.send_errno != 0) ++reset_seen_by_send;
        if (fds[i] >= 0) {
            ++stuck;
            ::close(fds[i]);
            continue;
        }
        if (p.corrupt) ++corrupt;
        const bool complete = p.got == reply;
        if (p.end_errno == 0) (complete ? complete_eof : truncated_eof) += 1;
        else (complete ? complete_reset : truncated_reset) += 1;
        if (i < slow && p.end_errno != 0) ++slow_reset;
    }
    ::close(ep);
    std::printf("result connected=%zu complete_eof=%llu truncated_reset=%llu truncated_eof=%llu complete_reset=%llu "
                "corrupt=%llu stuck=%llu slow_reset=%llu reset_seen_by_send=%llu\n",
                connected, u64(complete_eof), u64(truncated_reset), u64(truncated_eof), u64(complete_reset), u64(corrupt),
                u64(stuck), u64(slow_reset), u64(reset_seen_by_send));
    std::fflush(stdout);
    return connected == 0 ? 1 : 0;
}

namespace {

// Echo peers that send a 16-byte ping every `period` once the previous pong is back.
struct Pingers {
    std::vector<int> fds;
    std::vector<Clock::time_point> sent_at;
    std::vector<bool> waiting;
    std::vector<std::size_t> partial;
    std::uint64_t pings = 0, pongs = 0, closed = 0;
    double max_rtt_ms = 0;
    int ep = ::epoll_create1(EPOLL_CLOEXEC);

    explicit Pingers(std::vector<int> f) : fds(std::move(f)), sent_at(fds.size()), waiting(fds.size()), partial(fds.size()) {
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i] >= 0) epoll_set(ep, EPOLL_CTL_ADD, fds[i], EPOLLIN | EPOLLRDHUP, i);
    }
    ~Pingers() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
        ::close(ep);
    }
    // One round: send due pings (unless draining), then wait up to `wait_ms` for pongs.
    void step(std::chrono::milliseconds period, int wait_ms, bool send = true) {
        const auto now = Clock::now();
        for (std::size_t i = 0; send && i < fds.size(); ++i) {
            if (fds[i] < 0 || waiting[i] || now - sent_at[i] < period) continue;
            if (::send(fds[i], "ping-ping-ping-\n", 16, MSG_NOSIGNAL) == 16) {
                sent_at[i] = now;
                waiting[i] = true;
                ++pings;
            }
        }
        epoll_event evs[64];
        const int k = ::epoll_wait(ep, evs, 64, wait_ms);
        char buf[1024];
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            const auto i = static_cast<std::size_t>(evs[e].data.u64);
            if (fds[i] < 0) continue;
            const ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                ++closed;
                ::close(fds[i]);
                fds[i] = -1;
                continue;
            }
            partial[i] += static_cast<std::size_t>(r);
            if (partial[i] >= 16 && waiting[i]) {
                partial[i] -= 16;
                waiting[i] = false;
                ++pongs;
                max_rtt_ms = std::max(max_rtt_ms, ms_since(sent_at[i]));
            }
        }
    }
    // No new pings; waits (at most `limit`) for the pongs still owed.
    void drain(std::chrono::milliseconds limit) {
        const auto until = Clock::now() + limit;
        while (pongs + closed < pings && Clock::now() < until) step(0ms, 10, false);
    }
};

}  // namespace

// ---- storm (T5) ----
int run_storm(long echo, long bursts, long per_burst) {
    Pingers pingers(connect_many(static_cast<std::size_t>(echo)));
    std::size_t echo_connected = 0;
    for (int fd : pingers.fds) echo_connected += fd >= 0 ? 1 : 0;
    std::printf("ready echo=%zu\n", echo_connected);
    std::fflush(stdout);
    for (int i = 0; i < 20; ++i) pingers.step(10ms, 10);  // warm: 200 ms of echo
    std::printf("storm_begin\n");
    std::fflush(stdout);
    std::uint64_t storm_connects = 0, storm_connected = 0, storm_errors = 0;
    for (long b = 0; b < bursts; ++b) {
        std::vector<int> storm;
        for (long c = 0; c < per_burst; ++c) {
            const int fd = start_connect_for(0);
            ++storm_connects;
            if (fd < 0) ++storm_errors;
            else storm.push_back(fd);
        }
        const auto until = Clock::now() + 200ms;  // the burst stays open 200 ms
        while (Clock::now() < until) pingers.step(10ms, 5);
        for (int fd : storm) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 0) == 1 && so_error_of(fd) == 0) ++storm_connected;
            ::close(fd);
        }
        const auto gap = Clock::now() + 100ms;
        while (Clock::now() < gap) pingers.step(10ms, 5);
    }
    std::printf("storm_end\n");
    std::fflush(stdout);
    // A fresh connection, timed from the end of the storm to its first echo.
    const auto t0 = Clock::now();
    double accept_after_ms = -1;
    while (accept_after_ms < 0 && Clock::now() - t0 < 10s) {
        std::vector<int> one = connect_many(1);
        if (one[0] < 0) continue;
        timeval tv{0, 500'000};
        ::setsockopt(one[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char c = 0;
        if (::send(one[0], "x", 1, MSG_NOSIGNAL) == 1) {
            pollfd p{one[0], POLLIN, 0};
            if (::poll(&p, 1, 500) == 1 && ::recv(one[0], &c, 1, 0) == 1 && c == 'x') accept_after_ms = ms_since(t0);
        }
        ::close(one[0]);
        pingers.step(10ms, 1);
    }
    for (int i = 0; i < 20; ++i) pingers.step(10ms, 10);  // still echoing after the storm
    pingers.drain(5s);
    const std::uint64_t outstanding = pingers.pings - pingers.pongs;
    std::printf("result echo=%zu echo_pings=%llu echo_pongs=%llu echo_outstanding=%llu echo_closed=%llu echo_max_rtt_ms=%.1f "
                "storm_connects=%llu storm_connected=%llu storm_errors=%llu accept_after_ms=%.1f\n",
                echo_connected, u64(pingers.pings), u64(pingers.pongs), u64(outstanding), u64(pingers.closed),
                pingers.max_rtt_ms, u64(storm_connects), u64(storm_connected), u64(storm_errors), accept_after_ms);
    std::fflush(stdout);
    return echo_connected == 0 ? 1 : 0;
}

// ---- stop (T11) ----
int run_stop(long conns_arg) {
    const auto n = static_cast<std::size_t>(conns_arg);
    // i % 3: 0 echoes, 1 asks for a large reply and never reads (small receive buffer),
    // 2 stays idle. None of them closes until stdin does.
    const std::size_t third = n / 3;
    auto hog_fds = connect_many(third, 4096);
    auto idle_fds = connect_many(third);
    Pingers pingers(connect_many(n - 2 * third));
    std::size_t established = 0;
    for (int fd : pingers.fds) established += fd >= 0 ? 1 : 0;
    for (int fd : hog_fds)
        if (fd >= 0) {
            ++established;
            ::send(fd, "H", 1, MSG_NOSIGNAL);
        }
    for (int fd : idle_fds) established += fd >= 0 ? 1 : 0;
    for (int i = 0; i < 30; ++i) pingers.step(50ms, 10);
    std::printf("ready established=%zu\n", established);
    std::fflush(stdout);
    const auto deadline = Clock::now() + 120s;
    for (;;) {
        pollfd in{0, POLLIN, 0};
        if (::poll(&in, 1, 0) == 1) {
            char c;
            if (::read(0, &c, 1) <= 0) break;  // the suite closed stdin: done
        }
        if (Clock::now() > deadline) break;
        pingers.step(50ms, 10);
    }
    std::printf("result established=%zu echo_closed_by_server=%llu\n", established, u64(pingers.closed));
    std::fflush(stdout);
    for (int fd : hog_fds)
        if (fd >= 0) ::close(fd);
    for (int fd : idle_fds)
        if (fd >= 0) ::close(fd);
    return established == 0 ? 1 : 0;
}
