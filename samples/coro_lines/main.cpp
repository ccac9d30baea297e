// samples/coro_lines — a line-based command server written in the coroutine flavour
// (docs/coroutines.md): one task per connection, a loop of read_until / write_all.
//
//     coro_lines [--listen ADDR:PORT] [--reactors N] [--max-line BYTES]
//                [--idle-timeout-ms MS] [--echo] [--pin]
//
// The protocol, one command per line ('\n', an optional '\r' before it is dropped):
//
//     ECHO text      ->  text
//     UPPER text     ->  TEXT
//     SLEEP ms       ->  OK after ms milliseconds (0..10000; the task sleeps, the reactor
//                        serves the others)
//     QUIT           ->  BYE, then the server closes
//     anything else  ->  ERR unknown command
//
// A line longer than --max-line gets "ERR line too long" and the connection is closed;
// no complete line within --idle-timeout-ms (a deadline on each read) gets "ERR idle"
// and the close. --echo turns the server into a plain echo server (every byte back, a
// read_some / write_all loop), the coroutine side of the echo benchmarks.
//
// Listens on 127.0.0.1:9006 by default ("listening on ADDR" says where; port 0 picks a
// free one) until SIGINT or SIGTERM, then stops gracefully. `coro_lines --help` lists
// the ranges.
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <pollux/framework/coro/coro.hpp>
#include <pollux/framework/tcp_server.hpp>

#include "cli.hpp"

using namespace std::chrono_literals;
using namespace pollux::framework;
namespace coro = pollux::coro;
namespace cli = pollux::samples::cli;

namespace {

struct Settings {
    std::size_t max_line = 4096;
    std::chrono::milliseconds idle{60'000};
};

coro::Deadline idle_deadline(const Settings& s) {
    return s.idle.count() == 0 ? coro::Deadline() : coro::Deadline(s.idle);
}

// One connection's session. `reply` is the task's own buffer (kept across lines, so a
// steady stream of commands allocates nothing).
coro::Task<void> session(coro::Stream& s, const Settings& settings) {
    std::string reply;
    for (;;) {
        auto got = co_await s.read_until('\n', settings.max_line + 1, idle_deadline(settings));
        if (!got) {
            if (got.error() == std::errc::message_size) (void)co_await s.write_all("ERR line too long\n");
            if (got.error() == std::errc::timed_out) (void)co_await s.write_all("ERR idle\n");
            co_return;  // also the peer's EOF or reset, or the server's stop
        }
        std::string_view line = got->substr(0, got->size() - 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const auto space = line.find(' ');
        const std::string_view cmd = line.substr(0, space);
        const std::string_view arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);

        reply.clear();
        if (cmd == "ECHO") {
            reply.append(arg);
        } else if (cmd == "UPPER") {
            for (char c : arg) reply.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        } else if (cmd == "SLEEP") {
            unsigned ms = 0;
            const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), ms);
            if (arg.empty() || ec != std::errc{} || end != arg.data() + arg.size() || ms > 10'000) {
                reply = "ERR SLEEP takes 0..10000";
            } else {
                // Bound to the connection: a close or the server's stop ends the sleep.
                if (!co_await coro::sleep_for(std::chrono::milliseconds(ms), s.token())) co_return;
                reply = "OK";
            }
        } else if (cmd == "QUIT") {
            (void)co_await s.write_all("BYE\n");
            co_return;  // the task's end closes the connection, after the flush
        } else {
            reply = "ERR unknown command";
        }
        reply.push_back('\n');
        if (!co_await s.write_all(reply)) co_return;
    }
}

coro::Task<void> echo(coro::Stream& s) {
    for (;;) {
        auto in = co_await s.read_some();
        if (!in || in->empty()) co_return;
        if (!co_await s.write_all(*in)) co_return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A line-based command server in pollux's coroutine flavour (ECHO, UPPER, SLEEP, QUIT).",
                 "coro_lines"};
    std::string listen = "127.0.0.1:9006";
    std::size_t reactors = 0;
    std::size_t max_line = 4096;
    std::uint64_t idle_ms = 60'000;
    bool echo_mode = false;
    bool pin = false;
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    cli::add_number<std::size_t>(app, "--max-line", max_line, 1, 1024 * 1024,
                                 "longest line in bytes, without its newline")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--idle-timeout-ms", idle_ms, 0, 86'400'000,
                                   "longest wait for a line (0: none)")
        ->capture_default_str();
    app.add_flag("--echo", echo_mode, "plain echo server: every byte back (the benchmarks' mode)");
    app.add_flag("--pin", pin, "pin reactor i to CPU i (modulo the CPU count)");
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("coro_lines", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.pin_threads = pin;
    auto bound = TcpServer::bind(*addr, options);
    if (!bound) return cli::fail("coro_lines", addr->to_string(), bound.error());
    TcpServer& server = **bound;

    const Settings settings{max_line, std::chrono::milliseconds(idle_ms)};
    if (echo_mode) {
        server.set_handler_factory(coro::stream_handler([](coro::Stream& s) { return echo(s); }));
    } else {
        server.set_handler_factory(
            coro::stream_handler([&settings](coro::Stream& s) { return session(s, settings); }));
    }

    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("coro_lines", "run", ran.error());
    return 0;
}
