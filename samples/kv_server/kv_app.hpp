// samples/kv_server/kv_app.hpp — the key-value server: a TcpServer whose reactors are
// also the shards of the key space, as in Seastar's memcached.
//
//     auto app = kv::App::bind(addr, server_options, kv::AppConfig{});
//     (*app)->run_until_signal();
//
// Each reactor owns one Store (store.hpp) and touches no other. A key belongs to shard
// hash(key) % reactors. A connection's Session (session.hpp) runs its own shard's parts
// inline; for every other shard it collects the parts of one read into one Batch and
// posts it to that shard's reactor, which runs them and posts the answers back to the
// connection (ConnectionRef::dispatch: dropped if the connection has gone). Replies
// leave in request order; the replies a read produced at once leave in one write.
// A timer on each reactor removes expired keys (at most 1,000 per 100 ms per shard);
// reads never see an expired key either way.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pollux/core/result.hpp"
#include "pollux/framework/tcp_server.hpp"
#include "resp.hpp"
#include "store.hpp"

namespace pollux::samples::kv {

struct AppConfig {
    RespLimits limits{};
    // From a request's first byte to its last, absolute: a client trickling a request
    // (or stopping half-way) is closed with CloseReason::deadline. 0: no bound.
    std::chrono::milliseconds request_timeout{60'000};
    // Between requests (Redis's `timeout`). 0: none, as in Redis.
    std::chrono::milliseconds idle_timeout{0};
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

    std::size_t shard_count() const noexcept { return shards_.size(); }
    std::size_t shard_of(std::string_view key) const noexcept;
    // Reactor `i`'s thread only.
    Store& store(std::size_t i) noexcept { return shards_[i]->store; }
    std::string& output(std::size_t i) noexcept { return shards_[i]->out; }
    const AppConfig& config() const noexcept { return config_; }

private:
    struct alignas(64) Shard {
        Store store;
        std::string out;  // the reply batch being built, reused
    };
    App(AppConfig config, std::unique_ptr<framework::TcpServer> server);

    AppConfig config_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::unique_ptr<framework::TcpServer> server_;  // last: stopped first
};

}  // namespace pollux::samples::kv
