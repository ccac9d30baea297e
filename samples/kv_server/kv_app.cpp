// samples/kv_server/kv_app.cpp — the sharded key-value server (kv_app.hpp).
#include "kv_app.hpp"

#include <functional>
#include <utility>

#include "pollux/framework/callbacks.hpp"
#include "pollux/framework/connection.hpp"
#include "session.hpp"

namespace pollux::samples::kv {

namespace {

using framework::Buffer;
using framework::Connection;

constexpr std::size_t kKeepOutput = 256 * 1024;       // a larger reply string is given back
constexpr std::chrono::milliseconds kExpiryPeriod{100};
constexpr std::size_t kExpiryBudget = 1000;

class Handler final : public framework::ConnectionHandler, private Router {
public:
    Handler(App& app, std::size_t home) : app_(app), home_(home), session_(app.config().limits, *this, home, app.store(home)) {}

    void on_open(Connection& conn) override { ref_ = conn.ref(); }

    void on_data(Connection& conn, Buffer& in) override {
        std::string& out = app_.output(home_);
        out.clear();
        const SessionOutcome o =
            session_.on_input(std::string_view(reinterpret_cast<const char*>(in.readable().data()), in.readable_size()), out);
        in.consume(o.consumed);
        write(conn, out);
        if (o.close) return conn.close();
        // A request begun and not complete: its deadline runs from the read that began
        // it (a read that completed requests began the one left over).
        const auto timeout = app_.config().request_timeout;
        if (in.empty()) conn.clear_deadline();
        else if (timeout.count() != 0 && (o.consumed != 0 || !conn.has_deadline())) conn.set_deadline(timeout);
    }

    // A shard's answers, on this connection's reactor.
    void on_answers(Connection& conn, const BatchResult& result) {
        std::string& out = app_.output(home_);
        out.clear();
        session_.apply(result, out);
        write(conn, out);
        if (session_.closing() && session_.pending() == 0) conn.close();
    }

private:
    void write(Connection& conn, std::string& out) {
        if (out.empty()) return;
        conn.send(out);  // every reply that became ready: one write
        if (out.capacity() > kKeepOutput) std::string().swap(out);
    }

    std::size_t shard_count() const noexcept override { return app_.shard_count(); }
    std::size_t shard_of(std::string_view key) const noexcept override { return app_.shard_of(key); }
    void send(std::size_t shard, std::unique_ptr<Batch> batch) override {
        App* app = &app_;
        // Runs on the owner shard's reactor, then answers through the connection's ref.
        (void)app_.server().pool().post(shard, [app, shard, ref = ref_, b = std::move(batch)]() mutable {
            auto result = std::make_unique<BatchResult>(run_batch(app->store(shard), *b, now_ms()));
            (void)ref.dispatch([r = std::move(result)](Connection& c) {
                static_cast<Handler&>(c.handler()).on_answers(c, *r);
            });
        });
    }

    App& app_;
    const std::size_t home_;
    Session session_;
    framework::ConnectionRef ref_;
};

}  // namespace

App::App(AppConfig config, std::unique_ptr<framework::TcpServer> server)
    : config_(std::move(config)), server_(std::move(server)) {}

std::size_t App::shard_of(std::string_view key) const noexcept {
    if (shards_.size() == 1) return 0;  // no hash when there is one shard
    return std::hash<std::string_view>{}(key) % shards_.size();
}

Result<std::unique_ptr<App>> App::bind(const net::SocketAddr& addr, framework::TcpServerOptions options,
                                       AppConfig config) {
    // Input holds at most one request being received (a bulk of up to max_bulk) plus
    // what a client pipelined after it.
    options.connection.max_input = config.limits.max_bulk + 64 * 1024;
    options.connection.idle_timeout = config.idle_timeout;
    auto server = framework::TcpServer::bind(addr, options);
    if (!server) return std::unexpected(server.error());
    std::unique_ptr<App> app(new App(std::move(config), std::move(*server)));
    framework::TcpServer& s = *app->server_;
    for (std::size_t i = 0; i < s.pool().size(); ++i) {
        app->shards_.push_back(std::make_unique<Shard>());
        Store* store = &app->shards_.back()->store;
        // Before start() this thread counts as every reactor's loop thread.
        s.pool().reactor(i).run_every_in_loop(kExpiryPeriod, [store] { (void)store->expire_some(now_ms(), kExpiryBudget); });
    }
    App* a = app.get();
    s.set_handler_factory([a](Connection& conn) -> std::unique_ptr<framework::ConnectionHandler> {
        return std::make_unique<Handler>(*a, conn.reactor().index());
    });
    return app;
}

}  // namespace pollux::samples::kv
