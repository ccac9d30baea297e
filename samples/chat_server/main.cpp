// samples/chat_server — a line-based chat room on the framework: every line a client
// sends goes to every connected client (the sender too), on every reactor.
//
//     chat_server [--listen ADDR:PORT] [--reactors N] [--max-queue BYTES]
//                 [--max-line BYTES] [--idle-timeout-ms MS]
//
// The room is sharded per reactor, like everything else in pollux: reactor i keeps the
// list of its own open connections, touched only on its thread. A read that ends in
// one or more complete lines is one broadcast:
//
//     on_data (reactor r): the complete lines of this read, as one block
//        |-- reactor r's members: conn->send(block)        (now, in this call)
//        `-- every other reactor s: Reactor::post(deliver(s, block))
//                                   (one copy of the block, shared by the posts)
//
// Order: a client's lines reach every client in the order it sent them (a read's
// block is delivered whole; posts from one thread to one reactor run in order). Lines
// of different clients may interleave differently for clients on different reactors.
//
// Slow clients are cut, never queued without bound: a client whose output queue
// reaches --max-queue bytes (the connection's high-water mark; the kernel's socket
// buffers are already full by then) is aborted with a reset and CloseReason::limit,
// and one line "cut CLIENT: ..." goes to stdout. The others never wait for it: a send
// to it only appends to its queue. So the server holds at most about --max-queue plus
// one block per client, whatever a client does. (What is not bounded: blocks posted to
// a reactor that falls behind the others wait in its task queue until it runs them;
// there is one copy per read, shared by every reactor it was posted to.)
//
// A line longer than --max-line bytes (counted to its newline) is refused: the client
// gets "error: line longer than N bytes" and is closed. Prints "listening on ADDR",
// serves until SIGINT or SIGTERM, then stops gracefully.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <pollux/framework/tcp_server.hpp>

#include "cli.hpp"

using namespace pollux::framework;
namespace cli = pollux::samples::cli;

namespace {

// The clients of one reactor; used on that reactor's thread only. A member's index in
// `members` is kept in its Connection::context, so leaving is a swap with the last.
struct alignas(64) Shard {
    std::vector<Connection*> members;
};

class Room {
public:
    Room(pollux::reactor::ReactorPool& pool, std::size_t max_line) : pool_(pool), shards_(pool.size()), max_line_(max_line) {}

    void join(Connection& conn) {
        auto& members = shards_[conn.reactor().index()].members;
        conn.set_context(reinterpret_cast<void*>(members.size()));
        members.push_back(&conn);
    }

    void leave(Connection& conn) {
        auto& members = shards_[conn.reactor().index()].members;
        const auto i = reinterpret_cast<std::uintptr_t>(conn.context());
        if (i >= members.size() || members[i] != &conn) return;  // never joined
        members[i] = members.back();
        members[i]->set_context(reinterpret_cast<void*>(i));
        members.pop_back();
    }

    void on_data(Connection& conn, Buffer& in) {
        // Whole lines up to the last newline of this read; the rest waits for more.
        std::size_t end = 0;
        while (auto eol = in.find_eol(end)) {
            if (*eol - end > max_line_) return refuse(conn, in);
            end = *eol + 1;
        }
        if (in.readable_size() - end > max_line_) return refuse(conn, in);  // no newline in sight
        if (end == 0) return;
        broadcast(conn.reactor().index(), in.readable().first(end));
        in.consume(end);
    }

    void cut(Connection& conn) {
        std::string who = "a client";
        if (const auto* tcp = conn.tcp_stream()) {
            if (auto peer = tcp->peer_addr()) who = peer->to_string();
        }
        std::printf("cut %s: %zu bytes queued, --max-queue reached\n", who.c_str(), conn.output_size());
        std::fflush(stdout);
        conn.abort(CloseReason::limit);
    }

private:
    void refuse(Connection& conn, Buffer& in) {
        conn.send("error: line longer than " + std::to_string(max_line_) + " bytes\n");
        conn.close();
        in.consume_all();
    }

