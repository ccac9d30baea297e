// samples/echo_load — the project's own loopback echo load generator.
//
//     echo_load --port P [--conns 64] [--size 64] [--depth 1] [--seconds 3]
//               [--messages M] [--timeout 60] [--idle N --server-pid PID] [--rate R]
//
// One thread, one epoll set, edge-triggered. Each connection keeps `depth` messages of
// `size` bytes in flight: it sends `depth` messages, and sends one more each time a whole
// message has come back. Every byte that comes back is compared with what was sent (each
// connection sends its own pseudo-random byte stream), so a lost, duplicated or reordered
// byte fails the run.
//
//   time mode      (default) runs --seconds, then prints messages/s and bytes/s.
//   count mode     --messages M: sends exactly M messages in total, spread over the
//                  connections, and waits until all have come back (for callgrind and
//                  perf stat runs that need a fixed count).
//   idle mode      --idle N --server-pid PID: reads the server's VmRSS, opens N
//                  connections and echoes one message on each (so the server has seen
//                  every one of them), waits a second, reads VmRSS again and prints the
//                  server's resident memory per idle connection.
//   rate mode      --rate R: open loop, for latency. Message k (of all connections, in
//                  turn) is due at start + k/R, whatever came back; a timerfd wakes the
//                  client at each due time and every due message goes out then (late
//                  ones at once, none skipped). A message's latency runs from its due
//                  time, not from when it was written, to when its last byte is back,
//                  so a server stall counts for every message it delays (no coordinated
//                  omission). After --seconds it waits for the messages in flight (up to
//                  --timeout), then prints p50, p99, p99.9 and max in microseconds.
//
// Exit status: 0 when every byte came back intact (and at least one message did), 1 on
// an integrity failure, a connection lost early, or a timeout; 2 on a usage error (the
// message names the flag and its range; `echo_load --help` lists them all).
//
// Sends go out straight from a shared pattern table (no copy); the client does one
// read and about one write per message per connection, so on a separate core it
// costs less per message than the server it drives.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"

namespace {

namespace cli = pollux::samples::cli;

using Clock = std::chrono::steady_clock;

struct Options {
    std::uint16_t port = 0;
    std::size_t conns = 64;
    std::size_t size = 64;
    std::size_t depth = 1;
    double seconds = 3.0;
    std::uint64_t messages = 0;  // 0: time mode
    double timeout = 60.0;
    std::size_t idle = 0;
    long server_pid = 0;
    double rate = 0;  // rate mode: messages/s over all connections; 0: closed loop
};

// Each connection's byte stream: the byte at stream offset o of connection c is
// kPattern[(o + c * kStride) % kPeriod]. The table holds two periods so any window of
// up to kPeriod bytes is contiguous: sends and checks need no copy.
constexpr std::size_t kPeriod = 4093;  // prime, so streams of different connections differ
constexpr std::size_t kStride = 977;

struct Pattern {
    std::vector<unsigned char> bytes = std::vector<unsigned char>(2 * kPeriod);
    Pattern() {
        std::uint32_t x = 2463534242u;
        for (std::size_t i = 0; i < kPeriod; ++i) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes[i] = bytes[i + kPeriod] = static_cast<unsigned char>(x >> 24);
        }
    }
    const unsigned char* at(std::size_t conn, std::uint64_t offset) const {
        return bytes.data() + (offset + conn * kStride) % kPeriod;
    }
};

struct Conn {
    int fd = -1;
    std::size_t id = 0;
    std::uint64_t sent = 0;      // stream bytes written
    std::uint64_t wanted = 0;    // stream bytes the connection may write so far
    std::uint64_t received = 0;  // stream bytes read back and checked
    std::uint64_t quota = 0;     // messages this connection may send (count mode); 0: no limit
    bool done = false;
    std::deque<Clock::time_point> due;  // rate mode: due times of the messages in flight
};

// Rate mode's schedule and its samples.
struct Rate {
    int timer = -1;
    Clock::time_point start;
    Clock::time_point stop_sending;
    std::uint64_t next = 0;         // the next message to send, counted over all connections
    std::uint64_t in_flight = 0;
    bool sending = true;
    std::vector<std::uint64_t> latency_ns;
};
constexpr std::uint64_t kTimerTag = ~std::uint64_t{0};

