// samples/http_server/http_session.hpp — one HTTP/1.1 connection's protocol, without I/O.
//
// The session turns the bytes a connection received into responses. It owns no socket
// and no timer: the caller (http_handler.hpp, the fuzz target, the tests) hands it the
// unconsumed input and an output string, and acts on the Outcome:
//
//     Outcome o = session.on_input(in.readable(), stamp, out);
//     in.consume(o.consumed);        // complete requests (and a closing one's rest)
//     conn.send(out);                // every response of the batch: one write
//     o.deadline: arm / clear the header deadline; o.close: close after the write
//
// Per request: parse the head (http_request.hpp), read the body (Content-Length: when
// all of it is in; chunked: decoded as it comes), route, append the response. Pipelined
// requests are answered in order, all in the same `out`. Limits answer with their
// status and close: 431 (head > max_head), 413 (body > max_body), 400 (malformed, CL
// with TE, conflicting CL, bad chunk), 501 (a transfer coding other than chunked), 505,
// 417, and 408 from on_header_timeout. A connection answers at most `max_requests`
// requests; the last one says "Connection: close". `Expect: 100-continue` gets its 100
// before the body is read.
//
// Routes: GET|HEAD /plaintext ("Hello, World!"), GET|HEAD /json
// ({"message":"Hello, World!"}), GET|HEAD /metrics (the text `metrics` renders, as
// Prometheus text 0.0.4), POST /echo (the body back); 405 with Allow for another method
// on those paths, 404 elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "http_request.hpp"

namespace pollux::samples::http {

// What the responses of one reactor share during one second: the Date value, and the
// complete responses of the two hot routes (GET /plaintext and GET /json on a kept-alive
// HTTP/1.1 connection) with that date in them, so that answering one is a single copy.
// Rebuilt by set() once a second (App's timer); never per request.
class Stamp {
public:
    Stamp() { set("Thu, 01 Jan 1970 00:00:00 GMT"); }
    explicit Stamp(std::string_view date) { set(date); }
    void set(std::string_view date);
    std::string_view date() const noexcept { return date_; }
    std::string_view plaintext() const noexcept { return plaintext_; }
    std::string_view json() const noexcept { return json_; }

private:
    std::string date_;
    std::string plaintext_;
    std::string json_;
};

struct SessionConfig {
    Limits limits{};
    std::size_t max_requests = 1000;
    // Appends the /metrics body; null answers /metrics with an empty body.
    std::function<void(std::string&)> metrics;
};

struct Outcome {
    enum class Deadline : std::uint8_t { keep, arm, clear };
    std::size_t consumed = 0;  // bytes of the input the caller may drop
    std::size_t responses = 0; // responses appended (100 Continue not counted)
    Deadline deadline = Deadline::keep;  // the header deadline: a request head has begun / completed
    bool close = false;        // close the connection once `out` is written
};

class Session {
public:
    explicit Session(const SessionConfig& config) noexcept : config_(&config) {}

    // `in`: every byte received and not yet consumed. Appends responses to `out`.
    Outcome on_input(std::string_view in, const Stamp& stamp, std::string& out);
    // The header deadline passed with a request head incomplete: appends a 408 and
    // asks to close.
    Outcome on_header_timeout(const Stamp& stamp, std::string& out);

    std::size_t requests() const noexcept { return requests_; }
    bool closing() const noexcept { return phase_ == Phase::closing; }

private:
    enum class Phase : std::uint8_t { head, body, chunked, closing };
    enum class Route : std::uint8_t { plaintext, json, metrics, echo, not_found, get_only, post_only };

    void respond(std::string_view body, const Stamp& stamp, std::string& out);
    void fail(int status, std::string_view reason, std::string_view date, std::string& out);

    const SessionConfig* config_;
    Phase phase_ = Phase::head;
    bool deadline_armed_ = false;
    // The request whose body is being read (the head's views are gone by then).
    Route route_ = Route::not_found;
    bool head_only_ = false;
    bool keep_alive_ = true;
    int minor_version_ = 1;
    std::uint64_t body_left_ = 0;
    ChunkedDecoder chunked_;
    std::string body_;  // a chunked body, decoded
    std::size_t requests_ = 0;
};

}  // namespace pollux::samples::http
