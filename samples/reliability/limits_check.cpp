// samples/reliability/limits_check.cpp — T10: slowloris and limits against the HTTP and
// RESP samples as processes (docs/reliability.md).
//
//   limits_check http PATH/http_server [--slow N] [--deadline-ms D]
//   limits_check kv   PATH/kv_server   [--partial N] [--slow N] [--deadline-ms D]
//
// It starts the server on 127.0.0.1:0 (port from its "listening on" line), runs the
// checks, prints one PASS/FAIL line per check and "N passed, N failed", stops the
// server with SIGTERM and exits 1 if a check failed or the server did not exit 0.
//
// http: N connections trickle a request head one byte per second; each must get a 408
//   and be closed between the header deadline and deadline + 1 s after its first byte,
//   while a normal request on another connection is still answered 200, and the
//   server's RSS stays within base + N x 12 KiB. Then the README's limits, one
//   connection each: request line past --max-header-bytes 414, header fields past it
//   431, Content-Length past --max-body-bytes 413, Content-Length with
//   Transfer-Encoding, differing Content-Lengths, obs-fold and a bad chunk size 400;
//   each answer is followed by a close.
// kv: a bulk length past --max-bulk-bytes, more than --max-args arguments and an inline
//   line past --max-inline-bytes each get their "-ERR Protocol error: ..." and a close;
//   a bulk of exactly --max-bulk-bytes is stored and read back; N connections holding a half-sent
//   bulk of the largest size keep the server's RSS within base + N x (max bulk + 64 KiB);
//   N connections trickling a request 5 bytes a second are each closed between
//   --request-timeout-ms and 1 s later, unanswered; a connection silent after a PING is
//   closed by --idle-timeout-ms (1.5 s).
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "server_process.hpp"

using namespace pollux::samples::reliability;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

int g_passed = 0, g_failed = 0;
std::uint16_t g_port = 0;

void check(bool ok, const std::string& name, const std::string& detail) {
    std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
    std::fflush(stdout);
    (ok ? g_passed : g_failed) += 1;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

int connect_to(bool blocking = true) { return connect_loopback(g_port, blocking); }

bool send_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (w <= 0) return false;
        off += static_cast<std::size_t>(w);
    }
    return true;
}

// Everything until the server closes (or 10 s pass). `closed`: EOF or reset seen.
struct Answer {
    std::string bytes;
    bool closed = false;
};
Answer read_to_close(int fd) {
    Answer a;
    char buf[16 * 1024];
    for (;;) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            a.bytes.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        a.closed = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
        return a;
    }
}

// One connection: send `request`, expect an answer starting with `expect` and a close.
void expect_answer(const std::string& name, const std::string& request, const std::string& expect) {
    const int fd = connect_to();
    if (fd < 0) return check(false, name, "connect failed");
    send_all(fd, request);  // the server may close before taking all of it
    const Answer a = read_to_close(fd);
    ::close(fd);
    const std::string first = a.bytes.substr(0, std::min<std::size_t>(a.bytes.size(), a.bytes.find('\r')));
    check(a.bytes.rfind(expect, 0) == 0 && a.closed, name,
          "answer \"" + first + "\"" + (a.closed ? ", closed" : ", NOT closed within 10 s"));
}

