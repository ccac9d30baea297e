// framework/tests/support/loopback_client.cpp — see loopback_client.hpp.
#include "support/loopback_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

namespace pollux::test {

BlockingClient::BlockingClient(const net::SocketAddr& addr, std::chrono::milliseconds timeout) {
    fd_ = ::socket(addr.is_ipv4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, addr.as_sockaddr(), addr.len()) != 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

BlockingClient::~BlockingClient() { close(); }

void BlockingClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool BlockingClient::write_all(std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

std::vector<std::byte> BlockingClient::read_exact(std::size_t n) {
    std::vector<std::byte> out(n);
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}

BlockingClient::EofResult BlockingClient::read_to_eof(std::size_t limit) {
    EofResult res;
    std::byte buf[64 * 1024];
    for (;;) {
        const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            res.error = errno;
            return res;
        }
        if (r == 0) return res;
        res.bytes.insert(res.bytes.end(), buf, buf + r);
        if (res.bytes.size() > limit) {
            res.error = EFBIG;
            return res;
        }
    }
}

bool BlockingClient::wait_closed() {
    std::byte buf[4096];
    for (;;) {
        const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return true;
        if (r < 0) return errno == ECONNRESET;
    }
}

void BlockingClient::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void BlockingClient::reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
}

std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t h) {
    for (std::byte b : data) {
        h ^= static_cast<std::uint8_t>(b);
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace pollux::test
