// framework/src/lambda_handler.hpp — internal.
//
// The handler behind TcpServer::on_data(...) & co: one object shared by every
// connection of a server, calling the lambdas that were set (or the defaults).
// Stateless apart from the callbacks, so sharing it across reactors is safe as long as
// the lambdas themselves are (they run on several reactor threads at once).
#pragma once

#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"

namespace pollux::framework {

class LambdaHandler final : public ConnectionHandler {
public:
    explicit LambdaHandler(const ConnectionCallbacks& callbacks) noexcept : cb_(callbacks) {}

    void on_open(Connection& c) override {
        if (cb_.on_open) cb_.on_open(c);
    }
    void on_data(Connection& c, Buffer& in) override {
        if (cb_.on_data) {
            cb_.on_data(c, in);
        } else {
            in.consume_all();
        }
    }
    void on_write_complete(Connection& c) override {
        if (cb_.on_write_complete) cb_.on_write_complete(c);
    }
    void on_high_water(Connection& c) override {
        if (cb_.on_high_water) cb_.on_high_water(c);
    }
    void on_read_closed(Connection& c) override {
        if (cb_.on_read_closed) {
            cb_.on_read_closed(c);
        } else {
            ConnectionHandler::on_read_closed(c);
        }
    }
    void on_timeout(Connection& c) override {
        if (cb_.on_timeout) {
            cb_.on_timeout(c);
        } else {
            ConnectionHandler::on_timeout(c);
        }
    }
    void on_close(Connection& c, CloseReason r) override {
        if (cb_.on_close) cb_.on_close(c, r);
    }

private:
    const ConnectionCallbacks& cb_;
};

}  // namespace pollux::framework
