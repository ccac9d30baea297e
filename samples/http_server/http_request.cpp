// samples/http_server/http_request.cpp — the request parser (http_request.hpp).
#include "http_request.hpp"

#include <cstring>

namespace pollux::samples::http {

namespace {

// tchar (RFC 9110 5.6.2): the characters of a method or a field name.
struct TokenTable {
    bool yes[256] = {};
    constexpr TokenTable() {
        for (int c = '0'; c <= '9'; ++c) yes[c] = true;
        for (int c = 'A'; c <= 'Z'; ++c) yes[c] = true;
        for (int c = 'a'; c <= 'z'; ++c) yes[c] = true;
        for (char c : std::string_view("!#$%&'*+-.^_`|~")) yes[static_cast<unsigned char>(c)] = true;
    }
};
constexpr TokenTable kToken;

bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!kToken.yes[static_cast<unsigned char>(c)]) return false;
    return true;
}

// field-value characters: VCHAR, obs-text, SP, HTAB (no other control character).
bool is_field_value(std::string_view s) noexcept {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 ? c != '\t' : c == 0x7f) return false;
    }
    return true;
}

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    if (a.size() != lower_b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower_b[i]) return false;
    return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Method method_of(std::string_view m) noexcept {
    switch (m.size()) {
        case 3:
            if (m == "GET") return Method::get;
            if (m == "PUT") return Method::put;
            break;
        case 4:
            if (m == "HEAD") return Method::head;
            if (m == "POST") return Method::post;
            break;
        case 5:
            if (m == "PATCH") return Method::patch;
            break;
        case 6:
            if (m == "DELETE") return Method::del;
            break;
        case 7:
            if (m == "OPTIONS") return Method::options;
            break;
        default:
            break;
    }
    return Method::other;
}

// 1*DIGIT, at most 18 digits (no overflow). False otherwise.
bool parse_decimal(std::string_view s, std::uint64_t& v) noexcept {
    if (s.empty() || s.size() > 18) return false;
    v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

// The path of a request-target: origin-form "/p?q" -> "/p"; absolute-form
// "http://host/p?q" -> "/p" ("/" when it has none); "*" stays "*". Empty: not a target.
std::string_view path_of(std::string_view target) noexcept {
    if (target.front() != '/' && target != "*") {
        const auto scheme = target.find("://");
        if (scheme == std::string_view::npos || scheme == 0) return {};
        const auto slash = target.find('/', scheme + 3);
        if (slash == std::string_view::npos) return "/";
        target.remove_prefix(slash);
    }
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] == '?' || target[i] == '#') return target.substr(0, i);
    }
    return target;
}

HeadResult fail(int status, std::string_view reason) noexcept { return {Parse::error, status, reason}; }

// Each "Connection" token: close, keep-alive.
void read_connection(std::string_view v, bool& close, bool& keep) noexcept {
    while (!v.empty()) {
        const auto comma = v.find(',');
        const std::string_view token = trim_ows(v.substr(0, comma));
        if (iequals(token, "close")) close = true;
        if (iequals(token, "keep-alive")) keep = true;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
}

}  // namespace

// Word-at-a-time scanning (8 bytes per step): the first byte in [p, end) that is below
// `n` (n <= 0x80) or is DEL. Bytes >= 0x80 (obs-text) pass. Returns end if none.
template <std::uint8_t N>
const char* find_below_or_del(const char* p, const char* end) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull;
    constexpr std::uint64_t kHigh = 0x8080808080808080ull;
    // Flags every byte < N or == 0x7f; the lowest flag is exact (the borrow of the
    // subtraction only runs upwards), so its index is the first such byte.
    const auto flags = [](std::uint64_t x) {
        const std::uint64_t y = x ^ (kOnes * 0x7f);
        return ((x - kOnes * N) & ~x & kHigh) | ((y - kOnes) & ~y & kHigh);
    };
    while (end - p >= 8) {
        std::uint64_t x;
        std::memcpy(&x, p, 8);
        if (const std::uint64_t f = flags(x)) return p + (__builtin_ctzll(f) >> 3);
        p += 8;
    }
    if (p == end) return end;
    // The tail, padded with zero bytes, which flag as "below N" past the end.
    std::uint64_t x = 0;
    std::memcpy(&x, p, static_cast<std::size_t>(end - p));
    const std::size_t at = static_cast<std::size_t>(__builtin_ctzll(flags(x)) >> 3);
    return at < static_cast<std::size_t>(end - p) ? p + at : end;
}

