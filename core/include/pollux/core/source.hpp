// pollux/core/source.hpp — public.
//
// `Source` is anything that can be registered with a `Registry` (mio's event::Source):
// pollux sockets, pipe ends, `SourceFd`, and user types that wrap one of these.
// Users call `Registry::register_source/reregister/deregister`; the registry forwards
// to the three methods below, which a wrapper implements by delegating to its inner
// source.
#pragma once

#include "pollux/core/interest.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

class Registry;

template <class S>
concept Source = requires(S& source, const Registry& registry, Token token, Interest interest) {
    { source.register_source(registry, token, interest) } -> std::same_as<Result<void>>;
    { source.reregister(registry, token, interest) } -> std::same_as<Result<void>>;
    { source.deregister(registry) } -> std::same_as<Result<void>>;
};

}  // namespace pollux
