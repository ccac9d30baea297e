// samples/reliability/server_process.cpp — see server_process.hpp.
#include "server_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

extern char** environ;

namespace pollux::samples::reliability {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

ServerProcess start_server(const std::vector<std::string>& args) {
    ServerProcess s;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return s;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&s.pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) s.pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    s.out = p[0];
    std::string line;
    const auto end = Clock::now() + 10s;
    while (s.pid > 0 && line.find('\n') == std::string::npos && Clock::now() < end) {
        pollfd pf{s.out, POLLIN, 0};
        if (::poll(&pf, 1, 100) != 1) continue;
        char buf[256];
        const ssize_t r = ::read(s.out, buf, sizeof buf);
        if (r <= 0) break;
        line.append(buf, static_cast<std::size_t>(r));
    }
    const auto colon = line.rfind(':');
    if (line.rfind("listening on", 0) == 0 && colon != std::string::npos)
        s.port = static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
    return s;
}

int stop_server(ServerProcess& s) {
    if (s.pid <= 0) return -1;
    ::kill(s.pid, SIGTERM);
    int status = 0;
    const auto end = Clock::now() + 15s;
    while (::waitpid(s.pid, &status, WNOHANG) == 0) {
        if (Clock::now() > end) {
            ::kill(s.pid, SIGKILL);
            ::waitpid(s.pid, &status, 0);
            status = -1;
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    ::close(s.out);
    s.pid = -1;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::size_t rss_of(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/status";
    std::size_t kb = 0;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "VmRSS: %zu kB", &kb) == 1) break;
        std::fclose(f);
    }
    return kb * 1024;
}

std::size_t open_fds_of(pid_t pid) {
    std::size_t n = 0;
    const std::string path = "/proc/" + std::to_string(pid) + "/fd";
    if (DIR* d = ::opendir(path.c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
    }
    return n;
}

int connect_loopback(std::uint16_t port, bool blocking) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    if (blocking) {
        timeval tv{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    return fd;
}

}  // namespace pollux::samples::reliability