// The fields the server acts on, matched by length first (most names are neither).
enum class Field : std::uint8_t { other, content_length, transfer_encoding, connection, expect, host };

Field field_of(std::string_view name) noexcept {
    const char first = lower(name.front());
    switch (name.size()) {
        case 4: return first == 'h' && iequals(name, "host") ? Field::host : Field::other;
        case 6: return first == 'e' && iequals(name, "expect") ? Field::expect : Field::other;
        case 10: return first == 'c' && iequals(name, "connection") ? Field::connection : Field::other;
        case 14: return first == 'c' && iequals(name, "content-length") ? Field::content_length : Field::other;
        case 17: return first == 't' && iequals(name, "transfer-encoding") ? Field::transfer_encoding : Field::other;
        default: return Field::other;
    }
}

HeadResult parse_head(std::string_view bytes, const Limits& limits, RequestHead& head) noexcept {
    // One pass over at most max_head bytes. Running off `end` means "incomplete" while
    // fewer than max_head bytes have arrived, "too large" once that many have.
    const bool capped = bytes.size() >= limits.max_head;
    const char* const base = bytes.data();
    const char* const end = base + (capped ? limits.max_head : bytes.size());
    const auto more = [capped](int status, std::string_view reason) -> HeadResult {
        return capped ? fail(status, reason) : HeadResult{};
    };
    const char* p = base;

    // The request line: method SP request-target SP HTTP-version CRLF.
    const char* const method_begin = p;
    while (p < end && kToken.yes[static_cast<unsigned char>(*p)]) ++p;
    if (p == end) return more(414, "request line too long");
    if (*p != ' ' || p == method_begin) return fail(400, "bad request line");
    const std::string_view method(method_begin, static_cast<std::size_t>(p - method_begin));
    const char* const target_begin = ++p;
    p = find_below_or_del<0x21>(p, end);  // the target ends at SP; a CTL is an error
    if (p == end) return more(414, "request line too long");
    if (*p != ' ' || p == target_begin) return fail(400, "bad request line");
    const std::string_view target(target_begin, static_cast<std::size_t>(p - target_begin));
    ++p;
    if (end - p < 10) return more(414, "request line too long");  // "HTTP/1.1\r\n" still arriving
    if (std::memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
        return fail(400, "bad version");
    if (p[8] != '\r' || p[9] != '\n') return fail(400, "bad line ending");
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) return fail(505, "version not supported");
    head.minor_version = p[7] - '0';
    p += 10;
    head.method = method_of(method);
    head.target = target;
    head.path = path_of(target);
    if (head.path.empty()) return fail(400, "bad request target");
    head.chunked = false;
    head.has_content_length = false;
    head.content_length = 0;
    head.expect_continue = false;

    // Fields, up to the blank line: name ":" OWS value OWS CRLF.
    bool close = false;
    bool keep = false;
    int hosts = 0;
    int encodings = 0;
    for (;;) {
        if (p == end) return more(431, "request header fields too large");
        if (*p == '\r') {
            if (p + 1 == end) return more(431, "request header fields too large");
            if (p[1] != '\n') return fail(400, "bad line ending");
            p += 2;
            break;  // the blank line: the head is complete
        }
        const char* const name_begin = p;
        while (p < end && kToken.yes[static_cast<unsigned char>(*p)]) ++p;
        if (p == end) return more(431, "request header fields too large");
        if (*p != ':' || p == name_begin) {
            return fail(400, *name_begin == ' ' || *name_begin == '\t' ? "obsolete line folding" : "bad header field");
        }
        const std::string_view name(name_begin, static_cast<std::size_t>(p - name_begin));
        ++p;
        while (p < end && (*p == ' ' || *p == '\t')) ++p;
        const char* const value_begin = p;
        for (;;) {
            p = find_below_or_del<0x20>(p, end);  // HTAB is the one control allowed
            if (p < end && *p == '\t') {
                ++p;
                continue;
            }
            break;
        }
        if (p == end || (p + 1 == end && *p == '\r')) return more(431, "request header fields too large");
        if (*p != '\r' || p[1] != '\n') return fail(400, *p == '\r' || *p == '\n' ? "bad line ending" : "bad header field");
        const char* value_end = p;  // leading OWS is already skipped; drop the trailing
        while (value_end > value_begin && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
        const std::string_view value(value_begin, static_cast<std::size_t>(value_end - value_begin));
        p += 2;
        switch (field_of(name)) {
            case Field::content_length: {
                std::uint64_t n = 0;
                if (!parse_decimal(value, n)) return fail(400, "bad content-length");
                if (head.has_content_length && n != head.content_length) return fail(400, "conflicting content-length");
                head.has_content_length = true;
                head.content_length = n;
                break;
            }
            case Field::connection:
                read_connection(value, close, keep);
                break;
            case Field::transfer_encoding:
                if (++encodings > 1 || !iequals(value, "chunked")) return fail(501, "transfer coding not implemented");
                head.chunked = true;
                break;
            case Field::expect:
                if (!iequals(value, "100-continue")) return fail(417, "expectation failed");
                head.expect_continue = true;
                break;
            case Field::host:
                ++hosts;
                break;
            case Field::other:
                break;
        }
    }
    if (head.chunked && head.has_content_length) return fail(400, "content-length with transfer-encoding");
    if (head.minor_version == 1 && hosts != 1) return fail(400, "HTTP/1.1 needs one host");
    if (hosts > 1) return fail(400, "more than one host");
    head.keep_alive = head.minor_version == 1 ? !close : keep && !close;
    head.size = static_cast<std::size_t>(p - base);
    return {Parse::complete, 0, {}};
}

// One element of a chunked body that is not chunk data: a chunk-size line, the CRLF after
// the data, or a trailer line. Returns the bytes consumed, 0 when the line is incomplete.
std::size_t ChunkedDecoder::feed_line(std::string_view bytes, std::size_t max_body) noexcept {
    constexpr std::size_t kMaxLine = 4096;
    const std::size_t look = bytes.size() < kMaxLine ? bytes.size() : kMaxLine;
    const auto* nl = static_cast<const char*>(std::memchr(bytes.data(), '\n', look));
    const auto error = [this](int status) {
        state_ = State::error;
        error_status_ = status;
        return std::size_t{1};
    };
    if (nl == nullptr) return bytes.size() >= kMaxLine ? error(400) : 0;
    const auto end = static_cast<std::size_t>(nl - bytes.data());
    if (end == 0 || bytes[end - 1] != '\r') return error(400);
    std::string_view line = bytes.substr(0, end - 1);
    switch (state_) {
        case State::size_line: {
            // chunk-size [ chunk-ext ]: 1*HEXDIG, then ";..." extensions, ignored.
            const auto semi = line.find(';');
            const std::string_view digits = trim_ows(line.substr(0, semi));
            if (semi != std::string_view::npos && !is_field_value(line.substr(semi))) return error(400);
            if (digits.empty() || digits.size() > 15) return error(400);
            std::uint64_t size = 0;
            for (char c : digits) {
                int d = -1;
                if (c >= '0' && c <= '9') d = c - '0';
                if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
                if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
                if (d < 0) return error(400);
                size = size * 16 + static_cast<std::uint64_t>(d);
            }
            if (total_ + size > max_body) return error(413);
            total_ += size;
            remaining_ = size;
            state_ = size == 0 ? State::trailer : State::data;
            break;
        }
        case State::data_end:
            if (!line.empty()) return error(400);
            state_ = State::size_line;
            break;
        case State::trailer: {
            if (line.empty()) {
                state_ = State::done;
                break;
            }
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) ||
                !is_field_value(line.substr(colon + 1)))
                return error(400);
            break;
        }
        default:
            return error(400);
    }
    return end + 1;
}

}  // namespace pollux::samples::http
