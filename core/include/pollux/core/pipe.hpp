// pollux/core/pipe.hpp — public.
//
// A non-blocking, CLOEXEC unidirectional pipe (mio's unix::pipe): `pipe()` returns the
// write end (`Sender`, register WRITABLE) and the read end (`Receiver`, register
// READABLE). Closing the Sender gives the Receiver a read-closed event and read() then
// returns 0; closing the Receiver gives the Sender a write-closed event and write()
// then returns EPIPE — never a SIGPIPE: the signal is blocked for the calling thread
// around the write and a SIGPIPE the write raised is consumed.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include "pollux/core/io_source.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/result.hpp"

namespace pollux {

class Sender : public IoSourceOwner {
public:
    Sender() noexcept = default;
    // Adopts an fd (for example a child's stdin). The caller makes it non-blocking
    // (`set_nonblocking(true)`), or every write may block.
    static Sender from_fd(OwnedFd fd) noexcept { return Sender(std::move(fd)); }

    Result<std::size_t> write(std::span<const std::byte> buf) const;
    Result<void> set_nonblocking(bool on) const;

private:
    explicit Sender(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

class Receiver : public IoSourceOwner {
public:
    Receiver() noexcept = default;
    // Adopts an fd (for example a child's stdout). The caller makes it non-blocking.
    static Receiver from_fd(OwnedFd fd) noexcept { return Receiver(std::move(fd)); }

    // Returns 0 at end of stream (every Sender closed).
    Result<std::size_t> read(std::span<std::byte> buf) const;
    Result<void> set_nonblocking(bool on) const;

private:
    explicit Receiver(OwnedFd fd) noexcept : IoSourceOwner(std::move(fd)) {}
};

// pipe2(O_NONBLOCK | O_CLOEXEC). Returns (Sender, Receiver).
Result<std::pair<Sender, Receiver>> pipe();

}  // namespace pollux
