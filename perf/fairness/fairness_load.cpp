// perf/fairness/fairness_load.cpp — the client of the fairness benchmark. It measures two
// things about an echo server from outside its process:
//
//   --mode fairness  Does one quiet client still get prompt service while many others
//                    flood the server? N "blasters" write `--write-size` chunks as fast as
//                    the server takes them and never read (so the server's output queue for
//                    them grows to its cap, and the server cuts them off); a blaster whose
//                    connection is reset or closed reconnects at once, so the load stays
//                    constant. Meanwhile ONE pinger sends a `--ping-size` message every
//                    `--ping-interval-ms` and waits for its full echo (one ping in flight;
//                    the next is sent at send time + interval, or at once when the echo came
//                    later than that). The latency of a ping is from its send(2) to the
//                    read that completes its echo. Prints one line:
//                      pings=N p50_us=.. p99_us=.. max_us=.. blaster_bytes=.. blaster_mib_s=..
//                      blaster_resets=.. blaster_eofs=.. blaster_connects=..
//                      connect_failures=.. client_max_send_us=..
//                    (blaster_resets: a blaster's connection died with RST / EPIPE / an
//                    error; blaster_eofs: the server half-closed it; counters and latencies
//                    cover the measured --seconds, after --warmup.)
//   --mode burst     Does the server give memory back after a burst? `--clients`
//                    connections each send `--bytes-per-client` (more than the server's
//                    output cap plus socket buffers) and never read, so the server queues
//                    their echoes until it cuts them off; after `--hold` seconds every
//                    connection is closed. The server's VmRSS (/proc/PID/status) is read
//                    before, every 20 ms during the burst (the peak), and 1 s, 2 s and 5 s
//                    after the server closed its last socket (its socket fd count in
//                    /proc/PID/fd is back to the count before the burst). Prints:
//                      rss_base_kib=.. rss_peak_kib=.. rss_hwm_kib=.. rss_after_1s_kib=..
//                      rss_after_2s_kib=.. rss_after_5s_kib=.. clients_cut=..
//                      clients_completed=.. burst_bytes=.. server_close_ms=..
//                      server_sockets_left=..
//                    (clients_cut: the server reset or closed them; server_close_ms: from
//                    the client's close to the server's last socket close, 0 when the
//                    server had closed them all already.)
//
//     fairness_load --mode fairness --port P [--blasters 40] [--seconds 10] [--warmup 1]
//                   [--ping-interval-ms 10] [--ping-size 64] [--write-size 1048576]
//                   [--ping-timeout 30]
//     fairness_load --mode burst --port P --server-pid PID [--clients 100]
//                   [--bytes-per-client 25165824] [--write-size 1048576] [--hold 1]
//                   [--timeout 60]
//
// Run it pinned to another CPU than the server (perf/fairness/fairness.sh does both).
//
// One thread, one edge-triggered epoll set, everything non-blocking. Why one thread for the
// pinger and the blasters: on a 2-core box the client has one CPU, so a separate pinger
// thread would share it with the blaster thread and wait for the scheduler to preempt a
// blaster in the middle of a 1 MiB send (up to a scheduler slice, a few ms, and it depends
// on the kernel's policy). In one thread the pinger is serviced (a recv on its socket, which
// costs well under a microsecond when nothing is there, and its send when one is due)
// after EVERY blaster send(2) and after every epoll_wait, so the client's own delay in
// seeing an echo is bounded by one send call. The longest one is reported as
// client_max_send_us: a ping latency far above it is the server's, not the client's.
// Blasters also take turns: at most 4 sends per blaster per turn, then the next one.
//
// Every wait is bounded: --seconds (+ --warmup, + at most --ping-timeout for the last
// echo) in fairness mode, --timeout + --hold + 15 s + 5 s in burst mode.
// Exit status: 0 with the figures printed; 1 when a ping's echo was wrong or late beyond
// --ping-timeout, the pinger's connection died, no ping was answered, or the burst could
// not be measured (the server went away, a client could not connect); 2 on a bad flag.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Micros = std::chrono::duration<double, std::micro>;

