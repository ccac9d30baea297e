// samples/udp_echo/client.cpp — udp_echo_client: sends numbered datagrams to a UDP echo
// server and checks every reply.
//
//     udp_echo_client --server ADDR:PORT [--count N] [--size BYTES] [--window N]
//                     [--timeout-ms MS] [--max-loss PERCENT]
//
// Each datagram of --size bytes (8 or more) starts with its sequence number (8 bytes,
// little endian) followed by a pattern that depends on the number, so a reply that comes
// back cut, altered or for the wrong datagram is caught. --size 0 sends empty datagrams
// (each reply must be empty too) and --size 1..7 datagrams of the pattern alone; those
// carry no number, so they are only counted. At most --window datagrams are in flight.
// A window that gets no reply for --timeout-ms is written off as lost, and the next ones
// are sent; a late reply still counts (and is no longer lost).
//
// Prints one line:
//   sent 10000, received 10000, lost 0 (0.00%), duplicates 0, corrupt 0, reordered 0
// Exit status: 0 when nothing was corrupt or duplicated and the loss is at most
// --max-loss percent; 1 otherwise ("udp_echo_client: ADDR: why" on stderr), and for a
// socket error such as a refused port (ECONNREFUSED from the ICMP port unreachable).
//
// It runs on pollux's poller and a connected net::UdpSocket: one socket, one Poll, a
// READABLE registration, and a receive loop until WouldBlock after each event.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <pollux/core/core.hpp>
#include <pollux/net/udp_socket.hpp>

#include "cli.hpp"

namespace cli = pollux::samples::cli;
using pollux::Events;
using pollux::Interest;
using pollux::Poll;
using pollux::Token;
using pollux::net::SocketAddr;
using pollux::net::UdpSocket;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kSeqBytes = 8;

std::byte pattern(std::uint64_t seq, std::size_t i) {
    return static_cast<std::byte>((seq * 131 + i * 7 + 11) & 0xff);
}

void fill(std::vector<std::byte>& out, std::uint64_t seq, std::size_t size) {
    out.resize(size);
    std::size_t from = 0;
    if (size >= kSeqBytes) {
        for (std::size_t i = 0; i < kSeqBytes; ++i) out[i] = static_cast<std::byte>((seq >> (8 * i)) & 0xff);
        from = kSeqBytes;
    }
    for (std::size_t i = from; i < size; ++i) out[i] = pattern(seq, i);
}

