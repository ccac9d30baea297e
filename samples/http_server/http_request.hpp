// samples/http_server/http_request.hpp — the HTTP/1.1 request parser of the sample.
//
// Two pieces, both over contiguous bytes and both free of allocation:
//
//   parse_head(bytes)   the request line and the header fields, once the blank line that
//                       ends them is in `bytes` (RFC 9112 section 2-5). Incomplete: ask
//                       again with more bytes. The fields the server acts on are decoded
//                       (method, target, version, Content-Length, Transfer-Encoding,
//                       Connection, Expect, Host); the others are validated and skipped.
//   ChunkedDecoder      a chunked request body (RFC 9112 section 7.1), fed in pieces.
//
// Strict where leniency is an attack surface (request smuggling, RFC 9112 11.2): a
// line ends in CRLF (a bare LF or CR is an error); no whitespace between a field name
// and its colon; no obs-fold; Content-Length is 1*DIGIT and every copy must agree;
// Content-Length together with Transfer-Encoding is an error; the only transfer coding
// is "chunked"; HTTP/1.1 needs exactly one Host. Every error carries the status code to
// answer with (400, 414, 417, 431, 501, 505).
//
// Why not libhttp-parser (Debian's nodejs http_parser 2.9.4): it costs about 1,700
// instructions for a 49-byte GET by itself (callgrind, with no callbacks), more than this
// server's whole budget per request; this parser scans with memchr and takes a few
// hundred. samples/http_server/README.md has the figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pollux::samples::http {

enum class Method : std::uint8_t { get, head, post, put, del, options, patch, other };

struct Limits {
    std::size_t max_head = 8 * 1024;     // request line + fields + blank line
    std::size_t max_body = 1024 * 1024;  // decoded body
};

struct RequestHead {
    Method method = Method::other;
    std::string_view target;           // as sent (origin-form "/path?q", "*", or absolute-form)
    std::string_view path;             // the path of target, without the query
    int minor_version = 1;             // HTTP/1.<minor>: 0 or 1
    bool keep_alive = true;            // after Connection and the version's default
    bool chunked = false;              // Transfer-Encoding: chunked
    bool has_content_length = false;
    std::uint64_t content_length = 0;
    bool expect_continue = false;      // Expect: 100-continue
    std::size_t size = 0;              // bytes of the head, blank line included
};

enum class Parse : std::uint8_t { complete, incomplete, error };

struct HeadResult {
    Parse parse = Parse::incomplete;
    int status = 0;              // for Parse::error: the response status
    std::string_view reason;     // for Parse::error: a short reason for the body
};

// Parses the head at the start of `bytes`. Views in `head` point into `bytes`.
HeadResult parse_head(std::string_view bytes, const Limits& limits, RequestHead& head) noexcept;

// A chunked body, fed in pieces: each call consumes what it can (a whole chunk-size
// line, data, a CRLF, trailer lines) and appends decoded data through `sink`.
class ChunkedDecoder {
public:
    enum class State : std::uint8_t { size_line, data, data_end, trailer, done, error };

    void reset() noexcept { *this = ChunkedDecoder{}; }
    // Consumes from `bytes` and returns how many were consumed; `sink(std::string_view)`
    // receives decoded data. Stops at `done` (the final CRLF consumed), at an error, or
    // when `bytes` runs out mid-element (then call again with those bytes and more).
    template <class Sink>
    std::size_t feed(std::string_view bytes, std::size_t max_body, Sink&& sink) noexcept;

    State state() const noexcept { return state_; }
    int error_status() const noexcept { return error_status_; }
    std::uint64_t body_size() const noexcept { return total_; }

private:
    std::size_t feed_line(std::string_view bytes, std::size_t max_body) noexcept;

    State state_ = State::size_line;
    std::uint64_t remaining_ = 0;  // data bytes left in the current chunk
    std::uint64_t total_ = 0;      // decoded so far
    int error_status_ = 0;
};

template <class Sink>
std::size_t ChunkedDecoder::feed(std::string_view bytes, std::size_t max_body, Sink&& sink) noexcept {
    std::size_t used = 0;
    while (used < bytes.size() && state_ != State::done && state_ != State::error) {
        if (state_ == State::data) {
            const std::size_t n = remaining_ < bytes.size() - used ? static_cast<std::size_t>(remaining_)
                                                                   : bytes.size() - used;
            sink(bytes.substr(used, n));
            used += n;
            remaining_ -= n;
            if (remaining_ == 0) state_ = State::data_end;
            continue;
        }
        const std::size_t n = feed_line(bytes.substr(used), max_body);
        if (n == 0) break;  // the line is not complete yet
        used += n;
    }
    return used;
}

}  // namespace pollux::samples::http