long flag(int argc, char** argv, const char* name, long fallback) {
    for (int i = 3; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
    return fallback;
}

// ---- http ----
void slowloris(pid_t pid, std::size_t n, long deadline_ms) {
    const std::string head = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    std::vector<int> fds;
    std::vector<Clock::time_point> first(n), closed_at(n);
    std::vector<std::size_t> sent(n, 0);
    std::vector<std::string> got(n);
    const std::size_t base = rss_of(pid);
    std::size_t peak = base;
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < n; ++i) {
        fds.push_back(connect_to(false));
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP;
        e.data.u64 = i;
        if (fds[i] >= 0) ::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
    }
    std::this_thread::sleep_for(200ms);  // the handshakes
    // First bytes spread over one second, then one byte per second per connection.
    const auto t0 = Clock::now();
    std::size_t open = n, next = 0, good_status = 0;
    bool good_checked = false;
    std::vector<epoll_event> evs(256);
    const auto give_up = t0 + std::chrono::milliseconds(deadline_ms) + 10s;
    while (open > 0 && Clock::now() < give_up) {
        const auto now = Clock::now();
        for (std::size_t k = 0; k < n; ++k) {  // who is due a byte?
            const std::size_t i = (next + k) % n;
            if (fds[i] < 0 || sent[i] >= head.size()) continue;
            const auto due = t0 + std::chrono::microseconds(1'000'000 * i / n) + std::chrono::seconds(sent[i]);
            if (due > now) continue;
            if (sent[i] == 0) first[i] = now;
            if (::send(fds[i], head.data() + sent[i], 1, MSG_NOSIGNAL) == 1) ++sent[i];
        }
        next = (next + 1) % n;
        if (!good_checked && now - t0 > 1500ms) {  // every slow peer has started
            good_checked = true;
            const int fd = connect_to();
            std::string reply;
            if (fd >= 0 && send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
                reply = read_to_close(fd).bytes;
            if (fd >= 0) ::close(fd);
            good_status = reply.rfind("HTTP/1.1 200", 0) == 0 ? 1 : 0;
            peak = std::max(peak, rss_of(pid));
        }
        const int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 5);
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            const auto i = static_cast<std::size_t>(evs[e].data.u64);
            if (fds[i] < 0) continue;
            char buf[4096];
            const ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
            if (r > 0) {
                got[i].append(buf, static_cast<std::size_t>(r));
                continue;
            }
            if (r < 0 && errno == EAGAIN) continue;
            closed_at[i] = Clock::now();
            ::close(fds[i]);
            fds[i] = -1;
            --open;
        }
    }
    ::close(ep);
    double max_ms = 0, min_ms = 1e12;
    std::size_t with_408 = 0, never_started = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (fds[i] >= 0) ::close(fds[i]);
        if (sent[i] == 0) {
            ++never_started;
            continue;
        }
        if (fds[i] >= 0) continue;
        const double ms = ms_between(first[i], closed_at[i]);
        max_ms = std::max(max_ms, ms);
        min_ms = std::min(min_ms, ms);
        if (got[i].rfind("HTTP/1.1 408", 0) == 0) ++with_408;
    }
    char d[512];
    std::snprintf(d, sizeof d, "%zu connections, 1 byte/s: %zu still open, %zu never sent, closed %.0f-%.0f ms after their first byte (deadline %ld ms), %zu got 408",
                  n, open, never_started, min_ms, max_ms, deadline_ms, with_408);
    check(open == 0 && never_started == 0 && with_408 == n && max_ms <= static_cast<double>(deadline_ms) + 1000 &&
              min_ms >= static_cast<double>(deadline_ms) - 20,
          "http.slowloris_closed_by_deadline_plus_1s", d);
    check(good_status == 1, "http.served_during_slowloris", good_status ? "GET /plaintext: 200" : "no 200");
    std::snprintf(d, sizeof d, "server RSS %.1f MiB before, +%zu KiB at the peak (bound %zu KiB)",
                  static_cast<double>(base) / 1048576.0, (peak - base) / 1024, n * 12);
    check(peak - base <= n * 12 * 1024, "http.rss_bounded_under_slowloris", d);
}

