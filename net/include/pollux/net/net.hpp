// pollux/net/net.hpp — public. The whole net layer in one include.
#pragma once

#include "pollux/net/shutdown.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
