// perf/fairness/raw_echo.cpp — the baseline of the fairness benchmark: the smallest
// single-threaded echo server that is fair under flooding, in plain POSIX + epoll (no
// pollux), so that the framework's figures have a yardstick measured the same way.
//
//     raw_echo [--port P] [--cap BYTES] [--budget BYTES]
//              (defaults: port 0 = any free one, cap 8 MiB, budget 256 KiB)
//
// Listens on 127.0.0.1 and prints "listening on 127.0.0.1:PORT" (the same line as
// samples/echo_server), echoes every byte, and stops on SIGINT/SIGTERM (signalfd), then
// prints one line of counters.
//
// What it does, and nothing more:
//   * Edge-triggered epoll, every fd CLOEXEC|NONBLOCK, TCP_NODELAY, sends with
//     MSG_NOSIGNAL. Each socket is registered once for IN|OUT|RDHUP.
//   * Fairness. A readable connection goes on a ready list. One pass over the list reads
//     each connection until EAGAIN or until it has read `budget` bytes in this turn; a
//     connection that spent its budget goes to the back of the list and is revisited
//     after the others, with an epoll_wait(timeout 0) in between so that newly readable
//     connections (a ping among floods) join the list without waiting for the floods.
//   * Bounded output. Bytes the kernel does not take are queued per connection, in 64 KiB
//     chunks recycled through a free list (at most 4 MiB cached, like one pollux reactor's
//     pool; without it every queued byte would land on freshly faulted pages and the
//     baseline would be several times slower than the framework); the queue is flushed
//     with writev on EPOLLOUT. A queue that would exceed `cap` resets the connection
//     (SO_LINGER {1, 0}, then close): a peer that does not read would never get it anyway.
//   * A peer's EOF or error closes the connection at once (queued output is dropped).
//   * Memory goes back. When the last connection closes, malloc_trim(0) hands the freed
//     chunks back to the kernel (glibc keeps freed heap memory otherwise: after a burst of
//     100 slow consumers it kept ~480 MB), so the burst figures have a reference too.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
    int port = 0;
    std::size_t cap = 8 * 1024 * 1024;
    std::size_t budget = 256 * 1024;
};

void usage(std::FILE* out) {
    std::fprintf(out,
                 "usage: raw_echo [--port P] [--cap BYTES] [--budget BYTES]\n"
                 "  --port    TCP port on 127.0.0.1 (0: any free port; default 0)\n"
                 "  --cap     per-connection output queue cap; above it: reset (default 8388608)\n"
                 "  --budget  bytes read per connection per turn (default 262144)\n");
}

[[noreturn]] void bad_flag(std::string_view flag, std::string_view why) {
    std::fprintf(stderr, "raw_echo: bad flag %.*s: %.*s\n", static_cast<int>(flag.size()),
                 flag.data(), static_cast<int>(why.size()), why.data());
    usage(stderr);
    std::exit(2);
}

unsigned long long parse_number(std::string_view flag, const char* text, unsigned long long max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
        bad_flag(flag, "expects a number");
    }
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) bad_flag(a, "unknown flag or missing value");
        const char* v = argv[++i];
        if (a == "--port") {
            o.port = static_cast<int>(parse_number(a, v, 65535));
        } else if (a == "--cap") {
            o.cap = static_cast<std::size_t>(parse_number(a, v, 1ULL << 40));
        } else if (a == "--budget") {
            o.budget = static_cast<std::size_t>(parse_number(a, v, 1ULL << 40));
            if (o.budget == 0) bad_flag(a, "must be at least 1");
        } else {
            bad_flag(a, "unknown flag");
        }
    }
    return o;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "raw_echo: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// Fixed-size chunks, recycled; at most `max_cached` are kept when they come back.
class ChunkPool {
public:
    static constexpr std::size_t kChunk = 64 * 1024;
    explicit ChunkPool(std::size_t max_cached) : max_cached_(max_cached) {}
    ~ChunkPool() {
        for (char* p : free_) delete[] p;
    }
    ChunkPool(const ChunkPool&) = delete;
    ChunkPool& operator=(const ChunkPool&) = delete;

