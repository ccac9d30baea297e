// samples/udp_echo — the framework's UdpServer as a program: every datagram is sent back
// to its sender, unchanged.
//
//     udp_echo [--listen ADDR:PORT] [--reactors N] [--batch N] [--recv-buffer BYTES]
//
// One UDP socket per reactor on the same address (SO_REUSEPORT; the kernel spreads the
// senders over them), datagrams of any size UDP allows (0 to 65,507 bytes over IPv4,
// 65,527 over IPv6), replies gathered per batch into one sendmmsg. A port held by a
// socket without SO_REUSEPORT is refused ("udp_echo: ADDR: Address already in use").
// Prints "listening on ADDR", serves until SIGINT or SIGTERM, then prints its datagram
// counters: in, out, truncated (none with the defaults), dropped on a full send buffer.
// udp_echo_client (beside it) is the client that proves it.
#include <cstdint>
#include <cstdio>
#include <string>

#include <pollux/framework/udp_server.hpp>

#include "cli.hpp"

using namespace pollux::framework;
namespace cli = pollux::samples::cli;

int main(int argc, char** argv) {
    CLI::App app{"The pollux framework UDP echo server: every datagram back to its sender.", "udp_echo"};
    std::string listen = "127.0.0.1:9000";
    std::size_t reactors = 0;
    std::size_t batch = 16;
    std::size_t recv_buffer = 0;
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    cli::add_number<std::size_t>(app, "--batch", batch, 1, pollux::net::UdpSocket::kMaxBatch,
                                 "datagrams received (and replies sent) per syscall")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--recv-buffer", recv_buffer, 0, std::size_t{1} << 30,
                                 "SO_RCVBUF per socket (0: the kernel's default)")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("udp_echo", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    UdpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.batch = batch;
    options.socket_recv_buffer = recv_buffer;
    auto bound = UdpServer::bind(*addr, options);
    if (!bound) return cli::fail("udp_echo", addr->to_string(), bound.error());
    UdpServer& server = **bound;

    // Never truncated with the default 64 KiB slots; the check keeps the echo honest if
    // they were made smaller: a cut datagram is not sent back as if it were whole.
    auto set = server.on_datagram([](UdpContext& ctx, std::span<const std::byte> bytes, bool truncated) {
        if (!truncated) (void)ctx.reply(bytes);  // a failed reply is counted in the metrics
    });
    if (!set) return cli::fail("udp_echo", "on_datagram", set.error());

    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("udp_echo", "run", ran.error());
    const auto t = server.metrics().total();
    std::printf("datagrams in %llu, out %llu, truncated %llu, send dropped %llu, send errors %llu\n",
                static_cast<unsigned long long>(t.datagrams_in), static_cast<unsigned long long>(t.datagrams_out),
                static_cast<unsigned long long>(t.datagrams_truncated),
                static_cast<unsigned long long>(t.datagram_send_dropped),
                static_cast<unsigned long long>(t.datagram_send_errors));
    return 0;
}
