// pollux/framework/unix_server.hpp — public.
//
// `UnixServer` is StreamServer<net::UnixListener> (stream_server.hpp has the contract):
// AF_UNIX stream connections on a pool of reactors, with the same handlers as TcpServer.
//
//     UnixServerOptions opts;
//     opts.listen.bind.mode = 0660;              // exact file mode, whatever the umask
//     auto server = UnixServer::bind("/run/app.sock", opts).value();
//     server->on_data([](Connection& conn, Buffer& in) { conn.send(in.readable()); in.consume_all(); });
//     server->start();
//     ...
//     server->stop();                            // unlinks the socket file
//
// The socket file. Bound through net::UnixListener::bind (listen.bind: exact `mode`,
// default 0600, whatever the umask; `replace_stale`; `backlog`). With
// `listen.unlink_on_stop` (default) stop() removes the pathname before it closes the
// listener. Abstract addresses (UnixSocketAddr::from_abstract_name) have no file; anyone
// in the network namespace may connect to them. accept_mode must stay single (Linux has
// no SO_REUSEPORT for AF_UNIX): bind returns std::errc::invalid_argument otherwise.
#pragma once

#include "pollux/framework/stream_server.hpp"