    char* take() {
        if (free_.empty()) return new char[kChunk];
        char* p = free_.back();
        free_.pop_back();
        return p;
    }
    void give(char* p) {
        if (free_.size() < max_cached_) {
            free_.push_back(p);
        } else {
            delete[] p;
        }
    }

private:
    std::vector<char*> free_;
    std::size_t max_cached_;
};

// A connection's queued output:
//
//     chunks_[0]          chunks_[1] ...        chunks_.back()
//     [ sent | queued ]   [ queued ]            [ queued | free ]
//             ^ head_                                     ^ tail_
class OutQueue {
public:
    std::size_t size() const { return size_; }

    void append(ChunkPool& pool, const char* data, std::size_t n) {
        size_ += n;
        while (n > 0) {
            if (chunks_.empty() || tail_ == ChunkPool::kChunk) {
                chunks_.push_back(pool.take());
                tail_ = 0;
            }
            const std::size_t k = std::min(n, ChunkPool::kChunk - tail_);
            std::memcpy(chunks_.back() + tail_, data, k);
            tail_ += k;
            data += k;
            n -= k;
        }
    }

    // Fills up to `max` slices with the queued bytes, in order; returns how many.
    std::size_t gather(iovec* iov, std::size_t max) const {
        std::size_t k = 0;
        for (std::size_t i = 0; i < chunks_.size() && k < max; ++i, ++k) {
            const std::size_t begin = i == 0 ? head_ : 0;
            const std::size_t end = i + 1 == chunks_.size() ? tail_ : ChunkPool::kChunk;
            iov[k].iov_base = chunks_[i] + begin;
            iov[k].iov_len = end - begin;
        }
        return k;
    }

    void consume(ChunkPool& pool, std::size_t n) {
        size_ -= n;
        head_ += n;
        while (!chunks_.empty()) {
            const std::size_t end = chunks_.size() == 1 ? tail_ : ChunkPool::kChunk;
            if (head_ < end) break;
            head_ -= end;
            pool.give(chunks_.front());
            chunks_.pop_front();
        }
        if (chunks_.empty()) head_ = tail_ = 0;
    }

    void clear(ChunkPool& pool) {
        for (char* p : chunks_) pool.give(p);
        chunks_.clear();
        size_ = head_ = tail_ = 0;
    }

private:
    std::deque<char*> chunks_;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
    std::size_t size_ = 0;
};

// One connection. Slots are indexed by fd; `gen` tells a reused fd from the old one for
// entries that are still on the ready list.
struct Conn {
    bool open = false;
    bool on_ready_list = false;
    std::uint32_t gen = 0;
    OutQueue out;
    std::size_t pending() const { return out.size(); }
};

struct ReadyEntry {
    int fd;
    std::uint32_t gen;
};

class Server {
public:
    Server(const Options& o, int listener, int sigfd, int ep)
        : opt_(o), listener_(listener), sigfd_(sigfd), ep_(ep), pool_(kPoolBytes / ChunkPool::kChunk),
          scratch_(64 * 1024) {}

    void run() {
        std::vector<epoll_event> events(256);
        while (!stop_) {
            // Block only when no connection still has budget-limited input waiting.
            const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                                     ready_.empty() ? -1 : 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                die("epoll_wait");
            }
            for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)]);
            serve_ready_list();
        }
    }

    void print_counters() const {
        std::printf("raw_echo: accepted %llu, resets at cap %llu, bytes echoed %llu\n",
                    static_cast<unsigned long long>(accepted_), static_cast<unsigned long long>(resets_),
                    static_cast<unsigned long long>(bytes_));
    }

