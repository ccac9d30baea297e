// samples/reliability/soak_check.cpp — T12: a mixed soak against echo_server,
// http_server and kv_server as processes (docs/reliability.md).
//
//   soak_check ECHO_SERVER HTTP_SERVER KV_SERVER [--seconds S] [--conns C] [--sample-s T]
//
// C connections per server (default 50), each with one request in flight, one every
// 10 ms: echo a seeded 1-16 KiB payload (checked byte for byte), HTTP GET /plaintext
// (status and body checked), RESP SET + GET of the connection's own key (the exact reply
// checked). Every connection closes and reconnects after 200 requests. Every T s
// (default 10) it samples each server's RSS and fd count.
// Pass: 0 errors (mismatch, unexpected close, failed connect); each server's RSS within
// +-5% of its first sample after the warm-up (the first 20% of the run, at least one
// sample); fd counts never above base + 2C (a reconnecting slot may hold its old and its
// new connection for a moment); fds back to base after the clients close; every server
// exits 0 on SIGTERM. S defaults to 3600 (ctest -L long); shorter runs override it.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
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

enum Kind { echo, http, kv, kKinds };
const char* const kNames[kKinds] = {"echo", "http", "kv"};

struct Peer {
    Kind kind = echo;
    int fd = -1;
    std::size_t index = 0;
    std::string expect;  // the exact reply awaited (empty: none in flight)
    std::string got;
    std::uint64_t requests = 0, seq = 0;
    Clock::time_point next{};
};

struct Totals {
    std::uint64_t requests = 0, mismatches = 0, unexpected_closes = 0, connect_failures = 0, reconnects = 0;
};

const std::string kHttpBody = "Hello, World!";

// The request and the exact reply for peer p's next exchange.
std::pair<std::string, std::string> next_exchange(Peer& p) {
    ++p.seq;
    switch (p.kind) {
    case echo: {
        std::uint64_t x = (p.index + 1) * 0x9E3779B97F4A7C15ull + p.seq;
        const std::size_t len = 1024 + static_cast<std::size_t>(x % (15 * 1024));
        std::string payload(len, '\0');
        for (auto& c : payload) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c = static_cast<char>(x);
        }
        return {payload, payload};
    }
    case http:
        return {"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n", ""};  // checked by parse below
    default: {
        const std::string key = "soak:" + std::to_string(p.index);
        const std::string val = std::to_string(p.seq);
        const std::string req = "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
                                std::to_string(val.size()) + "\r\n" + val + "\r\n*2\r\n$3\r\nGET\r\n$" +
                                std::to_string(key.size()) + "\r\n" + key + "\r\n";
        return {req, "+OK\r\n$" + std::to_string(val.size()) + "\r\n" + val + "\r\n"};
    }
    }
}