struct Tally {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t corrupt = 0;
    std::uint64_t reordered = 0;
    std::uint64_t highest = 0;     // highest sequence number seen + 1
    std::uint64_t written_off = 0; // in flight when a window timed out, not yet back
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Sends numbered datagrams to a UDP echo server and checks every reply.", "udp_echo_client"};
    std::string server_text;
    std::uint64_t count = 10'000;
    std::size_t size = 64;
    std::size_t window = 32;
    std::uint64_t timeout_ms = 500;
    double max_loss = 100.0;
    cli::add_address(app, "--server", server_text, "the echo server")->required();
    cli::add_number<std::uint64_t>(app, "--count", count, 1, 100'000'000, "datagrams to send")->capture_default_str();
    cli::add_number<std::size_t>(app, "--size", size, 0, 65'527,
                                 "bytes per datagram (65,507 at most over IPv4, 65,527 over IPv6)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--window", window, 1, 4096, "datagrams in flight at most")->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--timeout-ms", timeout_ms, 1, 600'000,
                                   "a window with no reply for this long is written off as lost")
        ->capture_default_str();
    cli::add_number<double>(app, "--max-loss", max_loss, 0.0, 100.0, "percent lost above which the exit status is 1")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto server = SocketAddr::parse(server_text);
    if (!server) {
        cli::fail("udp_echo_client", "--server: " + server_text, server.error());
        return cli::kExitUsage;
    }
    const std::string where = server->to_string();
    const SocketAddr local = server->is_ipv4() ? SocketAddr(pollux::net::Ipv4Addr::any(), 0)
                                               : SocketAddr(pollux::net::Ipv6Addr::any(), 0);
    auto sock = UdpSocket::bind(local);
    if (!sock) return cli::fail("udp_echo_client", "bind", sock.error());
    if (auto r = sock->connect(*server); !r) return cli::fail("udp_echo_client", where, r.error());
    // Room for a full window of the largest datagrams in both directions.
    (void)sock->set_recv_buffer_size(std::max<std::size_t>(window * (size + 64), 256 * 1024));
    (void)sock->set_send_buffer_size(std::max<std::size_t>(window * (size + 64), 256 * 1024));
    auto poll = Poll::create();
    if (!poll) return cli::fail("udp_echo_client", "epoll", poll.error());
    if (auto r = poll->registry().register_source(*sock, Token(1), Interest::READABLE); !r) {
        return cli::fail("udp_echo_client", "epoll", r.error());
    }
    Events events = Events::with_capacity(4);

    const bool numbered = size >= kSeqBytes;
    std::vector<std::uint8_t> seen(numbered ? count : 0, 0);
    std::vector<std::byte> out;
    std::vector<std::byte> in(65'536 + 1);
    Tally t;
    std::uint64_t in_flight = 0;
    auto last_progress = Clock::now();
    const auto timeout = std::chrono::milliseconds(timeout_ms);

    while (t.sent < count || in_flight > 0) {
        // Fill the window.
        while (t.sent < count && in_flight < window) {
            fill(out, t.sent, size);
            auto sent = sock->send(out);
            if (!sent) {
                if (pollux::is_would_block(sent.error())) break;  // the send buffer is full: wait
                return cli::fail("udp_echo_client", where, sent.error());
            }
            ++t.sent;
            ++in_flight;
        }
        const auto wait = timeout - (Clock::now() - last_progress);
        if (wait <= Clock::duration::zero()) {
            // No reply for a whole timeout: write the window off and go on.
            t.written_off += in_flight;
            in_flight = 0;
            last_progress = Clock::now();
            continue;
        }
        if (auto r = poll->poll(events, std::chrono::duration_cast<std::chrono::nanoseconds>(wait)); !r) {
            if (pollux::is_interrupted(r.error())) continue;
            return cli::fail("udp_echo_client", "epoll", r.error());
        }
        for (;;) {  // edge-triggered: receive until WouldBlock
            auto got = sock->recv(in);
            if (!got) {
                if (pollux::is_would_block(got.error())) break;
                return cli::fail("udp_echo_client", where, got.error());
            }
            last_progress = Clock::now();
            const std::size_t n = got->size;
            if (got->truncated || n != size) {
                ++t.corrupt;
                if (in_flight > 0) --in_flight;
                continue;
            }
            std::uint64_t seq = 0;
            bool intact = true;
            if (numbered) {
                for (std::size_t i = 0; i < kSeqBytes; ++i) seq |= std::to_integer<std::uint64_t>(in[i]) << (8 * i);
                intact = seq < t.sent;
            }
            for (std::size_t i = numbered ? kSeqBytes : 0; intact && i < n; ++i) intact = in[i] == pattern(seq, i);
            if (!intact) {
                ++t.corrupt;
                if (in_flight > 0) --in_flight;
                continue;
            }
            if (numbered) {
                if (seen[seq] != 0) {
                    ++t.duplicates;
                    continue;
                }
                seen[seq] = 1;
                if (seq + 1 < t.highest) ++t.reordered;
                t.highest = std::max(t.highest, seq + 1);
            }
            ++t.received;
            // A reply for a datagram already written off brings it back from the dead.
            if (in_flight > 0) {
                --in_flight;
            } else if (t.written_off > 0) {
                --t.written_off;
            }
        }
    }
    const std::uint64_t lost = t.sent - std::min(t.sent, t.received);
    const double loss = t.sent == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(t.sent);
    std::printf("sent %llu, received %llu, lost %llu (%.2f%%), duplicates %llu, corrupt %llu, reordered %llu\n",
                static_cast<unsigned long long>(t.sent), static_cast<unsigned long long>(t.received),
                static_cast<unsigned long long>(lost), loss, static_cast<unsigned long long>(t.duplicates),
                static_cast<unsigned long long>(t.corrupt), static_cast<unsigned long long>(t.reordered));
    if (t.corrupt != 0 || t.duplicates != 0) return cli::fail("udp_echo_client", where, "replies that do not match");
    if (loss > max_loss) {
        char why[96];
        std::snprintf(why, sizeof why, "%.2f%% lost, more than --max-loss %g%%", loss, max_loss);
        return cli::fail("udp_echo_client", where, why);
    }
    return 0;
}
