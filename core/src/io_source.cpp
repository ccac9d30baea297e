// core/src/io_source.cpp — registration with the association checks.
#include "pollux/core/io_source.hpp"

#include "pollux/core/registry.hpp"

namespace pollux {

Result<void> IoSource::register_source(const Registry& registry, Token token, Interest interest) {
    // An empty (default or moved-from) Registry has id 0: fail before touching the association.
    if (!fd_ || registry.poll_id() == 0) return error(std::errc::bad_file_descriptor);
    std::size_t expected = 0;
    if (!poll_id_.compare_exchange_strong(expected, registry.poll_id(), std::memory_order_acq_rel)) {
        return error(expected == registry.poll_id() ? Errc::already_registered : Errc::registered_elsewhere);
    }
    auto r = registry.add_fd(fd_.get(), token, interest);
    if (!r) poll_id_.store(0, std::memory_order_release);
    return r;
}

Result<void> IoSource::reregister(const Registry& registry, Token token, Interest interest) {
    if (!fd_ || registry.poll_id() == 0) return error(std::errc::bad_file_descriptor);
    const std::size_t current = poll_id_.load(std::memory_order_acquire);
    if (current == 0) return error(Errc::not_registered);
    if (current != registry.poll_id()) return error(Errc::registered_elsewhere);
    return registry.modify_fd(fd_.get(), token, interest);
}

Result<void> IoSource::deregister(const Registry& registry) {
    if (!fd_) return error(std::errc::bad_file_descriptor);
    std::size_t expected = registry.poll_id();
    if (expected == 0) return error(std::errc::bad_file_descriptor);  // empty Registry
    if (!poll_id_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
        return error(expected == 0 ? Errc::not_registered : Errc::registered_elsewhere);
    }
    return registry.remove_fd(fd_.get());
}

}  // namespace pollux
