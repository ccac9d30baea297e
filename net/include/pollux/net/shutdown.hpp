// pollux/net/shutdown.hpp — public.
#pragma once

namespace pollux::net {

// Which half of a connection `shutdown` closes (shutdown(2): SHUT_RD, SHUT_WR, SHUT_RDWR).
enum class Shutdown { Read, Write, Both };

}  // namespace pollux::net
