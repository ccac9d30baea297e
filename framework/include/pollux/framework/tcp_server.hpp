// pollux/framework/tcp_server.hpp — public.
//
// `TcpServer` is StreamServer<net::TcpListener> (stream_server.hpp has the contract):
// TCP connections on a pool of reactors, a handler per connection.
//
//     auto server = TcpServer::bind(addr, {.reactors = 4}).value();
//     server->on_data([](Connection& conn, Buffer& in) { conn.send(in.readable()); in.consume_all(); });
//     server->run_until_signal();
//
// TcpServerOptions (server_options.hpp): reactors, pin_threads, accept_mode (single or
// reuseport), balancer, listen.backlog, listen.nodelay, resource_pause, accept_budget,
// max_connections, connection.
#pragma once

#include "pollux/framework/stream_server.hpp"