struct Run {
    Options opt;
    Pattern pattern;
    std::vector<Conn> conns;
    int ep = -1;
    std::uint64_t messages_done = 0;  // whole messages echoed, over all connections
    std::size_t conns_done = 0;
    bool failed = false;
    std::vector<unsigned char> rbuf = std::vector<unsigned char>(64 * 1024);
    Rate* rate = nullptr;
};

void fail(Run& run, const char* what, std::size_t conn) {
    if (!run.failed) std::fprintf(stderr, "echo_load: connection %zu: %s\n", conn, what);
    run.failed = true;
}

void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// Writes what the connection may write; stops at EAGAIN (EPOLLOUT, registered once
// with EPOLLET, tells us when to go on).
void flush(Run& run, Conn& c) {
    while (c.sent < c.wanted) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(c.wanted - c.sent, kPeriod));
        ssize_t w = ::send(c.fd, run.pattern.at(c.id, c.sent), n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fail(run, std::strerror(errno), c.id);
            return;
        }
        c.sent += static_cast<std::uint64_t>(w);
    }
}

// Lets the connection send `n` more messages (fewer at the end of its quota).
void allow(Run& run, Conn& c, std::uint64_t n) {
    std::uint64_t allowed_msgs = c.wanted / run.opt.size;
    if (c.quota != 0) n = std::min(n, c.quota - allowed_msgs);
    c.wanted += n * run.opt.size;
    flush(run, c);
}

void on_readable(Run& run, Conn& c) {
    const std::size_t size = run.opt.size;
    for (;;) {
        ssize_t r = ::recv(c.fd, run.rbuf.data(), run.rbuf.size(), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fail(run, std::strerror(errno), c.id);
            return;
        }
        if (r == 0) {
            if (!c.done) fail(run, "closed by the server before all messages came back", c.id);
            return;
        }
        std::size_t got = static_cast<std::size_t>(r);
        if (c.received + got > c.sent) {
            fail(run, "received more bytes than it sent", c.id);
            return;
        }
        for (std::size_t off = 0; off < got;) {
            std::size_t n = std::min(got - off, kPeriod);
            if (std::memcmp(run.rbuf.data() + off, run.pattern.at(c.id, c.received + off), n) != 0) {
                fail(run, "echoed bytes differ from the bytes sent", c.id);
                return;
            }
            off += n;
        }
        std::uint64_t before = c.received / size;
        c.received += got;
        std::uint64_t whole = c.received / size - before;
        run.messages_done += whole;
        if (c.quota != 0 && c.received == c.quota * size) {
            c.done = true;
            ++run.conns_done;
        }
        if (run.rate != nullptr) {
            auto now = Clock::now();
            for (std::uint64_t i = 0; i < whole && !c.due.empty(); ++i) {
                run.rate->latency_ns.push_back(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.due.front()).count()));
                c.due.pop_front();
                --run.rate->in_flight;
            }
        } else if (whole > 0) {
            allow(run, c, whole);
        }
        if (run.failed) return;
    }
}

bool connect_all(Run& run, std::size_t count) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(run.opt.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    run.conns.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        Conn& c = run.conns[i];
        c.id = i;
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            std::fprintf(stderr, "echo_load: socket #%zu: %s\n", i, std::strerror(errno));
            return false;
        }
        // Blocking connect, then non-blocking I/O: loopback connects complete at once.
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
            cli::fail("echo_load", "127.0.0.1:" + std::to_string(run.opt.port),
                      "connect #" + std::to_string(i) + ": " + std::strerror(errno));
            return false;
        }
        int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fl = ::fcntl(c.fd, F_GETFL);
        ::fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.u64 = i;
        if (::epoll_ctl(run.ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) return false;
    }
    return true;
}

Clock::time_point due_time(const Rate& r, double rate, std::uint64_t k) {
    return r.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(k) / rate));
}

