// pollux/net/unix_stream.hpp — public.
//
// `UnixStream` is a non-blocking, close-on-exec AF_UNIX stream socket (mio's
// net::UnixStream): a connected byte stream to another process (or to the other end
// of `pair()`). It is a `Source`; register READABLE and/or WRITABLE.
//
//     auto stream = UnixStream::connect("/run/app.sock").value();
//     poll.registry().register_source(stream, kClient, Interest::READABLE | Interest::WRITABLE);
//     // WRITABLE: the connection is usable (check take_error() first, as for TCP).
//     // READABLE: read until WouldBlock; read() == 0 means the peer shut down writing.
//
// Connect. `connect` never blocks. A Unix connect usually completes at once; when the
// listener's backlog is full Linux answers EAGAIN (not EINPROGRESS), which pollux
// returns as WouldBlock: the caller retries later — nothing is in progress. ENOENT
// (no such socket file), ECONNREFUSED (file exists, nobody listens) and EACCES (no
// write permission on the file) come back from `connect` itself.
//
// Readiness is edge-triggered: after a readable event read until WouldBlock, after a
// writable event write until WouldBlock or done. A WouldBlock after an event is
// normal (spurious events exist).
//
// Closed peer. A peer that shut down writing (or closed) gives a read-closed event and
// read() == 0 once the buffered data is consumed. Writing to a peer that closed fails
// with EPIPE and never raises SIGPIPE: every write is send/sendmsg with MSG_NOSIGNAL,
// never write(2), so no SIG_IGN is needed.
//
// Addresses. A client that connected without binding has an unnamed `local_addr()`;
// its `peer_addr()` is the listener's address. Both ends of `pair()` are unnamed.
//
// Credentials. `peer_credentials()` reads SO_PEERCRED: the pid, uid and gid of the
// peer process as they were when it called connect() (or socketpair()). The pid may
// since have exited and been reused; the uid/gid are the reliable part. Use them to
// authorize, e.g. `creds.uid == getuid()`.
//
// Ownership. `fd()` lends the descriptor; `into_fd()` gives it away (deregister
// first); `from_fd()` adopts a connected socket, which the caller makes non-blocking.
// A moved-from UnixStream holds no fd and every call on it returns EBADF. I/O calls
// are `const` and one syscall each.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_slice.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/shutdown.hpp"
#include "pollux/net/unix_socket_addr.hpp"

namespace pollux {
class Registry;
}

namespace pollux::net {

// The peer process as SO_PEERCRED reports it (struct ucred).
struct PeerCredentials {
    ::pid_t pid = 0;
    ::uid_t uid = 0;
    ::gid_t gid = 0;
};

class UnixStream : public IoSourceOwner {
public:
    // An empty stream: every call returns EBADF.
    UnixStream() noexcept = default;
    UnixStream(UnixStream&&) noexcept = default;
    UnixStream& operator=(UnixStream&&) noexcept = default;

    // socket(AF_UNIX, SOCK_STREAM) then a non-blocking connect (see above).
    // The path is checked as `UnixSocketAddr::from_pathname` does.
    static Result<UnixStream> connect(std::string_view path);
    static Result<UnixStream> connect(const UnixSocketAddr& addr);
    // socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC): two connected ends.
    static Result<std::pair<UnixStream, UnixStream>> pair();
    // Adopts a connected socket; the caller makes it non-blocking.
    static UnixStream from_fd(OwnedFd fd) noexcept { return UnixStream(std::move(fd)); }

    // recv(2). 0 means the peer shut down writing (or buf is empty).
    Result<std::size_t> read(std::span<std::byte> buf) const;
    // send(2) with MSG_NOSIGNAL; may write less than asked (a short write).
    Result<std::size_t> write(std::span<const std::byte> buf) const;
    // recvmsg / sendmsg (MSG_NOSIGNAL) over several slices.
    Result<std::size_t> read_vectored(std::span<IoSliceMut> bufs) const;
    Result<std::size_t> write_vectored(std::span<const IoSlice> bufs) const;

    Result<void> shutdown(Shutdown how) const;
    Result<UnixSocketAddr> local_addr() const;
    Result<UnixSocketAddr> peer_addr() const;
    Result<PeerCredentials> peer_credentials() const;
    // SO_ERROR, cleared by the read: empty when there is no pending error.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit UnixStream(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

}  // namespace pollux::net
