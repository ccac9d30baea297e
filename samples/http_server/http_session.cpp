// samples/http_server/http_session.cpp — the protocol of one connection (http_session.hpp).
#include "http_session.hpp"

#include <charconv>

namespace pollux::samples::http {

namespace {

constexpr std::string_view kPlaintext = "Hello, World!";
constexpr std::string_view kJson = R"({"message":"Hello, World!"})";

std::string_view reason_of(int status) noexcept {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 501: return "Not Implemented";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
    }
}

enum class Conn : std::uint8_t { none, keep_alive, close };

// One response: status line, Server, Date, Content-Type, Content-Length, [Connection],
// [extra header line], blank line, body (unless `head_only`).
void write_response(std::string& out, int status, std::string_view content_type, std::string_view body,
                    bool head_only, Conn conn, std::string_view date, std::string_view extra = {}) {
    char num[24];
    out.append("HTTP/1.1 ");
    out.append(num, std::to_chars(num, num + sizeof num, status).ptr);
    out.push_back(' ');
    out.append(reason_of(status));
    out.append("\r\nServer: pollux\r\nDate: ");
    out.append(date);
    out.append("\r\nContent-Type: ");
    out.append(content_type);
    out.append("\r\nContent-Length: ");
    out.append(num, std::to_chars(num, num + sizeof num, body.size()).ptr);
    if (conn == Conn::close) out.append("\r\nConnection: close");
    if (conn == Conn::keep_alive) out.append("\r\nConnection: keep-alive");
    out.append(extra);
    out.append("\r\n\r\n");
    if (!head_only) out.append(body);
}

}  // namespace

void Stamp::set(std::string_view date) {
    date_.assign(date);
    plaintext_.clear();
    json_.clear();
    write_response(plaintext_, 200, "text/plain", kPlaintext, false, Conn::none, date_);
    write_response(json_, 200, "application/json", kJson, false, Conn::none, date_);
}

void Session::fail(int status, std::string_view reason, std::string_view date, std::string& out) {
    std::string body(reason);
    body.push_back('\n');
    write_response(out, status, "text/plain", body, false, Conn::close, date);
    phase_ = Phase::closing;
}

// Answers the request described by route_/head_only_/keep_alive_ with `body` (the
// request's body, for /echo).
void Session::respond(std::string_view body, const Stamp& stamp, std::string& out) {
    ++requests_;
    const bool last = !keep_alive_ || requests_ >= config_->max_requests;
    const Conn conn = last ? Conn::close : (minor_version_ == 0 ? Conn::keep_alive : Conn::none);
    if (conn == Conn::none && !head_only_) {  // the hot routes: one copy of the canned response
        if (route_ == Route::plaintext) return (void)out.append(stamp.plaintext());
        if (route_ == Route::json) return (void)out.append(stamp.json());
    }
    const std::string_view date = stamp.date();
    switch (route_) {
        case Route::plaintext:
            write_response(out, 200, "text/plain", kPlaintext, head_only_, conn, date);
            break;
        case Route::json:
            write_response(out, 200, "application/json", kJson, head_only_, conn, date);
            break;
        case Route::metrics: {
            std::string text;
            if (config_->metrics) config_->metrics(text);
            write_response(out, 200, "text/plain; version=0.0.4", text, head_only_, conn, date);
            break;
        }
        case Route::echo:
            write_response(out, 200, "application/octet-stream", body, false, conn, date);
            break;
        case Route::get_only:
            write_response(out, 405, "text/plain", "method not allowed\n", head_only_, conn, date,
                           "\r\nAllow: GET, HEAD");
            break;
        case Route::post_only:
            write_response(out, 405, "text/plain", "method not allowed\n", head_only_, conn, date, "\r\nAllow: POST");
            break;
        case Route::not_found:
            write_response(out, 404, "text/plain", "not found\n", head_only_, conn, date);
            break;
    }
    if (last) phase_ = Phase::closing;
}