// ---- options -------------------------------------------------------------------------------

struct Options {
    std::string mode;
    int port = 0;
    // fairness
    std::size_t blasters = 40;
    double seconds = 10.0;
    double warmup = 1.0;
    double ping_interval_ms = 10.0;
    std::size_t ping_size = 64;
    std::size_t write_size = 1024 * 1024;
    double ping_timeout = 30.0;
    // burst
    long server_pid = 0;
    std::size_t clients = 100;
    std::size_t bytes_per_client = 24 * 1024 * 1024;
    double hold = 1.0;
    double timeout = 60.0;
};

void usage(std::FILE* out) {
    std::fprintf(out,
                 "usage: fairness_load --mode fairness --port P [--blasters 40] [--seconds 10]\n"
                 "                     [--warmup 1] [--ping-interval-ms 10] [--ping-size 64]\n"
                 "                     [--write-size 1048576] [--ping-timeout 30]\n"
                 "       fairness_load --mode burst --port P --server-pid PID [--clients 100]\n"
                 "                     [--bytes-per-client 25165824] [--write-size 1048576]\n"
                 "                     [--hold 1] [--timeout 60]\n"
                 "  fairness: N clients flood the echo server and never read; one pinger\n"
                 "            measures its echo latency. burst: the server's RSS before, at\n"
                 "            the peak of, and after a burst of slow consumers.\n");
}

[[noreturn]] void bad_flag(std::string_view flag, std::string_view why) {
    std::fprintf(stderr, "fairness_load: bad flag %.*s: %.*s\n", static_cast<int>(flag.size()),
                 flag.data(), static_cast<int>(why.size()), why.data());
    usage(stderr);
    std::exit(2);
}

unsigned long long parse_count(std::string_view flag, const char* text, unsigned long long min,
                               unsigned long long max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
        bad_flag(flag, "expects a whole number in range");
    }
    return v;
}

double parse_seconds(std::string_view flag, const char* text, double min, double max) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max)) {
        bad_flag(flag, "expects a number in range");
    }
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) bad_flag(a, "unknown flag or missing value");
        const char* v = argv[++i];
        if (a == "--mode") {
            o.mode = v;
            if (o.mode != "fairness" && o.mode != "burst") bad_flag(a, "expects fairness or burst");
        } else if (a == "--port") {
            o.port = static_cast<int>(parse_count(a, v, 1, 65535));
        } else if (a == "--blasters") {
            o.blasters = parse_count(a, v, 0, 20000);
        } else if (a == "--seconds") {
            o.seconds = parse_seconds(a, v, 0.1, 86400);
        } else if (a == "--warmup") {
            o.warmup = parse_seconds(a, v, 0, 3600);
        } else if (a == "--ping-interval-ms") {
            o.ping_interval_ms = parse_seconds(a, v, 0, 60'000);
        } else if (a == "--ping-size") {
            o.ping_size = parse_count(a, v, 1, 1 << 20);
        } else if (a == "--write-size") {
            o.write_size = parse_count(a, v, 1, 1ULL << 30);
        } else if (a == "--ping-timeout") {
            o.ping_timeout = parse_seconds(a, v, 0.001, 3600);
        } else if (a == "--server-pid") {
            o.server_pid = static_cast<long>(parse_count(a, v, 1, 1ULL << 31));
        } else if (a == "--clients") {
            o.clients = parse_count(a, v, 1, 20000);
        } else if (a == "--bytes-per-client") {
            o.bytes_per_client = parse_count(a, v, 1, 1ULL << 40);
        } else if (a == "--hold") {
            o.hold = parse_seconds(a, v, 0, 3600);
        } else if (a == "--timeout") {
            o.timeout = parse_seconds(a, v, 0.1, 86400);
        } else {
            bad_flag(a, "unknown flag");
        }
    }
    if (o.mode.empty()) bad_flag("--mode", "is required");
    if (o.port == 0) bad_flag("--port", "is required");
    if (o.mode == "burst" && o.server_pid == 0) bad_flag("--server-pid", "is required in burst mode");
    return o;
}

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// ---- sockets -------------------------------------------------------------------------------

