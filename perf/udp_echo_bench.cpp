// perf/udp_echo_bench.cpp — UDP echo: the framework's UdpServer against a Boost.Asio UDP
// echo server, same client, ABBA order, median ratio.
//
// Reproduce (from the repository root, in a RelWithDebInfo build dir):
//   cmake --build build/default --target udp_echo_bench
//   build/default/perf/udp_echo_bench                      # 4 pairs x 2 x 1.5 s, about 15 s
//   build/default/perf/udp_echo_bench --pairs 6 --seconds 3 --sockets 8 --depth 32 --size 64
//   build/default/perf/udp_echo_bench --send-area 0      # pollux without gathered replies
//   build/default/perf/udp_echo_bench --aa               # A/A control: pollux vs pollux
//   build/default/perf/udp_echo_bench --help             # every flag and its range
//
// Each run forks a fresh server process pinned to CPU 0 (sched_setaffinity before any
// thread exists):
//   * pollux: UdpServer with 1 reactor on a borrowed pool pinned to CPU 0, default
//     options (batch 16, send_area 64 KiB: replies gathered, one sendmmsg per batch),
//     an echo callback calling ctx.reply;
//   * Asio: one io_context with concurrency hint 1 run on the process's main thread, one
//     udp::socket, one fixed 64 KiB buffer, the canonical async_receive_from ->
//     async_send_to -> async_receive_from chain (what an Asio user writes for UDP echo).
// The client stays in this process, pinned to CPU 1: `--sockets` connected UDP sockets,
// each keeping `--depth` datagrams of `--size` bytes in flight. It is a burst load: each
// recv_many batch of replies is answered with one send_many of as many new datagrams;
// one poll() per turn, then one recv_many per readable socket. A socket that saw no
// reply for 20 ms is topped up to its depth again (UDP may drop; `lost` counts those).
// Every reply's size is checked (`bad`; any bad reply fails the run).
//
// Order: pair k runs pollux then Asio when k is even, Asio then pollux when odd (ABBA).
// Per run: 0.3 s warm-up, then a `--seconds` window. Printed per run:
//   * echoes/s: replies the client received in the window / window (one echo = one
//     datagram in and one out at the server);
//   * syscalls/echo: the raw_syscalls:sys_enter tracepoint counted over every thread of
//     the server process in the window (perf_event_open with inherit, opened before the
//     server starts any thread: the figure `perf stat -e raw_syscalls:sys_enter -p PID`
//     gives), divided by the echoes;
//   * us CPU/echo: the server's task-clock over the window per echo (the fair figure
//     when the client, not the server, limits echoes/s);
//   * the server's own counters after it stopped.
// "n/a" when perf events are not permitted. The summary gives the median of the
// per-pair ratios pollux/Asio (echoes/s) with min-max, and each side's medians.
//
// Without <boost/asio.hpp> only the pollux server runs (no ratio).
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include "cli.hpp"
#include "pollux/framework/udp_server.hpp"
#include "pollux/net/udp_socket.hpp"
#include "pollux/reactor/reactor_pool.hpp"

#if __has_include(<boost/asio.hpp>)
#include <boost/asio.hpp>
#define POLLUX_BENCH_HAVE_ASIO 1
#else
#define POLLUX_BENCH_HAVE_ASIO 0
#endif