    void broadcast(std::size_t from, std::span<const std::byte> block) {
        deliver(from, block);
        if (shards_.size() == 1) return;
        auto copy = std::make_shared<const std::vector<std::byte>>(block.begin(), block.end());
        for (std::size_t s = 0; s < shards_.size(); ++s) {
            if (s == from) continue;
            // False only while the server stops: then nobody is left to read it anyway.
            (void)pool_.reactor(s).post([this, s, copy] { deliver(s, *copy); });
        }
    }

    // On reactor s: every open member gets the block. A send that takes a member's
    // queue to the high-water mark calls cut(), which aborts it; its on_close (and so
    // leave()) comes after this loop, in the reactor's deferred phase.
    void deliver(std::size_t s, std::span<const std::byte> block) {
        for (Connection* c : shards_[s].members) {
            if (c->is_open()) c->send(block);
        }
    }

    pollux::reactor::ReactorPool& pool_;
    std::vector<Shard> shards_;
    const std::size_t max_line_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A line-based chat room on the pollux framework: every line to every client.", "chat_server"};
    std::string listen = "127.0.0.1:9004";
    std::size_t reactors = 0;
    std::size_t max_queue = 1024 * 1024;
    std::size_t max_line = 4096;
    std::uint64_t idle_timeout_ms = 0;
    cli::add_address(app, "--listen", listen, "IPv4 or [IPv6] address and port (port 0: a free one)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--reactors", reactors, 1, 1024, "reactor threads (default: one per core)");
    cli::add_number<std::size_t>(app, "--max-queue", max_queue, 4096, std::size_t{1} << 30,
                                 "output bytes queued for one client at which it is cut (a reset)")
        ->capture_default_str();
    cli::add_number<std::size_t>(app, "--max-line", max_line, 1, 1024 * 1024,
                                 "longest line; a longer one is answered with an error and a close")
        ->capture_default_str();
    cli::add_number<std::uint64_t>(app, "--idle-timeout-ms", idle_timeout_ms, 0, 86'400'000,
                                   "close a client silent for this long (0: never)")
        ->capture_default_str();
    if (auto status = cli::parse(app, argc, argv)) return *status;

    auto addr = pollux::net::SocketAddr::parse(listen);
    if (!addr) {
        cli::fail("chat_server", "--listen: " + listen, addr.error());
        return cli::kExitUsage;
    }
    TcpServerOptions options;
    if (reactors != 0) options.reactors = reactors;
    options.connection.high_water_mark = max_queue;
    // Never reached in practice (the high-water mark cuts first); a single block that
    // jumps over both is cut by the framework instead, with the same reset.
    options.connection.max_output = 2 * max_queue + 2 * max_line + 256 * 1024;
    // max_input stays at its default (1 MiB): the framework checks it on what one read
    // brings, before on_data has consumed the whole lines, and one read with a partial
    // line left over fills the input's tail plus the 64 KiB scratch. --max-line is
    // enforced in on_data instead.
    options.connection.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
    auto bound = TcpServer::bind(*addr, options);
    if (!bound) return cli::fail("chat_server", addr->to_string(), bound.error());
    TcpServer& server = **bound;

    // run_until_signal stops the server (its reactors joined, every on_close delivered)
    // before `room` goes out of scope.
    Room room(server.pool(), max_line);
    server.on_open([&room](Connection& conn) { room.join(conn); });
    server.on_data([&room](Connection& conn, Buffer& in) { room.on_data(conn, in); });
    server.on_high_water([&room](Connection& conn) { room.cut(conn); });
    server.on_close([&room](Connection& conn, CloseReason) { room.leave(conn); });

    std::printf("listening on %s\n", server.local_addr().to_string().c_str());
    std::fflush(stdout);
    auto ran = server.run_until_signal();
    if (!ran) return cli::fail("chat_server", "run", ran.error());
    const auto total = server.metrics().total();
    std::printf("connections %llu, bytes in %llu, bytes out %llu, cut %llu\n",
                static_cast<unsigned long long>(total.connections_accepted),
                static_cast<unsigned long long>(total.bytes_in), static_cast<unsigned long long>(total.bytes_out),
                static_cast<unsigned long long>(total.closed(CloseReason::limit)));
    return 0;
}