// A non-blocking TCP_NODELAY socket with a connect to 127.0.0.1:port under way; -1 on error
// (errno set).
int start_connect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

// Connected within `limit`? (poll for POLLOUT, then SO_ERROR.)
bool wait_connected(int fd, std::chrono::milliseconds limit) {
    pollfd p{fd, POLLOUT, 0};
    const int r = ::poll(&p, 1, static_cast<int>(limit.count()));
    return r == 1 && socket_error(fd) == 0;
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int add_to_epoll(int ep, int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

// ---- the pinger ----------------------------------------------------------------------------

// One connection, one ping in flight. `service(now)` never blocks: it reads what has
// come back, checks it, and sends the next ping when one is due.
class Pinger {
public:
    Pinger(int fd, std::size_t size, Clock::duration interval, Clock::duration timeout)
        : fd_(fd), size_(size), interval_(interval), timeout_(timeout), sent_(size), got_(size) {}

    ~Pinger() {
        if (fd_ >= 0) ::close(fd_);
    }
    Pinger(const Pinger&) = delete;
    Pinger& operator=(const Pinger&) = delete;

    int fd() const { return fd_; }
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    bool outstanding() const { return outstanding_; }
    void set_sending(bool on) { sending_ = on; }
    std::vector<double>& latencies_us() { return lat_us_; }

    // The next instant service() has something to do without a readiness event.
    Clock::time_point next_deadline() const {
        if (outstanding_) return send_time_ + timeout_;
        return sending_ ? next_send_ : Clock::time_point::max();
    }

    void service() {
        if (failed()) return;
        if (outstanding_) {
            if (sent_off_ < size_ && !send_rest()) return;
            if (!receive()) return;
            if (outstanding_ && Clock::now() - send_time_ > timeout_) {
                fail("ping " + std::to_string(seq_) + " not echoed within the ping timeout");
            }
            if (outstanding_) return;
        }
        if (!sending_ || Clock::now() < next_send_) return;
        ++seq_;
        for (std::size_t i = 0; i < size_; ++i) {
            sent_[i] = static_cast<unsigned char>((seq_ * 131 + i * 7 + 1) & 0xff);
        }
        sent_off_ = 0;
        got_off_ = 0;
        outstanding_ = true;
        send_time_ = Clock::now();
        next_send_ = send_time_ + interval_;
        if (send_rest()) (void)receive();
    }

private:
    bool send_rest() {
        while (sent_off_ < size_) {
            const ssize_t n = send(fd_, sent_.data() + sent_off_, size_ - sent_off_, MSG_NOSIGNAL);
            if (n > 0) {
                sent_off_ += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return true;
            } else {
                return fail(std::string("ping send: ") + std::strerror(errno));
            }
        }
        return true;
    }

    bool receive() {
        while (got_off_ < size_) {
            const ssize_t n = recv(fd_, got_.data() + got_off_, size_ - got_off_, 0);
            if (n > 0) {
                got_off_ += static_cast<std::size_t>(n);
            } else if (n == 0) {
                return fail("the server closed the ping connection");
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true;
            } else {
                return fail(std::string("ping recv: ") + std::strerror(errno));
            }
        }
        const auto done = Clock::now();
        if (std::memcmp(sent_.data(), got_.data(), size_) != 0) {
            return fail("ping " + std::to_string(seq_) + ": the echo differs from what was sent");
        }
        lat_us_.push_back(Micros(done - send_time_).count());
        outstanding_ = false;
        next_send_ = std::max(next_send_, done);
        // A byte beyond the echo would be an error too; the next receive() would see it
        // as the start of the next echo and the comparison would fail.
        return true;
    }

    bool fail(std::string why) {
        if (error_.empty()) error_ = std::move(why);
        return false;
    }

    int fd_;
    std::size_t size_;
    Clock::duration interval_;
    Clock::duration timeout_;
    std::vector<unsigned char> sent_;
    std::vector<unsigned char> got_;
    std::size_t sent_off_ = 0;
    std::size_t got_off_ = 0;
    std::uint64_t seq_ = 0;
    bool outstanding_ = false;
    bool sending_ = true;
    Clock::time_point send_time_{};
    Clock::time_point next_send_{};
    std::vector<double> lat_us_;
    std::string error_;
};

// ---- the flood -----------------------------------------------------------------------------

// N connections that write as fast as the server takes bytes and never read. Events are
// tagged with (generation << 32 | index), so an event for a replaced socket is ignored.
class Flood {
public:
    struct Config {
        int port = 0;
        std::size_t conns = 0;
        std::size_t write_size = 0;
        std::uint64_t byte_limit = 0;  // per connection; 0: unlimited
        bool reconnect = false;        // after the server cut a connection off
    };
    struct Counters {
        std::uint64_t bytes = 0;
        std::uint64_t resets = 0;            // RST, EPIPE or another error on an open connection
        std::uint64_t eofs = 0;              // the server half-closed (RDHUP)
        std::uint64_t connects = 0;          // connections that completed
        std::uint64_t connect_failures = 0;  // refused, timed out, ...
        double max_send_us = 0;              // the longest single send(2)
    };

    Flood(int ep, Config c, Pinger* pinger) : ep_(ep), cfg_(c), pinger_(pinger), chunk_(c.write_size, 'x') {
        slots_.resize(c.conns);
    }
    ~Flood() { close_all(); }
    Flood(const Flood&) = delete;
    Flood& operator=(const Flood&) = delete;

    bool start() {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (!open_slot(i)) return false;
        }
        return true;
    }

    Counters& counters() { return counters_; }
    std::size_t cut() const { return cut_; }
    std::size_t completed() const { return completed_; }
    std::size_t live() const { return live_; }
    // Connections still open with bytes left to send.
    std::size_t sending() const {
        return static_cast<std::size_t>(
            std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.fd >= 0 && !s.done; }));
    }
    bool has_turns_waiting() const { return !turns_.empty(); }
    Clock::time_point next_retry() const { return retry_at_; }

    // A readiness event for one of ours.
    void on_event(std::uint64_t tag, std::uint32_t events) {
        const auto i = static_cast<std::size_t>(tag & 0xffffffffu);
        Slot& s = slots_[i];
        if (s.fd < 0 || s.gen != static_cast<std::uint32_t>(tag >> 32)) return;
        if (s.connecting) {
            if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
            if (socket_error(s.fd) != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
                ++counters_.connect_failures;
                return lost(i, false);
            }
            s.connecting = false;
            ++counters_.connects;
        }
        if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
            ++counters_.resets;
            return lost(i, true);
        }
        if ((events & EPOLLRDHUP) != 0) {
            ++counters_.eofs;
            return lost(i, true);
        }
        if ((events & EPOLLOUT) != 0) take_turn(i);
    }

    // Gives every connection that was left writable at the end of its turn another turn.
    void serve_turns() {
        for (std::size_t k = turns_.size(); k > 0; --k) {
            const std::size_t i = turns_.front();
            turns_.pop_front();
            slots_[i].queued = false;
            take_turn(i);
        }
    }

    // Reconnects the slots whose connect failed, once their retry time has come.
    void serve_retries() {
        if (retry_at_ == Clock::time_point::max() || Clock::now() < retry_at_) return;
        retry_at_ = Clock::time_point::max();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i].fd < 0 && slots_[i].retry) {
                slots_[i].retry = false;
                (void)open_slot(i);
            }
        }
    }

    void close_all() {
        for (Slot& s : slots_) {
            if (s.fd >= 0) ::close(s.fd);
            s.fd = -1;
        }
        live_ = 0;
    }

