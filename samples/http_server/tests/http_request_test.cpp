// The request parser: heads, every error with its status, chunked bodies fed in pieces.
#include "http_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pollux::samples::http {
namespace {

HeadResult parse(std::string_view text, RequestHead& head, Limits limits = {}) {
    return parse_head(text, limits, head);
}

int status_of(std::string_view text, Limits limits = {}) {
    RequestHead head;
    const HeadResult r = parse(text, head, limits);
    return r.parse == Parse::error ? r.status : (r.parse == Parse::complete ? 0 : -1);
}

TEST(HttpRequest, a_wrk_style_get_parses_with_its_path_version_and_size) {
    const std::string text = "GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\nNEXT";
    RequestHead head;
    ASSERT_EQ(parse(text, head).parse, Parse::complete);
    EXPECT_EQ(head.method, Method::get);
    EXPECT_EQ(head.target, "/plaintext?x=1");
    EXPECT_EQ(head.path, "/plaintext");
    EXPECT_EQ(head.minor_version, 1);
    EXPECT_TRUE(head.keep_alive);
    EXPECT_FALSE(head.chunked);
    EXPECT_EQ(head.size, text.size() - 4);
}

TEST(HttpRequest, every_prefix_of_a_valid_head_is_incomplete_never_an_error) {
    const std::string text =
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A: b\r\n\r\n";
    for (std::size_t n = 0; n < text.size(); ++n) {
        EXPECT_EQ(status_of(text.substr(0, n)), -1) << "prefix of " << n;
    }
    RequestHead head;
    ASSERT_EQ(parse(text, head).parse, Parse::complete);
    EXPECT_TRUE(head.has_content_length);
    EXPECT_EQ(head.content_length, 5u);
}

TEST(HttpRequest, http_1_0_keeps_alive_only_when_asked_and_1_1_until_told_to_close) {
    RequestHead head;
    ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", head).parse, Parse::complete);
    EXPECT_FALSE(head.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head).parse, Parse::complete);
    EXPECT_TRUE(head.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", head).parse, Parse::complete);
    EXPECT_FALSE(head.keep_alive);
}

TEST(HttpRequest, smuggling_shapes_are_rejected_with_400) {
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"), 0);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 4\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\n"), 400);  // space before colon
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"), 400);            // obs-fold
    EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: a\n\n"), 400);                                 // bare LF
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);               // bare CR
    static constexpr char kNul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    EXPECT_EQ(status_of(std::string_view(kNul, sizeof kNul - 1)), 400);                     // NUL in a value
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
}

TEST(HttpRequest, request_line_and_host_errors_have_their_status) {
    EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(status_of("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);                       // no Host
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 0);                         // 1.0: Host optional
    EXPECT_EQ(status_of("GET nope HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET http://example.com/x?y HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n"), 417);
}

TEST(HttpRequest, heads_over_the_limit_are_431_and_request_lines_414_even_before_they_end) {
    Limits small;
    small.max_head = 64;
    const std::string fields = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(100, 'v');
    EXPECT_EQ(status_of(fields, small), 431);             // no blank line yet: still 431
    EXPECT_EQ(status_of(fields + "\r\n\r\n", small), 431);
    EXPECT_EQ(status_of("GET /" + std::string(100, 'p'), small), 414);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n", small), 0);
}

TEST(HttpRequest, a_chunked_body_decodes_the_same_however_it_is_split) {
    const std::string wire = "5;ext=1\r\nHello\r\n7\r\n, World\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        ChunkedDecoder d;
        std::string body;
        const auto sink = [&](std::string_view s) { body.append(s); };
        std::string pending = wire.substr(0, split);
        std::size_t used = d.feed(pending, 1024, sink);
        pending = pending.substr(used) + wire.substr(split);
        used = d.feed(pending, 1024, sink);
        ASSERT_EQ(d.state(), ChunkedDecoder::State::done) << "split at " << split;
        EXPECT_EQ(body, "Hello, World!");
        EXPECT_EQ(pending.substr(used), "NEXT");
    }
}

TEST(HttpRequest, bad_chunks_are_400_and_a_chunked_body_over_the_limit_413) {
    const auto end_state = [](std::string_view wire, std::size_t max_body) {
        ChunkedDecoder d;
        (void)d.feed(wire, max_body, [](std::string_view) {});
        return d.state() == ChunkedDecoder::State::error ? d.error_status() : 0;
    };
    EXPECT_EQ(end_state("zz\r\nabc\r\n", 100), 400);
    EXPECT_EQ(end_state("3\r\nabcX\r\n", 100), 400);        // no CRLF after the data
    EXPECT_EQ(end_state("3\nabc\r\n", 100), 400);           // bare LF
    EXPECT_EQ(end_state("fffffffffffffffff\r\n", 100), 400);  // too many digits
    EXPECT_EQ(end_state("65\r\n", 100), 413);                // 0x65 = 101 > 100
    EXPECT_EQ(end_state("0\r\nbad trailer\r\n\r\n", 100), 400);
    EXPECT_EQ(end_state("3\r\nabc\r\n0\r\n\r\n", 100), 0);
}

}  // namespace
}  // namespace pollux::samples::http
