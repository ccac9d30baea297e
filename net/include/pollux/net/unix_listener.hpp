// pollux/net/unix_listener.hpp — public.
//
// `UnixListener` is a non-blocking, close-on-exec listening AF_UNIX stream socket
// (mio's net::UnixListener).
//
//     auto listener = UnixListener::bind("/run/app.sock", {.mode = 0660}).value();
//     poll.registry().register_source(listener, kServer, Interest::READABLE);
//     // on every readable event for kServer:
//     for (;;) {
//         auto accepted = listener.accept();
//         if (!accepted) {
//             if (is_would_block(accepted.error())) break;   // drained: wait for the next event
//             ...                                           // EMFILE, ECONNABORTED, ...
//         }
//         auto& [stream, peer] = *accepted;                 // register and keep `stream`
//     }
//
// A readable event means one or more connections are queued; readiness is
// edge-triggered, so accept until WouldBlock. Accepted streams are non-blocking and
// CLOEXEC (accept4).
//
// The socket file (pathname addresses; UnixBindOptions in unix_socket_addr.hpp):
//   * It is created with exactly `mode`, whatever the process umask, and is never
//     visible at the path with wider bits. pollux does not touch the process umask.
//   * An existing file at the path is never silently replaced. A stale socket file
//     (nobody listening) is replaced only with `replace_stale`; a live socket, or any
//     file that is not a socket, gives EADDRINUSE.
//   * pollux never unlinks the file when the listener closes (mio/std behaviour);
//     remove it yourself on shutdown, or bind with `replace_stale` next time.
//   * To check for a stale file pollux connects to it once; a live server sees that
//     probe as a connection that closes at once.
//
// The address `accept` returns (mio's rule, kept for compatibility): a peer bound to
// a pathname gives that pathname; any peer whose sun_path starts with NUL — an
// unbound client (the usual case) AND a client bound to an abstract name — gives an
// unnamed address. For the exact address of an abstract-bound peer call
// `stream.peer_addr()`, which reports it as abstract.
//
// Ownership. `fd()` lends the descriptor; `into_fd()` gives it away (deregister
// first); `from_fd()` adopts a listening socket, which the caller makes non-blocking.
// A moved-from UnixListener holds no fd and every call on it returns EBADF.
#pragma once

#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "pollux/core/interest.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"
#include "pollux/net/unix_socket_addr.hpp"
#include "pollux/net/unix_stream.hpp"

namespace pollux {
class Registry;
}

namespace pollux::net {

class UnixListener : public IoSourceOwner {
public:
    // An empty listener: every call returns EBADF.
    UnixListener() noexcept = default;
    UnixListener(UnixListener&&) noexcept = default;
    UnixListener& operator=(UnixListener&&) noexcept = default;

    // socket(AF_UNIX, SOCK_STREAM), bind (creating the socket file as described above),
    // listen(options.backlog). Errors: ENAMETOOLONG / EINVAL for a bad path (as
    // UnixSocketAddr::from_pathname), EINVAL for a mode over 0777, EADDRINUSE for an
    // occupied path, EACCES/ENOENT from the directory. An unnamed address autobinds to
    // a kernel-chosen abstract name (Linux).
    static Result<UnixListener> bind(std::string_view path, const UnixBindOptions& options = {});
    static Result<UnixListener> bind(const UnixSocketAddr& addr, const UnixBindOptions& options = {});
    // Adopts a listening socket; the caller makes it non-blocking.
    static UnixListener from_fd(OwnedFd fd) noexcept { return UnixListener(std::move(fd)); }

    // accept4(SOCK_NONBLOCK | SOCK_CLOEXEC): the next queued connection and its peer
    // address (rule above), or WouldBlock when none is queued.
    Result<std::pair<UnixStream, UnixSocketAddr>> accept() const;

    Result<UnixSocketAddr> local_addr() const;
    // SO_ERROR, cleared by the read: empty when there is no pending error.
    Result<std::optional<std::error_code>> take_error() const;

private:
    explicit UnixListener(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

}  // namespace pollux::net