private:
    struct Slot {
        int fd = -1;
        std::uint32_t gen = 0;
        bool connecting = false;
        bool queued = false;  // on turns_
        bool retry = false;   // to reconnect at retry_at_
        bool done = false;    // byte_limit reached
        std::uint64_t sent = 0;
    };

    static constexpr int kSendsPerTurn = 4;

    bool open_slot(std::size_t i) {
        Slot& s = slots_[i];
        s.fd = start_connect(cfg_.port);
        if (s.fd < 0) {
            ++counters_.connect_failures;
            if (!cfg_.reconnect) return false;
            s.retry = true;  // e.g. the backlog is full: try again a little later
            retry_at_ = std::min(retry_at_, Clock::now() + std::chrono::milliseconds(10));
            return true;
        }
        ++s.gen;
        s.connecting = true;
        s.queued = false;
        s.done = false;
        s.sent = 0;
        const std::uint64_t tag = (std::uint64_t{s.gen} << 32) | i;
        if (add_to_epoll(ep_, s.fd, EPOLLOUT | EPOLLRDHUP | EPOLLET, tag) != 0) {
            std::fprintf(stderr, "fairness_load: epoll_ctl: %s\n", std::strerror(errno));
            std::exit(1);
        }
        ++live_;
        return true;
    }

    // The connection is gone: cut off by the server when `by_server`, else its connect
    // failed (then the reconnect waits a little, so a refusing server is not hammered).
    void lost(std::size_t i, bool by_server) {
        Slot& s = slots_[i];
        ::close(s.fd);  // also removes it from the epoll set
        s.fd = -1;
        --live_;
        if (by_server) ++cut_;
        if (!cfg_.reconnect) return;
        if (by_server) {
            (void)open_slot(i);
        } else {
            s.retry = true;
            retry_at_ = std::min(retry_at_, Clock::now() + std::chrono::milliseconds(10));
        }
    }

    void take_turn(std::size_t i) {
        Slot& s = slots_[i];
        for (int k = 0; k < kSendsPerTurn; ++k) {
            if (s.fd < 0 || s.connecting || s.done) return;
            std::size_t want = chunk_.size();
            if (cfg_.byte_limit != 0) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, cfg_.byte_limit - s.sent));
            const auto t0 = Clock::now();
            const ssize_t n = send(s.fd, chunk_.data(), want, MSG_NOSIGNAL);
            const int err = errno;
            counters_.max_send_us = std::max(counters_.max_send_us, Micros(Clock::now() - t0).count());
            if (pinger_ != nullptr) pinger_->service();
            if (n > 0) {
                counters_.bytes += static_cast<std::uint64_t>(n);
                s.sent += static_cast<std::uint64_t>(n);
                if (cfg_.byte_limit != 0 && s.sent >= cfg_.byte_limit) {
                    s.done = true;
                    ++completed_;
                    return;
                }
                continue;
            }
            if (n < 0 && err == EINTR) continue;
            if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) return;  // the next EPOLLOUT
            ++counters_.resets;
            return lost(i, true);
        }
        if (!s.queued) {  // still writable: come back after the others
            s.queued = true;
            turns_.push_back(i);
        }
    }

    int ep_;
    Config cfg_;
    Pinger* pinger_;
    std::vector<char> chunk_;
    std::vector<Slot> slots_;
    std::deque<std::size_t> turns_;
    Clock::time_point retry_at_ = Clock::time_point::max();
    Counters counters_;
    std::size_t live_ = 0;
    std::size_t cut_ = 0;
    std::size_t completed_ = 0;
};