// HTTP: a complete response in `got`? 1 complete and right, -1 wrong, 0 incomplete.
int http_complete(const std::string& got) {
    const auto end = got.find("\r\n\r\n");
    if (end == std::string::npos) return got.size() > 4096 ? -1 : 0;
    if (got.rfind("HTTP/1.1 200", 0) != 0) return -1;
    const auto cl = got.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return -1;
    const auto len = static_cast<std::size_t>(std::atol(got.c_str() + cl + 16));
    if (got.size() < end + 4 + len) return 0;
    if (got.size() > end + 4 + len) return -1;
    return got.compare(end + 4, len, kHttpBody) == 0 ? 1 : -1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: soak_check ECHO_SERVER HTTP_SERVER KV_SERVER [--seconds S] [--conns C] [--sample-s T]\n");
        return 2;
    }
    long seconds = 3600, conns = 50, sample_s = 10;
    for (int i = 4; i + 1 < argc; i += 2) {
        const long v = std::strtol(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = v;
        else if (std::strcmp(argv[i], "--conns") == 0) conns = v;
        else if (std::strcmp(argv[i], "--sample-s") == 0) sample_s = v;
        else {
            std::fprintf(stderr, "soak_check: bad flag %s\n", argv[i]);
            return 2;
        }
    }
    ServerProcess servers[kKinds] = {
        start_server({argv[1], "--listen", "127.0.0.1:0", "--reactors", "2"}),
        start_server({argv[2], "--listen", "127.0.0.1:0", "--reactors", "2"}),
        start_server({argv[3], "--listen", "127.0.0.1:0", "--reactors", "2"}),
    };
    for (auto& s : servers)
        if (s.port == 0) {
            std::fprintf(stderr, "soak_check: a server did not start\n");
            for (auto& t : servers) stop_server(t);
            return 1;
        }
    std::size_t base_fds[kKinds];
    for (int k = 0; k < kKinds; ++k) base_fds[k] = open_fds_of(servers[k].pid);

    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<Peer> peers;
    for (int k = 0; k < kKinds; ++k)
        for (long i = 0; i < conns; ++i) {
            Peer p;
            p.kind = static_cast<Kind>(k);
            p.index = peers.size();
            peers.push_back(p);
        }
    Totals t;
    auto open_peer = [&](Peer& p) {
        p.fd = connect_loopback(servers[p.kind].port, true);  // blocking connect, then non-blocking use
        if (p.fd < 0) {
            ++t.connect_failures;
            return;
        }
        timeval zero{0, 0};
        ::setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP;
        e.data.u64 = p.index;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, p.fd, &e);
        p.requests = 0;
        p.expect.clear();
        p.got.clear();
    };
    for (auto& p : peers) open_peer(p);

    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    const auto warmup = start + std::chrono::seconds(std::max(sample_s, seconds / 5));
    auto next_sample = start + std::chrono::seconds(sample_s);
    std::size_t ref_rss[kKinds] = {0, 0, 0}, max_fds[kKinds] = {0, 0, 0};
    double worst_drift[kKinds] = {0, 0, 0};
    std::vector<epoll_event> evs(256);
    char buf[64 * 1024];
    while (Clock::now() < end) {
        const auto now = Clock::now();
        for (auto& p : peers) {
            if (p.fd < 0) {
                open_peer(p);
                continue;
            }
            if (!p.expect.empty() || (p.kind == http && !p.got.empty()) || now < p.next) continue;
            if (p.requests == 200) {  // churn: a new connection every 200 requests
                ::close(p.fd);
                p.fd = -1;
                ++t.reconnects;
                open_peer(p);
                if (p.fd < 0) continue;
            }
            auto [req, reply] = next_exchange(p);
            p.expect = p.kind == http ? std::string("http") : reply;
            p.got.clear();
            if (::send(p.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
                ++t.unexpected_closes;  // a short send of at most 16 KiB on an idle connection
                ::close(p.fd);
                p.fd = -1;
            }
            p.next = now + 10ms;
        }
        const int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 2);
        for (std::size_t e = 0; e < static_cast<std::size_t>(k); ++e) {
            Peer& p = peers[evs[e].data.u64];
            if (p.fd < 0) continue;
            const ssize_t r = ::recv(p.fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                ++t.unexpected_closes;
                ::close(p.fd);
                p.fd = -1;
                continue;
            }
            p.got.append(buf, static_cast<std::size_t>(r));
            int done = 0;
            if (p.kind == http) done = http_complete(p.got);
            else if (p.got.size() >= p.expect.size()) done = p.got == p.expect ? 1 : -1;
            if (done == 0) continue;
            if (done < 0) ++t.mismatches;
            ++t.requests;
            ++p.requests;
            p.expect.clear();
            p.got.clear();
        }
        if (Clock::now() >= next_sample) {
            next_sample += std::chrono::seconds(sample_s);
            const double at = std::chrono::duration<double>(Clock::now() - start).count();
            std::printf("t=%.0fs requests=%llu", at, static_cast<unsigned long long>(t.requests));
            for (int s = 0; s < kKinds; ++s) {
                const std::size_t rss = rss_of(servers[s].pid), fds = open_fds_of(servers[s].pid);
                max_fds[s] = std::max(max_fds[s], fds);
                if (Clock::now() >= warmup) {
                    if (ref_rss[s] == 0) ref_rss[s] = rss;
                    const double drift = (static_cast<double>(rss) - static_cast<double>(ref_rss[s])) / static_cast<double>(ref_rss[s]);
                    if (std::abs(drift) > std::abs(worst_drift[s])) worst_drift[s] = drift;
                }
                std::printf(" %s_rss_kib=%zu %s_fds=%zu", kNames[s], rss / 1024, kNames[s], fds);
            }
            std::printf("\n");
            std::fflush(stdout);
        }
    }
    for (auto& p : peers)
        if (p.fd >= 0) ::close(p.fd);
    ::close(ep);
    int failed = 0, passed = 0;
    auto check = [&](bool ok, const std::string& name, const std::string& detail) {
        std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
        (ok ? passed : failed) += 1;
    };
    char d[512];
    std::snprintf(d, sizeof d, "%llu requests in %ld s over %ld connections per server, %llu reconnects: %llu mismatches, %llu unexpected closes, %llu failed connects",
                  static_cast<unsigned long long>(t.requests), seconds, conns, static_cast<unsigned long long>(t.reconnects),
                  static_cast<unsigned long long>(t.mismatches), static_cast<unsigned long long>(t.unexpected_closes),
                  static_cast<unsigned long long>(t.connect_failures));
    check(t.requests > 0 && t.mismatches == 0 && t.unexpected_closes == 0 && t.connect_failures == 0, "soak.no_errors", d);
    for (int s = 0; s < kKinds; ++s) {
        std::snprintf(d, sizeof d, "RSS after warm-up %zu KiB, worst drift %+.1f%%", ref_rss[s] / 1024, 100 * worst_drift[s]);
        check(ref_rss[s] > 0 && std::abs(worst_drift[s]) <= 0.05, std::string("soak.") + kNames[s] + "_rss_flat", d);
        std::size_t after = 0;
        for (int i = 0; i < 500; ++i) {  // up to 5 s for the closes to land
            after = open_fds_of(servers[s].pid);
            if (after == base_fds[s]) break;
            std::this_thread::sleep_for(10ms);
        }
        // A slot that reconnects closes its connection and connects at once: the server may
        // accept the new one before it reads the old one's EOF, so a slot can hold two fds
        // for a moment. A leak shows as growth past that and as fds left after.
        const std::size_t bound = base_fds[s] + 2 * static_cast<std::size_t>(conns);
        std::snprintf(d, sizeof d, "fds %zu before, at most %zu during (bound %zu), %zu after", base_fds[s], max_fds[s],
                      bound, after);
        check(max_fds[s] <= bound && after == base_fds[s],
              std::string("soak.") + kNames[s] + "_fds_flat", d);
    }
    for (int s = 0; s < kKinds; ++s) {
        const int status = stop_server(servers[s]);
        check(status == 0, std::string("soak.") + kNames[s] + "_exits_0", "exit status " + std::to_string(status));
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