private:
    void on_event(const epoll_event& ev) {
        const int fd = ev.data.fd;
        if (fd == listener_) return accept_all();
        if (fd == sigfd_) {
            stop_ = true;
            return;
        }
        if (static_cast<std::size_t>(fd) >= conns_.size() || !conns_[static_cast<std::size_t>(fd)].open) return;
        Conn& c = conns_[static_cast<std::size_t>(fd)];
        if ((ev.events & EPOLLOUT) != 0 && c.pending() != 0 && !flush(fd, c)) return;
        if ((ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !c.on_ready_list) {
            c.on_ready_list = true;
            ready_.push_back({fd, c.gen});
        }
    }

    void accept_all() {
        for (;;) {
            const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == EMFILE || errno == ENFILE) {
                    std::fprintf(stderr, "raw_echo: accept4: %s\n", std::strerror(errno));
                    return;  // edge-triggered: the next connection raises a new edge
                }
                die("accept4");
            }
            const int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
            Conn& c = conns_[static_cast<std::size_t>(fd)];
            c.open = true;
            c.on_ready_list = false;
            ++c.gen;
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            ev.data.fd = fd;
            if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
            ++accepted_;
            ++open_;
        }
    }

    // One pass over the connections that were on the list when the pass began; those
    // that spent their budget are appended again and wait for the next pass.
    void serve_ready_list() {
        for (std::size_t k = ready_.size(); k > 0 && !stop_; --k) {
            const ReadyEntry e = ready_.front();
            ready_.pop_front();
            Conn& c = conns_[static_cast<std::size_t>(e.fd)];
            if (!c.open || c.gen != e.gen) continue;
            c.on_ready_list = false;
            if (read_turn(e.fd, c)) {
                c.on_ready_list = true;
                ready_.push_back(e);
            }
        }
    }

    // Reads until EAGAIN or the budget; true when the budget ran out with the
    // connection still open (more input may be waiting).
    bool read_turn(int fd, Conn& c) {
        std::size_t left = opt_.budget;
        while (left > 0) {
            const std::size_t want = std::min(left, scratch_.size());
            const ssize_t n = recv(fd, scratch_.data(), want, 0);
            if (n > 0) {
                left -= static_cast<std::size_t>(n);
                if (!echo(fd, c, static_cast<std::size_t>(n))) return false;
                continue;
            }
            if (n == 0) return close_conn(fd, c, false);  // EOF
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
            return close_conn(fd, c, false);  // ECONNRESET and friends
        }
        return true;
    }

    // Writes scratch_[0, n) now, queues what the kernel does not take; false when the
    // connection was closed (error, or reset at the cap).
    bool echo(int fd, Conn& c, std::size_t n) {
        bytes_ += n;
        std::size_t done = 0;
        if (c.pending() == 0) {
            while (done < n) {
                const ssize_t w = send(fd, scratch_.data() + done, n - done, MSG_NOSIGNAL);
                if (w > 0) {
                    done += static_cast<std::size_t>(w);
                } else if (w < 0 && errno == EINTR) {
                    continue;
                } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    break;
                } else {
                    return close_conn(fd, c, false);
                }
            }
        }
        const std::size_t rest = n - done;
        if (rest == 0) return true;
        if (c.pending() + rest > opt_.cap) {
            ++resets_;
            return close_conn(fd, c, true);
        }
        c.out.append(pool_, scratch_.data() + done, rest);
        return true;
    }

    // Writes queued output until EAGAIN; false when the connection was closed.
    bool flush(int fd, Conn& c) {
        while (c.pending() != 0) {
            iovec iov[64];
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = c.out.gather(iov, 64);
            const ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (w > 0) {
                c.out.consume(pool_, static_cast<std::size_t>(w));
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return true;
            } else {
                return close_conn(fd, c, false);
            }
        }
        return true;
    }

    // Always returns false (the connection is gone), so callers can `return close_conn`.
    bool close_conn(int fd, Conn& c, bool reset) {
        if (reset) {
            const linger lg{1, 0};
            (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        (void)epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        c.open = false;
        c.on_ready_list = false;
        c.out.clear(pool_);
        if (--open_ == 0) (void)malloc_trim(0);
        return false;
    }

    Options opt_;
    int listener_;
    int sigfd_;
    int ep_;
    bool stop_ = false;
    static constexpr std::size_t kPoolBytes = 4 * 1024 * 1024;
    ChunkPool pool_;
    std::vector<char> scratch_;
    std::vector<Conn> conns_;
    std::deque<ReadyEntry> ready_;
    std::uint64_t accepted_ = 0;
    std::size_t open_ = 0;
    std::uint64_t resets_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) die("sigprocmask");
    const int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) die("signalfd");

    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    const int one = 1;
    (void)setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(listener, SOMAXCONN) != 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");

    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    for (const int fd : {listener, sigfd}) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET;
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    }

    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
    std::fflush(stdout);

    Server server(opt, listener, sigfd, ep);
    server.run();
    server.print_counters();
    return 0;
}
