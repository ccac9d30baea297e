// framework/src/callbacks.cpp — internal: ConnectionHandler's default callbacks and the
// lambda flavour's shared handler.
#include "pollux/framework/callbacks.hpp"

#include "pollux/framework/connection.hpp"

namespace pollux::framework {

void ConnectionHandler::on_read_closed(Connection& conn) { conn.close(); }

void ConnectionHandler::on_timeout(Connection& conn) { conn.close(CloseReason::idle_timeout); }

void ConnectionHandler::on_deadline(Connection& conn) { conn.close(CloseReason::deadline); }

namespace detail {

void CallbackHandler::on_open(Connection& c) {
    if (cb_.on_open) cb_.on_open(c);
}

void CallbackHandler::on_data(Connection& c, Buffer& in) {
    if (cb_.on_data) {
        cb_.on_data(c, in);
    } else {
        in.consume_all();
    }
}

void CallbackHandler::on_write_complete(Connection& c) {
    if (cb_.on_write_complete) cb_.on_write_complete(c);
}

void CallbackHandler::on_high_water(Connection& c) {
    if (cb_.on_high_water) cb_.on_high_water(c);
}

void CallbackHandler::on_read_closed(Connection& c) {
    if (cb_.on_read_closed) {
        cb_.on_read_closed(c);
    } else {
        ConnectionHandler::on_read_closed(c);
    }
}

void CallbackHandler::on_timeout(Connection& c) {
    if (cb_.on_timeout) {
        cb_.on_timeout(c);
    } else {
        ConnectionHandler::on_timeout(c);
    }
}

void CallbackHandler::on_deadline(Connection& c) {
    if (cb_.on_deadline) {
        cb_.on_deadline(c);
    } else {
        ConnectionHandler::on_deadline(c);
    }
}

void CallbackHandler::on_close(Connection& c, CloseReason r) {
    if (cb_.on_close) cb_.on_close(c, r);
}

}  // namespace detail

}  // namespace pollux::framework
