// samples/http_server/http_app.cpp — the HTTP server on the framework (http_app.hpp).
#include "http_app.hpp"

#include <ctime>
#include <utility>

#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"

namespace pollux::samples::http {

namespace {

using framework::Buffer;
using framework::CloseReason;
using framework::Connection;

// A reply string that grew past this (a large /echo) is given back after its batch.
constexpr std::size_t kKeepOutput = 256 * 1024;

std::string_view text_of(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class Handler final : public framework::ConnectionHandler {
public:
    Handler(App& app, App::PerReactor& shared) noexcept : app_(app), shared_(shared), session_(app.session_config()) {}

    void on_data(Connection& conn, Buffer& in) override {
        std::string& out = shared_.out;
        out.clear();
        const Outcome o = session_.on_input(text_of(in.readable()), shared_.stamp, out);
        in.consume(o.consumed);
        finish(conn, o, out);
    }

    void on_deadline(Connection& conn) override {
        std::string& out = shared_.out;
        out.clear();
        (void)session_.on_header_timeout(shared_.stamp, out);  // a 408, closing
        if (!out.empty()) {
            shared_.writes.add();
            conn.send(out);
        }
        conn.close(CloseReason::deadline);
    }

private:
    void finish(Connection& conn, const Outcome& o, std::string& out) {
        if (o.responses != 0) shared_.requests.add(o.responses);
        if (!out.empty()) {
            shared_.writes.add();  // counted before the peer can see the write
            conn.send(out);        // the batch's responses: one write
            if (out.capacity() > kKeepOutput) std::string().swap(out);
        }
        if (o.deadline == Outcome::Deadline::arm) {
            conn.set_deadline(app_.config().header_timeout);
        } else if (o.deadline == Outcome::Deadline::clear) {
            conn.clear_deadline();
        }
        if (o.close) conn.close();
    }

    App& app_;
    App::PerReactor& shared_;
    Session session_;
};

}  // namespace

void App::PerReactor::refresh_date() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char date[40];
    const std::size_t n = std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    stamp.set(std::string_view(date, n));
}

App::App(AppConfig config, std::unique_ptr<framework::TcpServer> server)
    : config_(std::move(config)), server_(std::move(server)) {
    session_config_.limits = config_.limits;
    session_config_.max_requests = config_.max_requests;
    session_config_.metrics = [this](std::string& text) { render_metrics(text); };
}

Result<std::unique_ptr<App>> App::bind(const net::SocketAddr& addr, framework::TcpServerOptions options,
                                       AppConfig config) {
    // The framework's own limits sit above the HTTP ones, which answer with a status
    // first: input holds at most one head and one body (plus what a client pipelined).
    options.connection.max_input = config.limits.max_head + config.limits.max_body + 64 * 1024;
    options.connection.idle_timeout = config.keepalive_timeout;
    auto server = framework::TcpServer::bind(addr, options);
    if (!server) return std::unexpected(server.error());
    std::unique_ptr<App> app(new App(std::move(config), std::move(*server)));
    framework::TcpServer& s = *app->server_;
    for (std::size_t i = 0; i < s.pool().size(); ++i) {
        auto shared = std::make_unique<PerReactor>();
        shared->refresh_date();
        shared->out.reserve(16 * 1024);
        PerReactor* p = shared.get();
        // Before start() this thread counts as every reactor's loop thread.
        s.pool().reactor(i).run_every_in_loop(std::chrono::seconds(1), [p] { p->refresh_date(); });
        app->per_reactor_.push_back(std::move(shared));
    }
    App* a = app.get();
    s.set_handler_factory([a](Connection& conn) -> std::unique_ptr<framework::ConnectionHandler> {
        return std::make_unique<Handler>(*a, *a->per_reactor_[conn.reactor().index()]);
    });
    return app;
}

void App::render_metrics(std::string& out) const {
    server_->metrics().render_prometheus(out);
    const auto family = [&](const char* name, const char* help, framework::Counter PerReactor::*field) {
        out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" counter\n");
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < per_reactor_.size(); ++i) {
            const std::uint64_t v = ((*per_reactor_[i]).*field).load();
            total += v;
            out.append(name).append("{reactor=\"").append(std::to_string(i)).append("\"} ").append(std::to_string(v));
            out.push_back('\n');
        }
        out.append(name).append(" ").append(std::to_string(total)).append("\n");
    };
    family("pollux_http_requests_total", "HTTP requests answered.", &PerReactor::requests);
    family("pollux_http_writes_total", "Writes of response batches (one per read batch).", &PerReactor::writes);
}

}  // namespace pollux::samples::http
