// samples/kv_server/resp.cpp — the RESP2 request parser and reply writers (resp.hpp).
#include "resp.hpp"

#include <charconv>
#include <cstring>

namespace pollux::samples::kv {

namespace {

// An inline command: words separated by spaces (Redis also takes quotes; this server does
// not, and treats them as ordinary characters).
RespResult parse_inline(std::string_view bytes, const RespLimits& limits, RespRequest& request) {
    const std::size_t look = bytes.size() < limits.max_inline ? bytes.size() : limits.max_inline;
    const auto* nl = static_cast<const char*>(std::memchr(bytes.data(), '\n', look));
    if (nl == nullptr) {
        if (bytes.size() >= limits.max_inline) return {RespParse::error, "Protocol error: too big inline request"};
        return {};
    }
    const std::size_t len = static_cast<std::size_t>(nl - bytes.data());
    std::string_view line = bytes.substr(0, len);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    request.args.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) request.args.push_back(line.substr(start, i - start));
    }
    request.size = len + 1;
    return {RespParse::complete, {}};
}

}  // namespace

// The integer line at `p` (after '*' or '$'): optional '-', 1 to 18 digits, CRLF. Returns
// the bytes it took (digits and CRLF), 0 while incomplete, -1 when malformed.
long read_count(const char* p, const char* end, std::int64_t& v) {
    const char* q = p;
    bool negative = false;
    if (q < end && *q == '-') {
        negative = true;
        ++q;
    }
    v = 0;
    const char* digits = q;
    while (q < end && *q >= '0' && *q <= '9') {
        if (q - digits == 18) return -1;
        v = v * 10 + (*q - '0');
        ++q;
    }
    if (q == end) return q - p > 20 ? -1 : 0;  // the line is still arriving
    if (q == digits || *q != '\r') return -1;
    if (q + 1 == end) return 0;
    if (q[1] != '\n') return -1;
    if (negative) v = -v;
    return q + 2 - p;
}

RespResult parse_request(std::string_view bytes, const RespLimits& limits, RespRequest& request) {
    if (bytes.empty()) return {};
    if (bytes.front() != '*') return parse_inline(bytes, limits, request);
    const char* const base = bytes.data();
    const char* const end = base + bytes.size();

    std::int64_t count = 0;
    long n = read_count(base + 1, end, count);
    if (n == 0) return {};
    if (n < 0 || count > static_cast<std::int64_t>(limits.max_args))
        return {RespParse::error, "Protocol error: invalid multibulk length"};
    const char* p = base + 1 + n;
    request.args.clear();
    if (count <= 0) {  // an empty request: skipped, as Redis does
        request.size = static_cast<std::size_t>(p - base);
        return {RespParse::complete, {}};
    }
    // No reserve(count): a header claiming a million arguments allocates nothing until
    // they arrive (the vector grows with what is parsed, and is reused).
    for (std::int64_t i = 0; i < count; ++i) {
        if (p == end) return {};
        if (*p != '$') return {RespParse::error, "Protocol error: expected '$'"};
        std::int64_t len = 0;
        n = read_count(p + 1, end, len);
        if (n == 0) return {};
        if (n < 0 || len < 0 || static_cast<std::uint64_t>(len) > limits.max_bulk)
            return {RespParse::error, "Protocol error: invalid bulk length"};
        p += 1 + n;
        const auto size = static_cast<std::size_t>(len);
        if (static_cast<std::size_t>(end - p) < size + 2) return {};  // the bulk is still arriving
        if (p[size] != '\r' || p[size + 1] != '\n') return {RespParse::error, "Protocol error: bad bulk string end"};
        request.args.emplace_back(p, size);
        p += size + 2;
    }
    request.size = static_cast<std::size_t>(p - base);
    return {RespParse::complete, {}};
}

void reply_integer(std::string& out, std::int64_t v) {
    char buf[24];
    out.push_back(':');
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    out.append("\r\n");
}

void reply_bulk(std::string& out, std::string_view s) {
    char buf[24];
    out.push_back('$');
    out.append(buf, std::to_chars(buf, buf + sizeof buf, s.size()).ptr);
    out.append("\r\n");
    out.append(s);
    out.append("\r\n");
}

void reply_array_header(std::string& out, std::size_t n) {
    char buf[24];
    out.push_back('*');
    out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
    out.append("\r\n");
}

}  // namespace pollux::samples::kv
