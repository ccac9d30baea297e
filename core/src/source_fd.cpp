// core/src/source_fd.cpp
#include "pollux/core/source_fd.hpp"

#include "pollux/core/registry.hpp"

namespace pollux {

Result<void> SourceFd::register_source(const Registry& registry, Token token, Interest interest) {
    return registry.add_fd(fd_, token, interest);
}

Result<void> SourceFd::reregister(const Registry& registry, Token token, Interest interest) {
    return registry.modify_fd(fd_, token, interest);
}

Result<void> SourceFd::deregister(const Registry& registry) { return registry.remove_fd(fd_); }

}  // namespace pollux
