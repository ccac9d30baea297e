// samples/echo_server — the framework echo server: every byte received is sent back.
//
//     echo_server [port] [reactors] [--listen ADDR:PORT] [--reactors N]
//                 [--balance rr|least|reuseport] [--pin]
//
// Listens on 127.0.0.1:9000 by default (--listen takes IPv4 "0.0.0.0:9000" or IPv6
// "[::1]:9000"; a positional port replaces the port; port 0 picks a free one, and the line
// "listening on ADDR" says which), with one reactor per core, until SIGINT or SIGTERM.
// Then it stops gracefully and prints how the connections spread over the reactors, plus
// the full metrics in the Prometheus text format. `echo_server --help` lists the ranges.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include <pollux/framework/tcp_server.hpp>

#include "cli.hpp"

using namespace pollux::framework;
namespace cli = pollux::samples::cli;

int main(int argc, char** argv) {
    CLI::App app{"The pollux framework echo server: every byte received is sent back.", "echo_server"};
    std::string listen = "127.0.0.1:9000";
    std::uint16_t port = 0;
    std::size_t reactors = 0;
    std::string balance = "rr";
    bool pin = false;
    auto* port_opt = cli::add_port(app, "port", port, "replaces the port of --listen (0: a free one)");
    auto* reactors_pos = cli::add_number<std::size_t>(app, "reactors", reactors, 1, 1024, "same as --reactors");
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port")->capture_default_str();
    auto* reactors_opt = cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024,
                                                      "reactor threads (default: one per core)");
    reactors_opt->excludes(reactors_pos);
    app.add_option("--balance", balance,
                   "who gets a connection: rr (round robin) or least (fewest open) from one "
                   "listener, or reuseport (one SO_REUSEPORT listener per reactor, the kernel picks)")
        ->check(CLI::IsMember({"rr", "least", "reuseport"}))
        ->capture_default_str();
    app.add_flag("--pin", pin, "pin reactor i to CPU i (modulo the CPU count)");
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {  // --listen's check passed, but pollux's parser disagrees (a scope name, say)
        cli::fail("echo_server", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    if (*port_opt) addr->set_port(port);

    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.pin_threads = pin;
    if (balance == "least") options.balancer = std::make_shared<pollux::reactor::LeastConnections>();
    if (balance == "reuseport") options.accept_mode = pollux::reactor::AcceptMode::reuseport;
    auto bound = TcpServer::bind(*addr, options);
    if (!bound) return cli::fail("echo_server", addr->to_string(), bound.error());
    TcpServer& server = **bound;

    server.on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });

    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) cli::fail("echo_server", "run", ran.error());

    // The spread, then everything else the server counted.
    auto snap = server.metrics().snapshot();
    for (std::size_t i = 0; i < snap.reactors.size(); ++i) {
        std::printf("reactor %zu: connections %llu, bytes in %llu, bytes out %llu\n", i,
                    static_cast<unsigned long long>(snap.reactors[i].connections_accepted),
                    static_cast<unsigned long long>(snap.reactors[i].bytes_in),
                    static_cast<unsigned long long>(snap.reactors[i].bytes_out));
    }
    std::string text;
    server.metrics().render_prometheus(text);
    std::fputs(text.c_str(), stdout);
    return ran ? 0 : cli::kExitFailure;
}
