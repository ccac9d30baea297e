// samples/unix_echo — the framework echo server over a Unix stream socket (UnixServer).
//
//     unix_echo --path PATH [--mode OCTAL] [--reactors N] [--replace-stale]
//
// Every byte received is sent back. The socket file is created with exactly --mode
// (default 0600: only this user may connect), whatever the umask. A path that exists
// already is refused ("unix_echo: PATH: Address already in use"), unless --replace-stale
// is given and nobody listens on it any more; a live socket is never replaced. Prints
// "listening on PATH", serves until SIGINT or SIGTERM, then stops gracefully and
// removes the file.
//
// Backpressure: a peer that sends faster than it reads would grow the output queue up
// to max_output (then it is cut). So the echo stops reading from a connection while its
// output is above the high-water mark and resumes when the output has drained: the
// queue of one connection stays under the mark plus one read (docs/framework.md,
// "Output and backpressure").
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <pollux/framework/unix_server.hpp>

#include "cli.hpp"

using namespace pollux::framework;
namespace cli = pollux::samples::cli;

namespace {

// --mode is octal, as chmod takes it: 600 or 0600, at most 0777.
std::string check_mode(std::string& text) {
    const std::string why = "'" + text + "' is not an octal mode 0..0777";
    if (text.empty() || text.size() > 4) return why;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return why;
        value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (value > 0777) return why;
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The pollux framework echo server over a Unix stream socket.", "unix_echo"};
    std::string path;
    std::string mode_text = "0600";
    std::size_t reactors = 0;
    bool replace_stale = false;
    std::size_t high_water = 256 * 1024;
    app.add_option("--path", path, "the socket file to create")->required()->type_name("PATH");
    app.add_option("--mode", mode_text, "permission bits of the socket file, octal (connecting needs write permission)")
        ->check(CLI::Validator(check_mode, "", "OCTAL 0..0777"))
        ->type_name("OCTAL 0..0777")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    app.add_flag("--replace-stale", replace_stale,
                 "replace a socket file nobody listens on any more (a live one is never replaced)");
    cli::add_number<std::size_t>(app, "--high-water", high_water, 1, std::size_t{1} << 30,
                                 "bytes of output at which a connection stops being read until it drains")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    UnixServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.listen.bind.mode = static_cast<::mode_t>(std::stoul(mode_text, nullptr, 8));
    options.listen.bind.replace_stale = replace_stale;
    options.connection.high_water_mark = high_water;
    auto bound = UnixServer::bind(path, options);
    if (!bound) return cli::fail("unix_echo", path, bound.error());
    UnixServer& server = **bound;

    server.on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });
    server.on_high_water([](Connection& conn) { conn.pause_reading(); });
    server.on_write_complete([](Connection& conn) { conn.resume_reading(); });

    std::printf("listening on %s\n", path.c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("unix_echo", "run", ran.error());
    const auto total = server.metrics().total();
    std::printf("connections %llu, bytes in %llu, bytes out %llu\n",
                static_cast<unsigned long long>(total.connections_accepted),
                static_cast<unsigned long long>(total.bytes_in), static_cast<unsigned long long>(total.bytes_out));
    return 0;
}