constexpr std::uint64_t kPingerTag = ~std::uint64_t{0};

// Waits for events until `until` (or less when something is due) and dispatches them;
// returns false when epoll_wait failed.
bool run_once(int ep, Flood& flood, Pinger* pinger, Clock::time_point until) {
    Clock::time_point due = std::min(until, flood.next_retry());
    if (pinger != nullptr) due = std::min(due, pinger->next_deadline());
    timespec ts{0, 0};
    if (!flood.has_turns_waiting()) {
        const auto left = std::max(due - Clock::now(), Clock::duration::zero());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    }
    epoll_event events[256];
    const int n = epoll_pwait2(ep, events, 256, &ts, nullptr);
    if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "fairness_load: epoll_pwait2: %s\n", std::strerror(errno));
        return false;
    }
    if (pinger != nullptr) pinger->service();
    for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kPingerTag) continue;  // serviced above and after every send
        flood.on_event(events[i].data.u64, events[i].events);
    }
    flood.serve_turns();
    flood.serve_retries();
    if (pinger != nullptr) pinger->service();
    return true;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
    return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

// ---- fairness mode -------------------------------------------------------------------------

int run_fairness(const Options& o) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        std::perror("fairness_load: epoll_create1");
        return 1;
    }
    // The pinger connects first, before any load.
    const int pfd = start_connect(o.port);
    if (pfd < 0 || !wait_connected(pfd, std::chrono::milliseconds(5000))) {
        std::fprintf(stderr, "fairness_load: cannot connect the pinger to port %d\n", o.port);
        return 1;
    }
    Pinger pinger(pfd, o.ping_size, seconds(o.ping_interval_ms / 1000.0), seconds(o.ping_timeout));
    if (add_to_epoll(ep, pfd, EPOLLIN | EPOLLRDHUP | EPOLLET, kPingerTag) != 0) {
        std::perror("fairness_load: epoll_ctl");
        return 1;
    }

    Flood flood(ep, {o.port, o.blasters, o.write_size, 0, true}, &pinger);
    if (!flood.start()) return 1;

    // Warm-up: load and pings run, nothing is counted.
    const auto warm_end = Clock::now() + seconds(o.warmup);
    while (Clock::now() < warm_end && !pinger.failed()) {
        if (!run_once(ep, flood, &pinger, warm_end)) return 1;
    }
    pinger.latencies_us().clear();
    flood.counters() = {};
    const auto start = Clock::now();
    const auto end = start + seconds(o.seconds);
    while (Clock::now() < end && !pinger.failed()) {
        if (!run_once(ep, flood, &pinger, end)) return 1;
    }
    // No new ping; the load goes on until the last echo is in (bounded by the ping timeout).
    const double measured_s = std::chrono::duration<double>(Clock::now() - start).count();
    pinger.set_sending(false);
    while (pinger.outstanding() && !pinger.failed()) {
        if (!run_once(ep, flood, &pinger, Clock::time_point::max())) return 1;
    }
    flood.close_all();
    ::close(ep);

    std::vector<double> lat = pinger.latencies_us();
    std::sort(lat.begin(), lat.end());
    const Flood::Counters& c = flood.counters();
    std::printf("pings=%zu p50_us=%.0f p99_us=%.0f max_us=%.0f blaster_bytes=%llu blaster_mib_s=%.1f "
                "blaster_resets=%llu blaster_eofs=%llu blaster_connects=%llu connect_failures=%llu "
                "client_max_send_us=%.0f\n",
                lat.size(), percentile(lat, 50), percentile(lat, 99), lat.empty() ? 0.0 : lat.back(),
                static_cast<unsigned long long>(c.bytes),
                static_cast<double>(c.bytes) / (1024.0 * 1024.0) / measured_s,
                static_cast<unsigned long long>(c.resets), static_cast<unsigned long long>(c.eofs),
                static_cast<unsigned long long>(c.connects), static_cast<unsigned long long>(c.connect_failures),
                c.max_send_us);
    std::fflush(stdout);
    if (pinger.failed()) {
        std::fprintf(stderr, "fairness_load: %s\n", pinger.error().c_str());
        return 1;
    }
    if (lat.empty()) {
        std::fprintf(stderr, "fairness_load: no ping was answered\n");
        return 1;
    }
    return 0;
}

