// framework/tests/support/loopback_client.hpp — blocking loopback clients for server tests.
//
// A `BlockingClient` is a plain blocking TCP socket with 10 s send/receive timeouts, so a
// test that goes wrong fails instead of hanging:
//
//     BlockingClient c(server->local_addr());
//     ASSERT_TRUE(c.connected());
//     c.write_all(as_bytes("ping"));
//     auto reply = c.read_exact(4);
//     auto rest = c.read_to_eof();         // {bytes, errno at the end (0 = clean EOF)}
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "pollux/net/socket_addr.hpp"

namespace pollux::test {

class BlockingClient {
public:
    explicit BlockingClient(const net::SocketAddr& addr,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    bool connected() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }

    bool write_all(std::span<const std::byte> data);
    bool write_all(std::string_view text) { return write_all(std::as_bytes(std::span(text.data(), text.size()))); }
    // Exactly n bytes, or fewer on EOF/error/timeout.
    std::vector<std::byte> read_exact(std::size_t n);
    struct EofResult {
        std::vector<std::byte> bytes;
        int error = 0;  // 0: clean EOF; else the errno that ended the read (ECONNRESET...)
    };
    EofResult read_to_eof(std::size_t limit = 64 * 1024 * 1024);
    // True if the server closed the connection (EOF or reset) within the timeout.
    bool wait_closed();
    void shutdown_write();
    // SO_LINGER {1, 0}: close() sends RST.
    void reset();
    void close();

private:
    int fd_ = -1;
};

// FNV-1a over bytes.
std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t h = 1469598103934665603ull);

// Polls `pred` every millisecond until true or `timeout`; returns the last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace pollux::test

#include <thread>

template <class Pred>
bool pollux::test::eventually(Pred pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}
