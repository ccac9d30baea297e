// samples/echo_server — the framework echo server: every byte received is sent back.
//
//     echo_server [port] [reactors]     (defaults: 9000, one reactor per core)
//
// Listens on 127.0.0.1 (port 0 picks a free one; the line "listening on ADDR" says which)
// until SIGINT or SIGTERM, then stops gracefully and prints how the connections spread
// over the reactors, plus the full metrics in the Prometheus text format.
#include <cstdio>
#include <string>

#include <pollux/framework/tcp_server.hpp>

using namespace pollux::framework;

int main(int argc, char** argv) {
    std::string port = argc > 1 ? argv[1] : "9000";
    TcpServerOptions options;
    if (argc > 2) options.reactors = std::stoul(argv[2]);
    auto addr = pollux::net::SocketAddr::parse("127.0.0.1:" + port).value();
    auto server = TcpServer::bind(addr, options).value();

    server->on_data([](Connection& conn, Buffer& in) {
        conn.send(in.readable());
        in.consume_all();
    });

    std::printf("listening on %s\n", server->local_addr().to_string().c_str());
    std::fflush(stdout);
    bool ok = server->run_until_signal().has_value();

    // The spread, then everything else the server counted.
    auto snap = server->metrics().snapshot();
    for (std::size_t i = 0; i < snap.reactors.size(); ++i) {
        std::printf("reactor %zu: connections %llu, bytes in %llu, bytes out %llu\n", i,
                    static_cast<unsigned long long>(snap.reactors[i].connections_accepted),
                    static_cast<unsigned long long>(snap.reactors[i].bytes_in),
                    static_cast<unsigned long long>(snap.reactors[i].bytes_out));
    }
    std::string text;
    server->metrics().render_prometheus(text);
    std::fputs(text.c_str(), stdout);
    return ok ? 0 : 1;
}