// Rate mode: sends every message due by now (each on the next connection in turn), then
// arms the timer for the next one.
void on_timer(Run& run) {
    Rate& r = *run.rate;
    std::uint64_t expirations;
    [[maybe_unused]] ssize_t got = ::read(r.timer, &expirations, sizeof expirations);
    auto now = Clock::now();
    Clock::time_point due;
    while (r.sending && (due = due_time(r, run.opt.rate, r.next)) <= now) {
        if (due >= r.stop_sending) {
            r.sending = false;
            break;
        }
        Conn& c = run.conns[r.next % run.conns.size()];
        c.due.push_back(due);
        ++r.in_flight;
        ++r.next;
        allow(run, c, 1);
    }
    if (!r.sending) return;
    itimerspec its{};
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count();
    its.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    ::timerfd_settime(r.timer, TFD_TIMER_ABSTIME, &its, nullptr);
}

// Runs the event loop until `deadline`, or until every connection is done (count mode).
void loop(Run& run, Clock::time_point deadline, bool until_done) {
    std::vector<epoll_event> events(256);
    while (!run.failed) {
        if (until_done && run.conns_done == run.conns.size()) return;
        if (run.rate != nullptr && !run.rate->sending && run.rate->in_flight == 0) return;
        auto now = Clock::now();
        if (now >= deadline) return;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        int n = ::epoll_wait(run.ep, events.data(), static_cast<int>(events.size()), static_cast<int>(std::min<long long>(ms, 100)));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(run, "epoll_wait failed", 0);
            return;
        }
        for (int i = 0; i < n; ++i) {
            if (events[static_cast<std::size_t>(i)].data.u64 == kTimerTag) {
                on_timer(run);
                continue;
            }
            Conn& c = run.conns[events[static_cast<std::size_t>(i)].data.u64];
            std::uint32_t e = events[static_cast<std::size_t>(i)].events;
            if (e & EPOLLOUT) flush(run, c);
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(run, c);
        }
    }
}

