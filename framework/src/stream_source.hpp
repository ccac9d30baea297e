// framework/src/stream_source.hpp — internal: the stream variant as a registrable source.
#pragma once

#include <variant>

#include "pollux/framework/connection.hpp"

namespace pollux::framework::detail {

// Source adapter over Connection's stream variant, for Reactor::register_in_loop & co.
struct StreamSource {
    Connection::Stream& stream;
    Result<void> register_source(const Registry& r, Token t, Interest i) {
        return std::visit([&](auto& s) { return s.register_source(r, t, i); }, stream);
    }
    Result<void> reregister(const Registry& r, Token t, Interest i) {
        return std::visit([&](auto& s) { return s.reregister(r, t, i); }, stream);
    }
    Result<void> deregister(const Registry& r) {
        return std::visit([&](auto& s) { return s.deregister(r); }, stream);
    }
};

}  // namespace pollux::framework::detail
