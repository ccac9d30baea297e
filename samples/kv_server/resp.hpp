// samples/kv_server/resp.hpp — RESP2 requests in, RESP2 replies out (the Redis protocol).
//
// A request is an array of bulk strings, as every Redis client sends it:
//
//     *3\r\n $3\r\nSET\r\n $3\r\nkey\r\n $5\r\nvalue\r\n
//
// or an inline command, a line of space-separated words ("PING\r\n"), as typed into
// telnet. `parse_request` reads one request at the start of contiguous bytes without
// copying: the arguments are views into those bytes. Every length is checked against its
// limit before anything waits for (or would allocate) that many bytes, as Redis does:
// multibulk count <= max_args, bulk length <= max_bulk, inline line <= max_inline. A
// malformed request is an error that names what is wrong, in Redis's words ("Protocol
// error: invalid bulk length"); the server replies with it and closes.
//
// Replies are appended to a std::string by the small writers below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pollux::samples::kv {

struct RespLimits {
    std::size_t max_bulk = std::size_t{512} << 20;  // Redis's proto-max-bulk-len
    std::size_t max_args = 1024 * 1024;             // Redis's multibulk limit
    std::size_t max_inline = 64 * 1024;             // Redis's inline limit
};

enum class RespParse : std::uint8_t { complete, incomplete, error };

struct RespRequest {
    std::vector<std::string_view> args;  // views into the input; reused between requests
    std::size_t size = 0;                // bytes of the request in the input
};

struct RespResult {
    RespParse parse = RespParse::incomplete;
    std::string_view error;  // for RespParse::error: the message, without "-ERR "
};

RespResult parse_request(std::string_view bytes, const RespLimits& limits, RespRequest& request);

// Reply writers.
inline void reply_ok(std::string& out) { out.append("+OK\r\n"); }
inline void reply_simple(std::string& out, std::string_view s) { out.append("+").append(s).append("\r\n"); }
inline void reply_error(std::string& out, std::string_view message) { out.append("-").append(message).append("\r\n"); }
void reply_integer(std::string& out, std::int64_t v);
void reply_bulk(std::string& out, std::string_view s);
inline void reply_nil(std::string& out) { out.append("$-1\r\n"); }
void reply_array_header(std::string& out, std::size_t n);

}  // namespace pollux::samples::kv
