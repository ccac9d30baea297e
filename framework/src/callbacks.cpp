// framework/src/callbacks.cpp — internal: ConnectionHandler's default callbacks.
#include "pollux/framework/callbacks.hpp"

#include "pollux/framework/connection.hpp"

namespace pollux::framework {

void ConnectionHandler::on_read_closed(Connection& conn) { conn.close(); }

void ConnectionHandler::on_timeout(Connection& conn) { conn.close(CloseReason::idle_timeout); }

}  // namespace pollux::framework