Outcome Session::on_input(std::string_view in, const Stamp& stamp, std::string& out) {
    const std::string_view date = stamp.date();
    Outcome o;
    std::size_t pos = 0;
    const auto finish = [&](std::size_t consumed) {
        o.consumed = consumed;
        o.close = phase_ == Phase::closing;
        return o;
    };
    for (;;) {
        switch (phase_) {
            case Phase::closing:
                return finish(in.size());  // nothing after a closing response is read

            case Phase::head: {
                if (pos == in.size()) {
                    if (deadline_armed_) {
                        deadline_armed_ = false;
                        o.deadline = Outcome::Deadline::clear;
                    }
                    return finish(pos);
                }
                RequestHead head;
                const HeadResult r = parse_head(in.substr(pos), config_->limits, head);
                if (r.parse == Parse::incomplete) {
                    // A head has begun: the header deadline runs from its first byte.
                    if (!deadline_armed_) {
                        deadline_armed_ = true;
                        o.deadline = Outcome::Deadline::arm;
                    }
                    return finish(pos);
                }
                if (deadline_armed_) {
                    deadline_armed_ = false;
                    o.deadline = Outcome::Deadline::clear;
                }
                if (r.parse == Parse::error) {
                    fail(r.status, r.reason, date, out);
                    ++o.responses;
                    return finish(in.size());
                }
                pos += head.size;
                head_only_ = head.method == Method::head;
                keep_alive_ = head.keep_alive;
                minor_version_ = head.minor_version;
                const bool readable = head.method == Method::get || head.method == Method::head;
                if (head.path == "/plaintext") {
                    route_ = readable ? Route::plaintext : Route::get_only;
                } else if (head.path == "/json") {
                    route_ = readable ? Route::json : Route::get_only;
                } else if (head.path == "/metrics") {
                    route_ = readable ? Route::metrics : Route::get_only;
                } else if (head.path == "/echo") {
                    route_ = head.method == Method::post ? Route::echo : Route::post_only;
                } else {
                    route_ = Route::not_found;
                }
                if (head.chunked) {
                    chunked_.reset();
                    body_.clear();
                    phase_ = Phase::chunked;
                } else if (head.content_length > config_->limits.max_body) {
                    fail(413, "request body too large", date, out);
                    ++o.responses;
                    return finish(in.size());
                } else if (head.content_length > 0) {
                    body_left_ = head.content_length;
                    phase_ = Phase::body;
                } else {
                    respond({}, stamp, out);
                    ++o.responses;
                    continue;
                }
                if (head.expect_continue && in.size() == pos) out.append("HTTP/1.1 100 Continue\r\n\r\n");
                continue;
            }

            case Phase::body: {
                if (in.size() - pos < body_left_) return finish(pos);  // wait for all of it
                const auto n = static_cast<std::size_t>(body_left_);
                phase_ = Phase::head;
                respond(in.substr(pos, n), stamp, out);
                ++o.responses;
                pos += n;
                continue;
            }

            case Phase::chunked: {
                pos += chunked_.feed(in.substr(pos), config_->limits.max_body,
                                     [this](std::string_view data) { body_.append(data); });
                if (chunked_.state() == ChunkedDecoder::State::error) {
                    fail(chunked_.error_status(), chunked_.error_status() == 413 ? "request body too large"
                                                                                 : "bad chunked body",
                         date, out);
                    ++o.responses;
                    return finish(in.size());
                }
                if (chunked_.state() != ChunkedDecoder::State::done) return finish(pos);
                phase_ = Phase::head;
                respond(body_, stamp, out);
                ++o.responses;
                body_.clear();
                body_.shrink_to_fit();  // do not keep a large body per idle connection
                continue;
            }
        }
    }
}

Outcome Session::on_header_timeout(const Stamp& stamp, std::string& out) {
    const std::string_view date = stamp.date();
    Outcome o;
    if (phase_ == Phase::closing) {
        o.close = true;
        return o;
    }
    fail(408, "request header timeout", date, out);
    deadline_armed_ = false;
    o.responses = 1;
    o.close = true;
    return o;
}

}  // namespace pollux::samples::http