// ---- burst mode ----------------------------------------------------------------------------

// A "Key:   123 kB" line of /proc/PID/status, in KiB; -1 when the process is gone.
long read_status_kib(long pid, std::string_view key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
    }
    return -1;
}

// How many of the process's fds are sockets; -1 when the process is gone.
long count_sockets(long pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return -1;
    long n = 0;
    char target[64];
    while (const dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string path = dir + "/" + e->d_name;
        const ssize_t len = readlink(path.c_str(), target, sizeof target - 1);
        if (len > 0 && std::string_view(target, static_cast<std::size_t>(len)).starts_with("socket:")) ++n;
    }
    closedir(d);
    return n;
}

int run_burst(const Options& o) {
    const long pid = o.server_pid;
    const long rss_base = read_status_kib(pid, "VmRSS:");
    const long sockets_base = count_sockets(pid);
    if (rss_base < 0 || sockets_base < 0) {
        std::fprintf(stderr, "fairness_load: cannot read /proc/%ld (status, fd)\n", pid);
        return 1;
    }
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        std::perror("fairness_load: epoll_create1");
        return 1;
    }
    long rss_peak = rss_base;
    auto next_sample = Clock::now();
    auto sample = [&] {
        if (Clock::now() < next_sample) return true;
        next_sample = Clock::now() + std::chrono::milliseconds(20);
        const long rss = read_status_kib(pid, "VmRSS:");
        rss_peak = std::max(rss_peak, rss);
        return rss >= 0;
    };

    std::uint64_t burst_bytes = 0;
    std::size_t cut = 0;
    std::size_t completed = 0;
    {
        Flood flood(ep, {o.port, o.clients, o.write_size, o.bytes_per_client, false}, nullptr);
        if (!flood.start()) {
            std::fprintf(stderr, "fairness_load: cannot connect %zu clients\n", o.clients);
            return 1;
        }
        // Send until every client is done (all bytes written, or cut off), then hold the
        // connections open so the server reads what is in flight and cuts whom it cuts.
        const auto deadline = Clock::now() + seconds(o.timeout);
        while (Clock::now() < deadline && flood.sending() > 0) {
            if (!run_once(ep, flood, nullptr, std::min(deadline, next_sample)) || !sample()) break;
        }
        const auto hold_end = Clock::now() + seconds(o.hold);
        while (Clock::now() < hold_end) {
            if (!run_once(ep, flood, nullptr, std::min(hold_end, next_sample)) || !sample()) break;
        }
        if (flood.counters().connects < o.clients) {
            std::fprintf(stderr, "fairness_load: only %llu of %zu clients connected\n",
                         static_cast<unsigned long long>(flood.counters().connects), o.clients);
            return 1;
        }
        burst_bytes = flood.counters().bytes;
        cut = flood.cut();
        completed = flood.completed();
    }  // every client closes here (unread echo in its buffer: the close sends RST)
    ::close(ep);
    const auto closed_at = Clock::now();

    // The server's last socket of the burst is closed when its socket count is back.
    long sockets = count_sockets(pid);
    const auto close_deadline = closed_at + std::chrono::seconds(15);
    while (sockets > sockets_base && Clock::now() < close_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        sockets = count_sockets(pid);
    }
    const auto t0 = Clock::now();
    const double server_close_ms = std::chrono::duration<double, std::milli>(t0 - closed_at).count();
    long after[3] = {0, 0, 0};
    const int at_s[3] = {1, 2, 5};
    for (int k = 0; k < 3; ++k) {
        std::this_thread::sleep_until(t0 + std::chrono::seconds(at_s[k]));
        after[k] = read_status_kib(pid, "VmRSS:");
    }
    const long hwm = read_status_kib(pid, "VmHWM:");
    if (sockets < 0 || after[2] < 0) {
        std::fprintf(stderr, "fairness_load: the server (pid %ld) went away\n", pid);
        return 1;
    }
    std::printf("rss_base_kib=%ld rss_peak_kib=%ld rss_hwm_kib=%ld rss_after_1s_kib=%ld rss_after_2s_kib=%ld "
                "rss_after_5s_kib=%ld clients_cut=%zu clients_completed=%zu burst_bytes=%llu "
                "server_close_ms=%.0f server_sockets_left=%ld\n",
                rss_base, rss_peak, hwm, after[0], after[1], after[2], cut, completed,
                static_cast<unsigned long long>(burst_bytes), server_close_ms, sockets - sockets_base);
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    raise_fd_limit();
    return o.mode == "fairness" ? run_fairness(o) : run_burst(o);
}