int run_http(const char* binary, int argc, char** argv) {
    const long n = flag(argc, argv, "--slow", 1000);
    const long deadline_ms = flag(argc, argv, "--deadline-ms", 3000);
    ServerProcess s = start_server({binary, "--listen", "127.0.0.1:0", "--reactors", "2", "--header-timeout-ms",
                                    std::to_string(deadline_ms), "--max-header-bytes", "8192", "--max-body-bytes", "1048576"});
    g_port = s.port;
    if (s.pid <= 0 || g_port == 0) {
        std::fprintf(stderr, "limits_check: %s did not start\n", binary);
        return 1;
    }
    slowloris(s.pid, static_cast<std::size_t>(n), deadline_ms);
    const std::string host = "Host: localhost\r\n";
    expect_answer("http.request_line_past_max_header_bytes_414", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n", "HTTP/1.1 414");
    expect_answer("http.header_fields_past_max_header_bytes_431",
                  "GET /plaintext HTTP/1.1\r\n" + host + "X-Big: " + std::string(8192, 'b') + "\r\n\r\n", "HTTP/1.1 431");
    expect_answer("http.content_length_past_max_body_bytes_413",
                  "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 1048577\r\n\r\n", "HTTP/1.1 413");
    expect_answer("http.content_length_with_transfer_encoding_400",
                  "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  "HTTP/1.1 400");
    expect_answer("http.differing_content_lengths_400",
                  "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "HTTP/1.1 400");
    expect_answer("http.obs_fold_400", "GET /plaintext HTTP/1.1\r\n" + host + "X-A: 1\r\n folded\r\n\r\n", "HTTP/1.1 400");
    expect_answer("http.bad_chunk_size_400",
                  "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", "HTTP/1.1 400");
    const int status = stop_server(s);
    check(status == 0, "http.server_exits_0_on_sigterm", "exit status " + std::to_string(status));
    return 0;
}

// ---- kv ----
// kv: `n` connections each trickle one request a byte every 200 ms; each must be closed
// `deadline_ms` after its first byte (+ at most 1 s), none answered. One more connection
// sends PING, gets +PONG, and then stays silent: closed after `idle_ms`.
void kv_slow_requests(std::size_t n, long deadline_ms, long idle_ms) {
    const std::string request = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$30\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    std::vector<int> fds(n, -1);
    std::vector<Clock::time_point> first(n), closed_at(n);
    std::vector<std::size_t> sent(n, 0), answered(n, 0);
    for (std::size_t i = 0; i < n; ++i) fds[i] = connect_to(false);
    const int idle = connect_to();
    std::string pong;
    if (idle >= 0 && send_all(idle, "*1\r\n$4\r\nPING\r\n")) {
        char b[16];
        const ssize_t r = ::recv(idle, b, sizeof b, 0);
        if (r > 0) pong.assign(b, static_cast<std::size_t>(r));
    }
    const auto idle_from = Clock::now();
    std::this_thread::sleep_for(100ms);  // the handshakes
    const auto t0 = Clock::now();
    const auto give_up = t0 + std::chrono::milliseconds(std::max(deadline_ms, idle_ms)) + 10s;
    std::size_t open = n;
    Clock::time_point idle_closed{};
    while ((open > 0 || idle_closed == Clock::time_point{}) && Clock::now() < give_up) {
        const auto now = Clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            if (fds[i] < 0) continue;
            char buf[256];
            const ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
            if (r > 0) {
                answered[i] += static_cast<std::size_t>(r);
            } else if (r == 0 || errno != EAGAIN) {
                closed_at[i] = now;
                ::close(fds[i]);
                fds[i] = -1;
                --open;
                continue;
            }
            const auto due = t0 + std::chrono::milliseconds(200 * sent[i]);
            if (sent[i] < request.size() && due <= now) {
                if (sent[i] == 0) first[i] = now;
                if (::send(fds[i], request.data() + sent[i], 1, MSG_NOSIGNAL) == 1) ++sent[i];
            }
        }
        if (idle >= 0 && idle_closed == Clock::time_point{}) {
            pollfd p{idle, POLLIN, 0};
            if (::poll(&p, 1, 0) == 1) idle_closed = now;
        }
        std::this_thread::sleep_for(5ms);
    }
    double max_ms = 0, min_ms = 1e12;
    std::size_t with_reply = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (fds[i] >= 0) {
            ::close(fds[i]);
            continue;
        }
        const double ms = ms_between(first[i], closed_at[i]);
        max_ms = std::max(max_ms, ms);
        min_ms = std::min(min_ms, ms);
        if (answered[i] != 0) ++with_reply;
    }
    char d[512];
    std::snprintf(d, sizeof d, "%zu connections trickling a request at 5 bytes/s: %zu still open, closed %.0f-%.0f ms after their first byte (deadline %ld ms), %zu answered",
                  n, open, min_ms, max_ms, deadline_ms, with_reply);
    check(open == 0 && with_reply == 0 && max_ms <= static_cast<double>(deadline_ms) + 1000 &&
              min_ms >= static_cast<double>(deadline_ms) - 20,
          "kv.slow_requests_closed_by_the_request_timeout_plus_1s", d);
    const double idle_ms_seen = idle_closed == Clock::time_point{} ? -1 : ms_between(idle_from, idle_closed);
    std::snprintf(d, sizeof d, "PING answered '%s'; silent afterwards, closed after %.0f ms (idle timeout %ld ms)",
                  pong == "+PONG\r\n" ? "+PONG" : pong.c_str(), idle_ms_seen, idle_ms);
    check(pong == "+PONG\r\n" && idle_ms_seen >= static_cast<double>(idle_ms) - 20 &&
              idle_ms_seen <= static_cast<double>(idle_ms) + 1000,
          "kv.idle_connection_closed_by_the_idle_timeout", d);
    if (idle >= 0) ::close(idle);
}

int run_kv(const char* binary, int argc, char** argv) {
    const long partial = flag(argc, argv, "--partial", 100);
    const long slow = flag(argc, argv, "--slow", 100);
    const long deadline_ms = flag(argc, argv, "--deadline-ms", 2000);
    const long idle_ms = 1500;
    constexpr std::size_t kMaxBulk = 1024 * 1024;
    ServerProcess s = start_server({binary, "--listen", "127.0.0.1:0", "--reactors", "2", "--max-bulk-bytes",
                                    std::to_string(kMaxBulk), "--max-args", "1024", "--max-inline-bytes", "65536",
                                    "--request-timeout-ms", std::to_string(deadline_ms), "--idle-timeout-ms",
                                    std::to_string(idle_ms)});
    g_port = s.port;
    if (s.pid <= 0 || g_port == 0) {
        std::fprintf(stderr, "limits_check: %s did not start\n", binary);
        return 1;
    }
    expect_answer("kv.bulk_length_past_max_bulk_bytes", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(kMaxBulk + 1) + "\r\n",
                  "-ERR Protocol error: invalid bulk length");
    expect_answer("kv.args_past_max_args", "*1025\r\n", "-ERR Protocol error: invalid multibulk length");
    expect_answer("kv.inline_past_max_inline_bytes", std::string(70 * 1024, 'a'), "-ERR Protocol error: too big inline request");
    {  // exactly the largest bulk is fine
        const int fd = connect_to();
        std::string reply;
        if (fd >= 0 && send_all(fd, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + std::to_string(kMaxBulk) + "\r\n" +
                                        std::string(kMaxBulk, 'v') + "\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n*1\r\n$4\r\nQUIT\r\n"))
            reply = read_to_close(fd).bytes;
        if (fd >= 0) ::close(fd);
        const std::string expect = "+OK\r\n$" + std::to_string(kMaxBulk) + "\r\n" + std::string(kMaxBulk, 'v') + "\r\n+OK\r\n";
        check(reply == expect, "kv.bulk_of_exactly_max_bulk_bytes_stored_and_read_back",
              "SET, GET and QUIT answered with " + std::to_string(reply.size()) + " bytes (" + std::to_string(expect.size()) +
                  " expected)");
    }
    {  // half-sent largest bulks: memory bounded by the per-connection input cap
        const std::size_t base = rss_of(s.pid);
        std::vector<int> fds;
        const std::string header = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(kMaxBulk) + "\r\n";
        const std::string half(kMaxBulk / 2, 'h');
        for (long i = 0; i < partial; ++i) {
            const int fd = connect_to();
            if (fd >= 0 && send_all(fd, header) && send_all(fd, half)) fds.push_back(fd);
            else if (fd >= 0) ::close(fd);
        }
        std::this_thread::sleep_for(500ms);
        const std::size_t held = rss_of(s.pid);
        for (int fd : fds) ::close(fd);
        const std::size_t bound = static_cast<std::size_t>(partial) * (kMaxBulk + 64 * 1024);
        char d[256];
        std::snprintf(d, sizeof d, "%zu connections holding half of a %zu-byte bulk: RSS +%zu KiB (bound %zu KiB)", fds.size(),
                      kMaxBulk, (held - std::min(held, base)) / 1024, bound / 1024);
        check(fds.size() == static_cast<std::size_t>(partial) && held - std::min(held, base) <= bound,
              "kv.rss_bounded_by_max_bulk_per_connection", d);
    }
    kv_slow_requests(static_cast<std::size_t>(slow), deadline_ms, idle_ms);
    const int status = stop_server(s);
    check(status == 0, "kv.server_exits_0_on_sigterm", "exit status " + std::to_string(status));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: limits_check http|kv SERVER_BINARY [--slow N] [--deadline-ms D] [--partial N]\n");
        return 2;
    }
    const std::string mode = argv[1];
    int rc = 2;
    if (mode == "http") rc = run_http(argv[2], argc, argv);
    else if (mode == "kv") rc = run_kv(argv[2], argc, argv);
    else std::fprintf(stderr, "limits_check: unknown mode %s\n", mode.c_str());
    if (rc != 0) return rc;
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
