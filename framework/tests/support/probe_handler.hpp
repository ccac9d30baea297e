// framework/tests/support/probe_handler.hpp — a ConnectionHandler that checks the
// callback contract while a test drives it.
//
// Every ProbeHandler made by `Probe::factory()` reports to one shared `Probe`:
// opens, closes (with reasons, via CloseLog), and any callback that arrives after its
// on_close or more than one on_close (`violations`). Behaviour is plugged in with the
// Probe's std::function members; unset ones fall back to ConnectionHandler's defaults.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "support/close_log.hpp"

namespace pollux::test {

struct Probe {
    std::function<void(framework::Connection&)> on_open;
    std::function<void(framework::Connection&, framework::Buffer&)> on_data;
    std::function<void(framework::Connection&)> on_read_closed;
    std::function<void(framework::Connection&)> on_high_water;
    std::function<void(framework::Connection&)> on_write_complete;
    std::function<void(framework::Connection&)> on_timeout;
    std::function<void(framework::Connection&)> on_deadline;
    std::function<void(framework::Connection&, framework::CloseReason)> on_close;

    std::atomic<int> opens{0};
    std::atomic<int> high_waters{0};
    std::atomic<int> write_completes{0};
    std::atomic<int> read_closes{0};
    std::atomic<int> timeouts{0};
    std::atomic<int> deadlines{0};
    std::atomic<int> violations{0};
    CloseLog closes;

    framework::HandlerFactory factory();
};

class ProbeHandler final : public framework::ConnectionHandler {
public:
    explicit ProbeHandler(Probe& p) : p_(p) {}
    void on_open(framework::Connection& c) override {
        check();
        ++p_.opens;
        if (p_.on_open) p_.on_open(c);
    }
    void on_data(framework::Connection& c, framework::Buffer& in) override {
        check();
        if (p_.on_data) {
            p_.on_data(c, in);
        } else {
            in.consume_all();
        }
    }
    void on_write_complete(framework::Connection& c) override {
        check();
        ++p_.write_completes;
        if (p_.on_write_complete) p_.on_write_complete(c);
    }
    void on_high_water(framework::Connection& c) override {
        check();
        ++p_.high_waters;
        if (p_.on_high_water) p_.on_high_water(c);
    }
    void on_read_closed(framework::Connection& c) override {
        check();
        ++p_.read_closes;
        if (p_.on_read_closed) {
            p_.on_read_closed(c);
        } else {
            ConnectionHandler::on_read_closed(c);
        }
    }
    void on_timeout(framework::Connection& c) override {
        check();
        ++p_.timeouts;
        if (p_.on_timeout) {
            p_.on_timeout(c);
        } else {
            ConnectionHandler::on_timeout(c);
        }
    }
    void on_deadline(framework::Connection& c) override {
        check();
        ++p_.deadlines;
        if (p_.on_deadline) {
            p_.on_deadline(c);
        } else {
            ConnectionHandler::on_deadline(c);
        }
    }
    void on_close(framework::Connection& c, framework::CloseReason r) override {
        check();
        closed_ = true;
        if (p_.on_close) p_.on_close(c, r);
        p_.closes.add(r);
    }

private:
    void check() {
        if (closed_) ++p_.violations;
    }
    Probe& p_;
    bool closed_ = false;
};

inline framework::HandlerFactory Probe::factory() {
    return [this](framework::Connection&) { return std::make_unique<ProbeHandler>(*this); };
}

}  // namespace pollux::test
