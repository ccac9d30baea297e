// samples/http_server — an HTTP/1.1 server on the pollux framework.
//
//     http_server [--listen ADDR:PORT] [--reactors N] [--balance rr|least|reuseport] [--pin]
//                 [--max-header-bytes N] [--max-body-bytes N] [--header-timeout-ms N]
//                 [--keepalive-timeout-ms N] [--max-requests N] [--max-connections N]
//
// Routes: GET /plaintext, GET /json, GET /metrics (Prometheus text), POST /echo; HEAD on
// the GET routes; 405 and 404 otherwise. Keep-alive and pipelining (HTTP/1.1; HTTP/1.0
// with "Connection: keep-alive"), chunked request bodies, Expect: 100-continue. Limits
// answer with their status and close: 431, 413, 400, 408 (samples/http_server/README.md).
// Prints "listening on ADDR", serves until SIGINT or SIGTERM, then stops gracefully.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "cli.hpp"
#include "http_app.hpp"

namespace cli = pollux::samples::cli;
namespace http = pollux::samples::http;
using namespace pollux::framework;

int main(int argc, char** argv) {
    CLI::App app{"An HTTP/1.1 server on the pollux framework.", "http_server"};
    std::string listen = "127.0.0.1:8080";
    std::size_t reactors = 0;
    std::string balance = "rr";
    bool pin = false;
    std::size_t max_header = 8 * 1024;
    std::size_t max_body = 1024 * 1024;
    std::uint64_t header_timeout_ms = 10'000;
    std::uint64_t keepalive_timeout_ms = 60'000;
    std::size_t max_requests = 1000;
    std::size_t max_connections = 10'000;
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    app.add_option("--balance", balance,
                   "rr (round robin) or least (fewest open) from one listener, or reuseport (one "
                   "SO_REUSEPORT listener per reactor)")
        ->check(CLI::IsMember({"rr", "least", "reuseport"}))
        ->capture_default_str();
    app.add_flag("--pin", pin, "pin reactor i to CPU i (modulo the CPU count)");
    cli::add_number<std::size_t>(app, "--max-header-bytes", max_header, 256, 1024 * 1024,
                                 "request line + header fields; above: 431 (414 for the request line)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-body-bytes", max_body, 0, std::size_t{1} << 30,
                                 "request body; above: 413")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--header-timeout-ms", header_timeout_ms, 1, 3'600'000,
                                   "from a request's first byte to its complete head; then 408 and close")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--keepalive-timeout-ms", keepalive_timeout_ms, 0, 86'400'000,
                                   "idle time between requests before the server closes (0: never)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-requests", max_requests, 1, 1'000'000'000,
                                 "requests per connection; the last one gets Connection: close")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-connections", max_connections, 0, 10'000'000,
                                 "open connections, all reactors (0: no limit)")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("http_server", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.pin_threads = pin;
    options.max_connections = max_connections;
    if (balance == "least") options.balancer = std::make_shared<pollux::reactor::LeastConnections>();
    if (balance == "reuseport") options.accept_mode = pollux::reactor::AcceptMode::reuseport;
    http::AppConfig config;
    config.limits.max_head = max_header;
    config.limits.max_body = max_body;
    config.header_timeout = std::chrono::milliseconds(header_timeout_ms);
    config.keepalive_timeout = std::chrono::milliseconds(keepalive_timeout_ms);
    config.max_requests = max_requests;

    auto bound = http::App::bind(*addr, options, config);
    if (!bound) return cli::fail("http_server", addr->to_string(), bound.error());
    http::App& server = **bound;
    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("http_server", "run", ran.error());
    return 0;
}
