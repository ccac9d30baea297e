// samples/http_server/http_app.hpp — the HTTP server: a TcpServer whose connections run
// an http::Session each (http_session.hpp).
//
//     http::AppConfig config;                      // limits, timeouts
//     auto app = http::App::bind(addr, server_options, config);
//     if (!app) ...;                               // e.g. "Address already in use"
//     (*app)->run_until_signal();
//
// Per reactor the app keeps what every connection of that reactor shares, written by
// that reactor only:
//   * the Date header, formatted once a second by a timer (never per request);
//   * the output string a batch of responses is built in, reused, so a request costs
//     no allocation;
//   * counters (requests, writes) that /metrics adds to the framework's metrics.
// One read batch -> one Session::on_input -> one send: the responses to pipelined
// requests leave in one write. The header deadline is the connection's deadline
// (Connection::set_deadline), armed at a head's first byte: a trickling client is
// answered 408 and closed when it passes, whatever it sends meanwhile.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http_session.hpp"
#include "pollux/core/result.hpp"
#include "pollux/framework/metrics.hpp"
#include "pollux/framework/tcp_server.hpp"

namespace pollux::samples::http {

struct AppConfig {
    Limits limits{};
    std::size_t max_requests = 1000;                        // per connection
    std::chrono::milliseconds header_timeout{10'000};       // from a head's first byte
    std::chrono::milliseconds keepalive_timeout{60'000};    // idle between requests (0: off)
};

class App {
public:
    static Result<std::unique_ptr<App>> bind(const net::SocketAddr& addr, framework::TcpServerOptions options,
                                             AppConfig config);

    Result<void> start() { return server_->start(); }
    Result<void> stop(std::chrono::milliseconds grace = framework::TcpServer::kDefaultStopGrace) {
        return server_->stop(grace);
    }
    Result<void> run_until_signal() { return server_->run_until_signal(); }

    framework::TcpServer& server() noexcept { return *server_; }
    const net::SocketAddr& local_addr() const noexcept { return server_->local_addr(); }
    // The framework's metrics in Prometheus text, then the app's counters.
    void render_metrics(std::string& out) const;

    // One reactor's share (see the header comment). Reactor i's thread only, except the
    // counters, which any thread may read.
    struct alignas(64) PerReactor {
        Stamp stamp;  // the Date and the canned responses of this second
        std::string out;
        framework::Counter requests;
        framework::Counter writes;
        void refresh_date();
    };
    PerReactor& reactor_state(std::size_t i) noexcept { return *per_reactor_[i]; }
    const AppConfig& config() const noexcept { return config_; }
    const SessionConfig& session_config() const noexcept { return session_config_; }

private:
    App(AppConfig config, std::unique_ptr<framework::TcpServer> server);

    AppConfig config_;
    SessionConfig session_config_;
    std::vector<std::unique_ptr<PerReactor>> per_reactor_;
    std::unique_ptr<framework::TcpServer> server_;  // last: stopped (and its handlers gone) first
};

}  // namespace pollux::samples::http