long vm_rss_kib(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

// The command line. nullopt: go on; otherwise the exit status (0 after --help, 2 after a
// usage error).
std::optional<int> parse(int argc, char** argv, Options& o) {
    CLI::App app{"The loopback echo load generator: drives an echo server on 127.0.0.1 and checks "
                 "every echoed byte.",
                 "echo_load"};
    cli::add_number<std::uint16_t>(app, "--port", o.port, 1, 65535, "the server's port")->required();
    cli::add_number(app, "--conns", o.conns, 1, 1'000'000, "connections")->capture_default_str();
    cli::add_number(app, "--size", o.size, 1, 1 << 24, "bytes per message")->capture_default_str();
    cli::add_number(app, "--depth", o.depth, 1, 1 << 20, "messages in flight per connection")->capture_default_str();
    cli::add_number(app, "--seconds", o.seconds, 0.001, 86'400.0, "time mode: how long")->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--messages", o.messages, 0, 1'000'000'000'000,
                                   "count mode: messages in all (0: time mode)");
    cli::add_number(app, "--timeout", o.timeout, 0.001, 86'400.0, "count and idle modes: give up after")
        ->capture_default_str();
    auto* pid = cli::add_number(app, "--server-pid", o.server_pid, 1, 4'194'304, "idle mode: the server's pid");
    auto* idle = cli::add_number(app, "--idle", o.idle, 1, 1'000'000, "idle mode: connections to hold open")->needs(pid);
    auto* rate = cli::add_number(app, "--rate", o.rate, 1.0, 100'000'000.0,
                                 "rate mode: messages/s over all connections, open loop, latency percentiles");
    rate->excludes(idle);
    rate->excludes(app.get_option("--messages"));
    rate->excludes(app.get_option("--depth"));
    return cli::parse(app, argc, argv);
}

void close_all(Run& run) {
    for (Conn& c : run.conns) {
        if (c.fd >= 0) ::close(c.fd);
    }
    ::close(run.ep);
}

int idle_mode(Run& run) {
    long before = vm_rss_kib(run.opt.server_pid);
    if (before < 0) {
        std::fprintf(stderr, "echo_load: cannot read /proc/%ld/status\n", run.opt.server_pid);
        return 2;
    }
    if (!connect_all(run, run.opt.idle)) {
        close_all(run);
        return 1;
    }
    for (Conn& c : run.conns) {
        c.quota = 1;
        allow(run, c, 1);
    }
    auto start = Clock::now();
    loop(run, start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run.opt.timeout)), true);
    if (run.failed || run.conns_done != run.conns.size()) {
        std::fprintf(stderr, "echo_load: %zu of %zu connections echoed\n", run.conns_done, run.conns.size());
        close_all(run);
        return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    long after = vm_rss_kib(run.opt.server_pid);
    double per = static_cast<double>(after - before) * 1024.0 / static_cast<double>(run.opt.idle);
    std::printf("idle connections %zu: server VmRSS %ld KiB -> %ld KiB, %.0f B per connection\n", run.opt.idle,
                before, after, per);
    close_all(run);
    return 0;
}

// steady_clock is CLOCK_MONOTONIC on Linux, the timerfd's clock.
int rate_mode(Run& run) {
    const Options& o = run.opt;
    Rate r;
    r.timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTimerTag;
    if (r.timer < 0 || ::epoll_ctl(run.ep, EPOLL_CTL_ADD, r.timer, &ev) != 0) {
        std::fprintf(stderr, "echo_load: timerfd: %s\n", std::strerror(errno));
        return 1;
    }
    r.latency_ns.reserve(static_cast<std::size_t>(std::min(o.rate * o.seconds * 1.1, 5e8)));
    run.rate = &r;
    r.start = Clock::now();
    r.stop_sending = r.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    on_timer(run);
    loop(run, r.stop_sending + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout)),
         false);
    double secs = std::chrono::duration<double>(r.stop_sending - r.start).count();
    close_all(run);
    ::close(r.timer);
    auto& v = r.latency_ns;
    std::printf("echo_load: %zu connections, %zu B messages, open loop at %.0f messages/s, %.2f s\n", o.conns,
                o.size, o.rate, secs);
    std::printf("messages %llu  messages/s %.0f\n", static_cast<unsigned long long>(r.next),
                static_cast<double>(r.next) / secs);
    if (run.failed) {
        std::printf("integrity FAILED\n");
        return 1;
    }
    if (r.in_flight != 0 || v.empty()) {
        std::printf("timeout: %llu of %llu messages came back\n", static_cast<unsigned long long>(v.size()),
                    static_cast<unsigned long long>(r.next));
        return 1;
    }
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
        std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
        return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1000.0;
    };
    std::printf("latency_us p50 %.1f p99 %.1f p99.9 %.1f max %.1f (from each message's due time)\n", pct(50),
                pct(99), pct(99.9), static_cast<double>(v.back()) / 1000.0);
    std::printf("integrity ok\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Run run;
    if (auto status = parse(argc, argv, run.opt)) return *status;
    raise_nofile();
    run.ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (run.opt.idle > 0) return idle_mode(run);
    if (run.opt.rate > 0) {
        if (!connect_all(run, run.opt.conns)) {
            close_all(run);
            return 1;
        }
        return rate_mode(run);
    }

    const Options& o = run.opt;
    if (!connect_all(run, o.conns)) {
        close_all(run);
        return 1;
    }
    bool count_mode = o.messages > 0;
    if (count_mode) {
        for (std::size_t i = 0; i < run.conns.size(); ++i) {
            run.conns[i].quota = o.messages / o.conns + (i < o.messages % o.conns ? 1 : 0);
            if (run.conns[i].quota == 0) {
                run.conns[i].done = true;
                ++run.conns_done;
            }
        }
    }
    auto start = Clock::now();
    for (Conn& c : run.conns) {
        if (!c.done) allow(run, c, o.depth);
    }
    auto limit = std::chrono::duration<double>(count_mode ? o.timeout : o.seconds);
    loop(run, start + std::chrono::duration_cast<Clock::duration>(limit), count_mode);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    close_all(run);

    double mps = static_cast<double>(run.messages_done) / secs;
    std::printf("echo_load: %zu connections, %zu B messages, depth %zu, %.2f s\n", o.conns, o.size, o.depth, secs);
    std::printf("messages %llu  messages/s %.0f  bytes/s %.0f (each way)\n",
                static_cast<unsigned long long>(run.messages_done), mps, mps * static_cast<double>(o.size));
    if (run.failed) {
        std::printf("integrity FAILED\n");
        return 1;
    }
    if (count_mode && run.conns_done != run.conns.size()) {
        std::printf("timeout: %llu of %llu messages came back\n", static_cast<unsigned long long>(run.messages_done),
                    static_cast<unsigned long long>(o.messages));
        return 1;
    }
    if (run.messages_done == 0) {
        std::printf("no message came back\n");
        return 1;
    }
    std::printf("integrity ok\n");
    return 0;
}
