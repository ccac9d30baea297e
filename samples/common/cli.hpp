// samples/common/cli.hpp — internal to samples/ and perf/: the one command-line shape
// every sample program and tool shares (CLI11), so that each main stays short.
//
//     CLI::App app{"What the program does.", "echo_server"};
//     std::uint16_t port = 9000;
//     cli::add_port(app, "port", port, "TCP port (0: a free one)");
//     if (auto status = cli::parse(app, argc, argv)) return *status;
//     ...
//     if (!server) return cli::fail("echo_server", addr.to_string(), server.error());
//
// Exit statuses, the same in every program:
//   0  done; also after --help / -h, which prints the usage on stdout.
//   1  a run-time failure, on stderr as "PROG: WHERE: WHAT", e.g.
//      "echo_server: 127.0.0.1:9000: Address already in use".
//   2  a usage error, on stderr as "PROG: FLAG: WHAT", naming the flag and what it takes,
//      e.g. "echo_server: --reactors: 0 is out of range 1..1024".
//
// Numbers are decimal only, checked against their range before CLI11 converts them
// (CLI11 alone would read "010" as octal and "-1" as a huge unsigned). Header-only, CLI11
// and libc only: the programs that do not link pollux (asio_echo, echo_load) use it too.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <CLI/CLI.hpp>

namespace pollux::samples::cli {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

namespace detail {

template <class T>
std::string to_text(T v) {
    if constexpr (std::is_integral_v<T>) {
        return std::to_string(v);
    } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
        return buf;
    }
}

}  // namespace detail

// A CLI11 validator for a decimal number in [lo, hi]. An integer is rewritten to plain
// decimal ("010" -> "10") so CLI11's own conversion agrees with the check. Add it with
// Option::transform (check() would drop the rewrite); add_number does.
template <class T>
CLI::Validator in_range(T lo, T hi) {
    const std::string range = detail::to_text(lo) + ".." + detail::to_text(hi);
    return CLI::Validator(
        [lo, hi, range](std::string& text) -> std::string {
            // Integers parse as long long, so "-1" reads as out of range, not as "not a number".
            using Wide = std::conditional_t<std::is_integral_v<T>, long long, double>;
            Wide v{};
            const char* const last = text.data() + text.size();
            const auto [end, ec] = std::from_chars(text.data(), last, v);
            if (text.empty() || end != last || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
                return "'" + text + "' is not a number in " + range;
            }
            bool inside = false;
            if constexpr (std::is_integral_v<T>) {
                inside = ec == std::errc{} && std::cmp_greater_equal(v, lo) && std::cmp_less_equal(v, hi);
            } else {
                inside = ec == std::errc{} && v >= lo && v <= hi;  // false for nan
            }
            if (!inside) return text + " is out of range " + range;
            if constexpr (std::is_integral_v<T>) text = std::to_string(v);
            return {};
        },
        "", "RANGE " + range);
}

// Adds option or positional `name` (e.g. "--reactors", "port") holding a number in
// [lo, hi]; --help shows it as "NAME lo..hi". Returns the option, for ->excludes(...) etc.
template <class T>
CLI::Option* add_number(CLI::App& app, std::string name, T& value, std::type_identity_t<T> lo,
                        std::type_identity_t<T> hi, std::string help) {
    return app.add_option(std::move(name), value, std::move(help))
        ->transform(in_range<T>(lo, hi))
        ->type_name(detail::to_text(lo) + ".." + detail::to_text(hi));
}

// A TCP or UDP port: 0..65535 (for a server, 0 lets the kernel pick a free one).
inline CLI::Option* add_port(CLI::App& app, std::string name, std::uint16_t& port, std::string help) {
    return add_number<std::uint16_t>(app, std::move(name), port, 0, 65535, std::move(help));
}

// Why `text` is not "IPV4:PORT" or "[IPV6]:PORT" (numeric, PORT 0..65535; an IPv6
// address may carry a numeric scope, "[fe80::1%2]:80"); empty when it is.
inline std::string check_host_port(std::string_view text) {
    const std::string shape = "'" + std::string(text) + "' is not IPV4:PORT or [IPV6]:PORT";
    std::string_view host;
    std::string_view port;
    bool v6 = false;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return shape;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        v6 = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return shape;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (v6) host = host.substr(0, host.find('%'));  // the scope id, checked by the program's own parser
    unsigned char ip[sizeof(in6_addr)];
    if (::inet_pton(v6 ? AF_INET6 : AF_INET, std::string(host).c_str(), ip) != 1) return shape;
    std::string port_text(port);
    if (std::string why = in_range<std::uint16_t>(0, 65535)(port_text); !why.empty()) return "port " + why;
    return {};
}

// Adds option `name` holding a numeric socket address; --help shows it as "ADDR:PORT".
inline CLI::Option* add_address(CLI::App& app, std::string name, std::string& addr, std::string help) {
    return app.add_option(std::move(name), addr, std::move(help))
        ->check(CLI::Validator(check_host_port, "", "ADDRESS"))
        ->type_name("ADDR:PORT");
}

// Parses argv into `app`. nullopt: go on. Otherwise the status to exit with at once:
// 0 after --help / -h (the usage is on stdout), 2 after a usage error (on stderr).
inline std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help: CLI11 prints the usage
        std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", app.get_name().c_str(), e.what());
        return kExitUsage;
    }
    return std::nullopt;
}

// "PROG: WHERE: WHAT" on stderr; returns 1, the exit status of a run-time failure.
inline int fail(std::string_view prog, std::string_view where, std::string_view what) {
    std::fprintf(stderr, "%.*s: %.*s: %.*s\n", static_cast<int>(prog.size()), prog.data(),
                 static_cast<int>(where.size()), where.data(), static_cast<int>(what.size()), what.data());
    return kExitFailure;
}

inline int fail(std::string_view prog, std::string_view where, const std::error_code& ec) {
    return fail(prog, where, ec.message());
}

}  // namespace pollux::samples::cli
