// framework/src/limit_log.cpp — internal: the warning for a connection closed for a
// limit (ConnectionHost::log_limit_close_in_loop). Off the data path: Connection::finish
// calls it only for CloseReason::limit.
#include <new>
#include <string>

#include "connection_host.hpp"

namespace pollux::framework {

void ConnectionHost::log_limit_close_in_loop(const Connection& conn, Connection::Ending ending,
                                             std::size_t dropped) noexcept {
    if (!log_enabled(LogLevel::warn)) return;
    const auto unreported = limit_log_.admit(LogRateLimit::Clock::now());
    if (!unreported) return;
    try {
        std::string peer = "a unix stream peer";
        if (const net::TcpStream* tcp = conn.tcp_stream()) {
            auto addr = tcp->peer_addr();
            peer = addr ? addr->to_string() : "an unknown peer";
        }
        std::string line = "connection with " + peer + " on reactor " + std::to_string(reactor_.index()) +
                           " closed for a limit: ";
        if (ending == Connection::Ending::output_cap) {
            line += "its output queue would pass max_output (" + std::to_string(options_.max_output) + " bytes); " +
                    std::to_string(dropped) + " queued bytes dropped with a reset";
        } else if (ending == Connection::Ending::abortive) {
            line += "the application aborted it (" + std::to_string(dropped) + " queued bytes dropped with a reset)";
        } else {
            line += "its unconsumed input passed max_input (" + std::to_string(options_.max_input) + " bytes)";
        }
        if (*unreported != 0) {
            line += "; " + std::to_string(*unreported) + (*unreported == 1 ? " more limit close" : " more limit closes") +
                    " on this reactor since the last report";
        }
        log(LogLevel::warn, line);
    } catch (const std::bad_alloc&) {
        // No memory for the text: the close itself goes on, unreported.
    }
}

}  // namespace pollux::framework
