// samples/reliability/server_process.hpp — a sample server as a child process for the
// reliability checks: started on 127.0.0.1:0 (the port read from its "listening on"
// line), observed through /proc, stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pollux::samples::reliability {

struct ServerProcess {
    pid_t pid = -1;
    int out = -1;            // its stdout
    std::uint16_t port = 0;  // 0: it did not start
};

// argv[0] is the binary. Waits up to 10 s for the "listening on ADDR:PORT" line.
ServerProcess start_server(const std::vector<std::string>& argv);
// SIGTERM, then waits up to 15 s (SIGKILL after); the exit status, or -1.
int stop_server(ServerProcess& s);
std::size_t rss_of(pid_t pid);       // VmRSS in bytes
std::size_t open_fds_of(pid_t pid);  // entries of /proc/PID/fd
// A connected TCP socket to 127.0.0.1:port (blocking with 10 s timeouts, or non-blocking
// with the connect in progress); -1 on error.
int connect_loopback(std::uint16_t port, bool blocking = true);

}  // namespace pollux::samples::reliability
