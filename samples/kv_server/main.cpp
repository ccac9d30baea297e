// samples/kv_server — an in-memory key-value server that speaks the Redis protocol,
// sharded per reactor.
//
//     kv_server [--listen ADDR:PORT] [--reactors N] [--balance rr|least|reuseport] [--pin]
//               [--max-bulk-bytes N] [--max-args N] [--max-inline-bytes N] [--max-connections N]
//               [--request-timeout-ms MS] [--idle-timeout-ms MS]
//
// Commands: PING ECHO GET SET (EX PX EXAT PXAT NX XX KEEPTTL GET) DEL EXISTS INCR INCRBY
// DECR DECRBY MGET MSET EXPIRE PEXPIRE TTL PTTL DBSIZE FLUSHALL FLUSHDB QUIT SELECT 0,
// and what clients send on connect (CONFIG GET, COMMAND, COMMAND DOCS, CLIENT SETNAME,
// HELLO 2, INFO). samples/kv_server/README.md has the details.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "cli.hpp"
#include "kv_app.hpp"

namespace cli = pollux::samples::cli;
namespace kv = pollux::samples::kv;
using namespace pollux::framework;

int main(int argc, char** argv) {
    CLI::App app{"An in-memory key-value server speaking the Redis protocol, sharded per reactor.", "kv_server"};
    std::string listen = "127.0.0.1:6379";
    std::size_t reactors = 0;
    std::string balance = "rr";
    bool pin = false;
    kv::AppConfig config;
    std::size_t max_connections = 10'000;
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024,
                                 "reactor threads, each one shard of the keys (default: one per core)");
    app.add_option("--balance", balance,
                   "rr (round robin) or least (fewest open) from one listener, or reuseport (one "
                   "SO_REUSEPORT listener per reactor)")
        ->check(CLI::IsMember({"rr", "least", "reuseport"}))
        ->capture_default_str();
    app.add_flag("--pin", pin, "pin reactor i to CPU i (modulo the CPU count)");
    cli::add_number<std::size_t>(app, "--max-bulk-bytes", config.limits.max_bulk, 1, std::size_t{512} << 20,
                                 "largest bulk string (Redis: proto-max-bulk-len)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-args", config.limits.max_args, 1, 1024 * 1024,
                                 "most arguments in one request")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-inline-bytes", config.limits.max_inline, 16, 1024 * 1024,
                                 "longest inline command line")
        ->capture_default_str();
    std::size_t request_timeout_ms = static_cast<std::size_t>(config.request_timeout.count());
    std::size_t idle_timeout_ms = 0;
    cli::add_number<std::size_t>(app, "--request-timeout-ms", request_timeout_ms, 0, 86'400'000,
                                 "from a request's first byte to its last; a slower client is closed (0: no bound)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--idle-timeout-ms", idle_timeout_ms, 0, 86'400'000,
                                 "close a connection idle this long between requests (0: never, as in Redis)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-connections", max_connections, 0, 10'000'000,
                                 "open connections, all reactors (0: no limit)")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;
    config.request_timeout = std::chrono::milliseconds(request_timeout_ms);
    config.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("kv_server", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.pin_threads = pin;
    options.max_connections = max_connections;
    if (balance == "least") options.balancer = std::make_shared<pollux::reactor::LeastConnections>();
    if (balance == "reuseport") options.accept_mode = pollux::reactor::AcceptMode::reuseport;

    auto bound = kv::App::bind(*addr, options, config);
    if (!bound) return cli::fail("kv_server", addr->to_string(), bound.error());
    kv::App& server = **bound;
    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("kv_server", "run", ran.error());
    return 0;
}
