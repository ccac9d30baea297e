// pollux/core/io_slice.hpp — public.
//
// Buffer slices for vectored I/O (readv/writev/sendmsg/recvmsg). Each is layout-
// compatible with `struct iovec`, so a span of slices goes to the kernel without a copy.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>

namespace pollux {

// A read-only slice, for writes.
class IoSlice {
public:
    constexpr IoSlice() noexcept = default;
    IoSlice(std::span<const std::byte> bytes) noexcept  // NOLINT: implicit by design
        : iov_{const_cast<std::byte*>(bytes.data()), bytes.size()} {}

    std::span<const std::byte> bytes() const noexcept {
        return {static_cast<const std::byte*>(iov_.iov_base), iov_.iov_len};
    }
    std::size_t size() const noexcept { return iov_.iov_len; }

private:
    ::iovec iov_{nullptr, 0};
};

// A writable slice, for reads.
class IoSliceMut {
public:
    constexpr IoSliceMut() noexcept = default;
    IoSliceMut(std::span<std::byte> bytes) noexcept  // NOLINT: implicit by design
        : iov_{bytes.data(), bytes.size()} {}

    std::span<std::byte> bytes() const noexcept { return {static_cast<std::byte*>(iov_.iov_base), iov_.iov_len}; }
    std::size_t size() const noexcept { return iov_.iov_len; }

private:
    ::iovec iov_{nullptr, 0};
};

static_assert(sizeof(IoSlice) == sizeof(::iovec));
static_assert(sizeof(IoSliceMut) == sizeof(::iovec));

// The iovec array behind a span of slices (layout-compatible, no copy).
inline const ::iovec* as_iovec(std::span<const IoSlice> s) noexcept {
    return reinterpret_cast<const ::iovec*>(s.data());
}
inline ::iovec* as_iovec(std::span<IoSliceMut> s) noexcept { return reinterpret_cast<::iovec*>(s.data()); }

}  // namespace pollux
