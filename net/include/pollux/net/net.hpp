// pollux/net/net.hpp — public. The whole net layer in one include.
#pragma once

#include "pollux/net/resolve.hpp"
#include "pollux/net/shutdown.hpp"
#include "pollux/net/socket_addr.hpp"
#include "pollux/net/tcp_listener.hpp"
#include "pollux/net/tcp_stream.hpp"
#include "pollux/net/udp_socket.hpp"
#include "pollux/net/unix_datagram.hpp"
#include "pollux/net/unix_listener.hpp"
#include "pollux/net/unix_socket_addr.hpp"
#include "pollux/net/unix_stream.hpp"