namespace {

using Clock = std::chrono::steady_clock;
using pollux::net::RecvSlot;
using pollux::net::SendSlot;
using pollux::net::SocketAddr;
using pollux::net::UdpSocket;

struct Config {
    int pairs = 4;
    double seconds = 1.5;
    double warmup = 0.3;
    std::size_t sockets = 8;
    std::size_t depth = 32;
    std::size_t size = 64;
    std::optional<std::size_t> send_area;  // UdpServerOptions::send_area; default: the server's
    bool aa = false;                       // A/A control: pollux on both sides
};

enum class Server { pollux, asio };

const char* name(Server s) { return s == Server::pollux ? "pollux" : "asio"; }

void pin_process(int cpu) {
    ::cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    (void)::sched_setaffinity(0, sizeof set, &set);
}

// ---- servers (run in the forked child; report the port on `out`, run until `ctl` closes) --

void write_line(int fd, const std::string& line) {
    (void)!::write(fd, line.data(), line.size());
}

int serve_pollux(int ctl, int out, const Config& cfg) {
    namespace fw = pollux::framework;
    auto pool = pollux::reactor::ReactorPool::create({.threads = 1, .cpus = {0}});
    if (!pool || !(*pool)->start()) return 2;
    fw::UdpServerOptions options;
    if (cfg.send_area) options.send_area = *cfg.send_area;
    auto server = fw::UdpServer::bind(**pool, SocketAddr::loopback_v4(), options);
    if (!server) return 2;
    (void)(*server)->on_datagram(
        [](fw::UdpContext& ctx, std::span<const std::byte> bytes, bool) { (void)ctx.reply(bytes); });
    if (!(*server)->start()) return 2;
    write_line(out, std::to_string((*server)->local_addr().port()) + "\n");
    char c;
    while (::read(ctl, &c, 1) > 0) {}  // EOF: the driver is done
    (void)(*server)->stop();
    const auto m = (*server)->metrics().total();
    write_line(out, "in " + std::to_string(m.datagrams_in) + " out " + std::to_string(m.datagrams_out) +
                        " dropped " + std::to_string(m.datagram_send_dropped) + " yields " +
                        std::to_string(m.datagram_budget_yields) + "\n");
    (void)(*pool)->stop();
    return 0;
}

#if POLLUX_BENCH_HAVE_ASIO
namespace asio = boost::asio;
using asio::ip::udp;

class AsioEcho {
public:
    explicit AsioEcho(asio::io_context& io) : socket_(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
    std::uint16_t port() const { return socket_.local_endpoint().port(); }
    void receive() {
        socket_.async_receive_from(asio::buffer(buf_), from_, [this](boost::system::error_code ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) return receive();
            socket_.async_send_to(asio::buffer(buf_.data(), n), from_,
                                  [this](boost::system::error_code send_ec, std::size_t) {
                                      if (send_ec == asio::error::operation_aborted) return;
                                      if (!send_ec) ++echoed_;
                                      receive();
                                  });
        });
    }
    std::uint64_t echoed() const { return echoed_; }

private:
    udp::socket socket_;
    udp::endpoint from_;
    std::array<std::byte, 65536> buf_{};
    std::uint64_t echoed_ = 0;
};

int serve_asio(int ctl, int out) {
    asio::io_context io(1);
    AsioEcho echo(io);
    echo.receive();
    // The driver closing `ctl` ends the run (idle otherwise: no cost per datagram).
    asio::posix::stream_descriptor control(io, ctl);
    std::array<char, 1> c{};
    control.async_read_some(asio::buffer(c), [&](boost::system::error_code, std::size_t) { io.stop(); });
    write_line(out, std::to_string(echo.port()) + "\n");
    io.run();
    write_line(out, "out " + std::to_string(echo.echoed()) + "\n");
    return 0;
}
#endif

// ---- counters of a process and the threads it starts (perf_event_open, inherit) ---------

class ProcessCounter {
public:
    // The raw_syscalls:sys_enter tracepoint (every syscall entered).
    static std::optional<ProcessCounter> syscalls(pid_t pid) {
        std::ifstream id_file("/sys/kernel/tracing/events/raw_syscalls/sys_enter/id");
        std::uint64_t id = 0;
        if (!(id_file >> id)) {
            std::ifstream alt("/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id");
            if (!(alt >> id)) return std::nullopt;
        }
        return open(pid, PERF_TYPE_TRACEPOINT, id);
    }
    // task-clock: CPU time in nanoseconds.
    static std::optional<ProcessCounter> cpu_ns(pid_t pid) {
        return open(pid, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK);
    }
    // Opens the counter on `pid`, inheriting into threads created afterwards.
    static std::optional<ProcessCounter> open(pid_t pid, std::uint32_t type, std::uint64_t config) {
        ::perf_event_attr attr{};
        attr.type = type;
        attr.size = sizeof attr;
        attr.config = config;
        attr.inherit = 1;
        attr.sample_period = 0;
        const long fd = ::syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) return std::nullopt;
        return ProcessCounter(static_cast<int>(fd));
    }
    ProcessCounter(ProcessCounter&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    ProcessCounter& operator=(ProcessCounter&&) = delete;
    ~ProcessCounter() {
        if (fd_ >= 0) ::close(fd_);
    }
    std::uint64_t read() const {
        std::uint64_t v = 0;
        if (::read(fd_, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return 0;
        return v;
    }

private:
    explicit ProcessCounter(int fd) : fd_(fd) {}
    int fd_;
};

// ---- the client ------------------------------------------------------------------------

struct RunResult {
    double echoes_per_s = 0;
    std::optional<double> syscalls_per_echo;
    std::optional<double> cpu_us_per_echo;
    std::uint64_t lost = 0;
    std::uint64_t bad = 0;
    std::string server_line;
};

struct ClientSocket {
    UdpSocket socket;
    std::size_t in_flight = 0;
    Clock::time_point last_reply{};
};

// Sends `n` datagrams of the shared payload on `s` (several send_many calls if needed).
std::size_t send_burst(ClientSocket& s, std::span<const std::byte> payload, std::size_t n) {
    std::array<SendSlot, UdpSocket::kMaxBatch> slots;
    slots.fill(SendSlot{payload, nullptr});
    std::size_t sent = 0;
    while (sent < n) {
        const std::size_t k = std::min(n - sent, slots.size());
        auto r = s.socket.send_many(std::span(slots).first(k));
        if (!r || *r == 0) break;  // buffer full: the top-up retries later
        sent += *r;
    }
    s.in_flight += sent;
    return sent;
}

std::optional<RunResult> run_once(Server kind, const Config& cfg) {
    int ctl[2], out[2];
    if (::pipe2(ctl, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0) return std::nullopt;
    const pid_t pid = ::fork();
    if (pid < 0) return std::nullopt;
    if (pid == 0) {
        ::close(ctl[1]);
        ::close(out[0]);
        ::close(go[1]);
        pin_process(0);
        char c;
        if (::read(go[0], &c, 1) != 1) ::_exit(3);  // wait until the counter is attached
        int rc = 2;
        if (kind == Server::pollux) rc = serve_pollux(ctl[0], out[1], cfg);
#if POLLUX_BENCH_HAVE_ASIO
        else rc = serve_asio(ctl[0], out[1]);
#endif
        ::_exit(rc);
    }
    ::close(ctl[0]);
    ::close(out[1]);
    ::close(go[0]);
    auto counter = ProcessCounter::syscalls(pid);
    auto cpu = ProcessCounter::cpu_ns(pid);
    (void)!::write(go[1], "g", 1);
    ::close(go[1]);

    // The port line.
    std::string text;
    char buf[256];
    while (text.find('\n') == std::string::npos) {
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    const int port = std::atoi(text.c_str());
    std::optional<RunResult> result;
    if (port > 0) {
        const SocketAddr server = SocketAddr::loopback_v4(static_cast<std::uint16_t>(port));
        std::vector<ClientSocket> socks;
        for (std::size_t i = 0; i < cfg.sockets; ++i) {
            auto s = UdpSocket::bind(SocketAddr::loopback_v4());
            if (!s || !s->connect(server)) break;
            socks.push_back({std::move(*s), 0, Clock::now()});
        }
        const std::vector<std::byte> payload(cfg.size, std::byte{0x5a});
        std::vector<std::byte> storage(UdpSocket::kMaxBatch * 2048);
        std::array<RecvSlot, UdpSocket::kMaxBatch> slots;
        for (std::size_t i = 0; i < slots.size(); ++i) slots[i].buf = std::span(storage).subspan(i * 2048, 2048);
        std::vector<::pollfd> fds(socks.size());
        for (std::size_t i = 0; i < socks.size(); ++i) fds[i] = {socks[i].socket.fd(), POLLIN, 0};

        RunResult r;
        std::uint64_t received = 0, at_start = 0, sys_start = 0, cpu_start = 0;
        const auto t0 = Clock::now();
        const auto window_start = t0 + std::chrono::duration<double>(cfg.warmup);
        const auto window_end = window_start + std::chrono::duration<double>(cfg.seconds);
        bool measuring = false;
        Clock::time_point measured_from;
        for (auto& s : socks) send_burst(s, payload, cfg.depth);
        for (;;) {
            const auto now = Clock::now();
            if (!measuring && now >= window_start) {
                measuring = true;
                measured_from = now;
                at_start = received;
                if (counter) sys_start = counter->read();
                if (cpu) cpu_start = cpu->read();
            }
            if (now >= window_end) {
                const std::uint64_t sys_end = counter ? counter->read() : 0;
                const std::uint64_t cpu_end = cpu ? cpu->read() : 0;
                const double secs = std::chrono::duration<double>(now - measured_from).count();
                const std::uint64_t echoes = received - at_start;
                r.echoes_per_s = static_cast<double>(echoes) / secs;
                if (counter && echoes > 0)
                    r.syscalls_per_echo = static_cast<double>(sys_end - sys_start) / static_cast<double>(echoes);
                if (cpu && echoes > 0)
                    r.cpu_us_per_echo = static_cast<double>(cpu_end - cpu_start) / 1000.0 / static_cast<double>(echoes);
                break;
            }
            (void)::poll(fds.data(), fds.size(), 5);
            for (std::size_t i = 0; i < socks.size(); ++i) {
                ClientSocket& s = socks[i];
                std::size_t got_here = 0;
                // poll() is level-triggered: one recv_many per readable socket and turn.
                if ((fds[i].revents & POLLIN) != 0) {
                    if (auto got = s.socket.recv_many(slots)) {
                        for (std::size_t k = 0; k < *got; ++k) {
                            if (slots[k].meta.size != cfg.size) ++r.bad;
                        }
                        got_here = *got;
                    }
                }
                if (got_here > 0) {
                    received += got_here;
                    s.in_flight -= std::min(s.in_flight, got_here);
                    s.last_reply = Clock::now();
                    send_burst(s, payload, cfg.depth - std::min(cfg.depth, s.in_flight));
                } else if (Clock::now() - s.last_reply > std::chrono::milliseconds(20) && s.in_flight > 0) {
                    r.lost += s.in_flight;  // no reply for 20 ms: count them lost, refill
                    s.in_flight = 0;
                    s.last_reply = Clock::now();
                    send_burst(s, payload, cfg.depth);
                }
            }
        }
        result = r;
    }
    ::close(ctl[1]);  // the server stops and prints its counters
    text.erase(0, text.find('\n') + 1);
    for (;;) {
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    (void)::waitpid(pid, &status, 0);
    if (result) {
        while (!text.empty() && text.back() == '\n') text.pop_back();
        result->server_line = text;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "%s server exited abnormally (status %d)\n", name(kind), status);
        return std::nullopt;
    }
    return result;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string per_echo(const std::optional<double>& v) {
    if (!v) return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", *v);
    return b;
}

// The command line. nullopt: go on; otherwise the exit status (0 after --help, 2 after a
// usage error naming the flag and its range).
std::optional<int> parse(int argc, char** argv, Config& cfg) {
    namespace cli = pollux::samples::cli;
    CLI::App app{"UDP echo: pollux's UdpServer against a Boost.Asio UDP echo server, ABBA order, median ratio.",
                 "udp_echo_bench"};
    cli::add_number(app, "--pairs", cfg.pairs, 1, 1000, "ABBA pairs of runs")->capture_default_str();
    cli::add_number(app, "--seconds", cfg.seconds, 0.01, 3600.0, "measured window per run")->capture_default_str();
    cli::add_number(app, "--sockets", cfg.sockets, 1, 1024, "client sockets")->capture_default_str();
    cli::add_number(app, "--depth", cfg.depth, 1, 4096, "datagrams in flight per socket")->capture_default_str();
    cli::add_number(app, "--size", cfg.size, 1, 1472, "bytes per datagram")->capture_default_str();
    std::size_t send_area = 0;
    auto* area = cli::add_number(app, "--send-area", send_area, 0, 64 << 20,
                                 "pollux's UdpServerOptions::send_area (0: one sendto per reply)");
    app.add_flag("--aa", cfg.aa, "A/A control, pollux on both sides (the ratio shows the noise floor)");
    if (auto status = cli::parse(app, argc, argv)) return status;
    if (*area) cfg.send_area = send_area;
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    if (auto status = parse(argc, argv, cfg)) return *status;
    std::printf("udp echo: %zu sockets x %zu in flight x %zu B, %.1f s per run (+%.1f s warm-up); server on CPU 0, "
                "client on CPU 1\n",
                cfg.sockets, cfg.depth, cfg.size, cfg.seconds, cfg.warmup);
    pin_process(1);
    std::vector<double> ratios, rate_p, rate_a, sys_p, sys_a, cpu_p, cpu_a;
    for (int pair = 0; pair < cfg.pairs; ++pair) {
        std::optional<double> p_rate, a_rate;
        const bool pollux_first = pair % 2 == 0;
        for (int k = 0; k < 2; ++k) {
            // Side A is pollux; side B is Asio, or pollux again in the A/A control.
            const bool side_a = (k == 0) == pollux_first;
            const Server kind = side_a || cfg.aa ? Server::pollux : Server::asio;
            const char* label = side_a ? "pollux" : cfg.aa ? "pollux'" : "asio";
            if (kind == Server::asio && !POLLUX_BENCH_HAVE_ASIO) continue;
            auto r = run_once(kind, cfg);
            if (!r) {
                std::fprintf(stderr, "%s run failed\n", label);
                return 1;
            }
            std::printf("pair %d  %-6s %9.0f echoes/s  %s syscalls/echo  %s us CPU/echo  lost %llu  bad %llu  "
                        "[server: %s]\n",
                        pair + 1, label, r->echoes_per_s, per_echo(r->syscalls_per_echo).c_str(),
                        per_echo(r->cpu_us_per_echo).c_str(),
                        static_cast<unsigned long long>(r->lost), static_cast<unsigned long long>(r->bad),
                        r->server_line.c_str());
            std::fflush(stdout);
            if (r->bad != 0) return 1;
            (side_a ? p_rate : a_rate) = r->echoes_per_s;
            if (r->syscalls_per_echo) (side_a ? sys_p : sys_a).push_back(*r->syscalls_per_echo);
            if (r->cpu_us_per_echo) (side_a ? cpu_p : cpu_a).push_back(*r->cpu_us_per_echo);
        }
        if (p_rate) rate_p.push_back(*p_rate);
        if (a_rate) rate_a.push_back(*a_rate);
        if (p_rate && a_rate && *a_rate > 0) ratios.push_back(*p_rate / *a_rate);
    }
    const auto med = [](const std::vector<double>& v) { return v.empty() ? std::string("n/a") : per_echo(median(v)); };
    std::printf("pollux:  median %.0f echoes/s, %s syscalls/echo, %s us server CPU/echo\n", median(rate_p),
                med(sys_p).c_str(), med(cpu_p).c_str());
    if (!rate_a.empty()) {
        const char* b = cfg.aa ? "pollux'" : "asio";
        std::printf("%s:%*s median %.0f echoes/s, %s syscalls/echo, %s us server CPU/echo\n", b,
                    static_cast<int>(7 - std::strlen(b)), "", median(rate_a), med(sys_a).c_str(), med(cpu_a).c_str());
        std::printf("pollux/%s echoes/s per pair:", b);
        for (double r : ratios) std::printf(" %.3f", r);
        std::printf("; median %.3fx (min %.3f, max %.3f)\n", median(ratios),
                    *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
    }
    return 0;
}
