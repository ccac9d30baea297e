// The session without I/O: pipelining, bodies in pieces, limits, the request cap,
// 100-continue, the header deadline's arm/clear.
#include "http_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pollux::samples::http {
namespace {

const Stamp kStamp("Thu, 03 Dec 2026 00:00:00 GMT");

// Feeds `wire` in pieces of `step` bytes the way a connection does: unconsumed bytes
// stay and new ones are appended.
struct Driver {
    explicit Driver(SessionConfig c) : config(std::move(c)), session(config) {}
    Outcome feed(std::string_view bytes) {
        pending.append(bytes);
        out.clear();
        Outcome o = session.on_input(pending, kStamp, out);
        pending.erase(0, o.consumed);
        all.append(out);
        return o;
    }
    SessionConfig config;
    Session session;
    std::string pending;
    std::string out;
    std::string all;
};

std::vector<int> statuses(std::string_view responses) {
    std::vector<int> v;
    for (std::size_t at = responses.find("HTTP/1.1 "); at != std::string_view::npos;
         at = responses.find("HTTP/1.1 ", at + 1)) {
        v.push_back(std::stoi(std::string(responses.substr(at + 9, 3))));
    }
    return v;
}

TEST(HttpSession, pipelined_requests_in_one_batch_get_their_responses_in_order_in_one_output) {
    Driver d({});
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += i % 2 ? "GET /json HTTP/1.1\r\nHost: a\r\n\r\n" : "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    const Outcome o = d.feed(batch);
    EXPECT_EQ(o.responses, 16u);
    EXPECT_EQ(o.consumed, batch.size());
    EXPECT_FALSE(o.close);
    std::size_t hello = 0, json = 0, at = 0;
    for (int i = 0; i < 16; ++i) {
        const auto next = d.out.find(i % 2 ? R"({"message":"Hello, World!"})" : "Hello, World!", at);
        ASSERT_NE(next, std::string::npos) << "response " << i << " out of order";
        at = next + 1;
        (i % 2 ? json : hello)++;
    }
    EXPECT_EQ(hello, 8u);
    EXPECT_EQ(json, 8u);
    EXPECT_NE(d.out.find("Date: Thu, 03 Dec 2026 00:00:00 GMT\r\n"), std::string::npos);
    EXPECT_NE(d.out.find("Server: pollux\r\n"), std::string::npos);
}

TEST(HttpSession, a_request_split_at_every_byte_gives_the_same_answer_and_arms_the_deadline_once) {
    const std::string req = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
    Driver d({});
    int arms = 0, clears = 0;
    for (char c : req) {
        const Outcome o = d.feed(std::string_view(&c, 1));
        arms += o.deadline == Outcome::Deadline::arm;
        clears += o.deadline == Outcome::Deadline::clear;
    }
    EXPECT_EQ(arms, 1) << "the header deadline runs from the first byte, not from each";
    EXPECT_EQ(clears, 1);
    EXPECT_EQ(statuses(d.all), std::vector{200});
    EXPECT_TRUE(d.all.ends_with("\r\n\r\nhello world"));
}

TEST(HttpSession, a_chunked_upload_is_echoed_decoded) {
    Driver d({});
    d.feed("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n");
    EXPECT_TRUE(d.all.empty());
    d.feed("5\r\npedia\r\n0\r\n\r\n");
    EXPECT_EQ(statuses(d.all), std::vector{200});
    EXPECT_TRUE(d.all.ends_with("Content-Length: 9\r\n\r\nWikipedia"));
}

TEST(HttpSession, limits_answer_with_their_status_and_close) {
    struct Case {
        std::string wire;
        int status;
    };
    const std::vector<Case> cases = {
        {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x') + "\r\n\r\n", 431},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400},
        {"BAD\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        Driver d({});
        const Outcome o = d.feed(c.wire + "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(statuses(d.all), std::vector{c.status}) << c.wire.substr(0, 60);
        EXPECT_TRUE(o.close);
        EXPECT_NE(d.all.find("Connection: close\r\n"), std::string::npos);
        EXPECT_TRUE(d.session.closing());
        // Nothing after the closing response is answered.
        d.feed("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(statuses(d.all).size(), 1u);
    }
}

TEST(HttpSession, routes_methods_and_head) {
    Driver d({});
    d.feed(
        "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /plaintext HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
        "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"
        "HEAD /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(statuses(d.all), (std::vector{404, 405, 405, 200}));
    EXPECT_NE(d.all.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(d.all.find("Allow: POST\r\n"), std::string::npos);
    EXPECT_TRUE(d.all.ends_with("Content-Length: 13\r\n\r\n")) << "HEAD: headers only";
}

TEST(HttpSession, the_last_allowed_request_says_connection_close) {
    SessionConfig c;
    c.max_requests = 3;
    Driver d(c);
    std::string batch;
    for (int i = 0; i < 5; ++i) batch += "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    const Outcome o = d.feed(batch);
    EXPECT_EQ(o.responses, 3u);
    EXPECT_TRUE(o.close);
    EXPECT_EQ(statuses(d.all).size(), 3u);
    const auto last = d.all.rfind("HTTP/1.1 ");
    EXPECT_NE(d.all.find("Connection: close\r\n", last), std::string::npos);
    EXPECT_EQ(d.all.find("Connection: close\r\n"), d.all.find("Connection: close\r\n", last));
}

TEST(HttpSession, http_1_0_keep_alive_is_acknowledged_and_plain_1_0_closes) {
    Driver ka({});
    Outcome o = ka.feed("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_FALSE(o.close);
    EXPECT_NE(ka.all.find("Connection: keep-alive\r\n"), std::string::npos);
    Driver plain({});
    o = plain.feed("GET /plaintext HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(o.close);
    EXPECT_NE(plain.all.find("Connection: close\r\n"), std::string::npos);
}

TEST(HttpSession, expect_100_continue_is_answered_before_the_body) {
    Driver d({});
    d.feed("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(d.all, "HTTP/1.1 100 Continue\r\n\r\n");
    d.feed("abc");
    EXPECT_EQ(statuses(d.all), (std::vector{100, 200}));
    EXPECT_TRUE(d.all.ends_with("abc"));
}

TEST(HttpSession, the_header_timeout_answers_408_and_closes) {
    Driver d({});
    EXPECT_EQ(d.feed("GET /plain").deadline, Outcome::Deadline::arm);
    std::string out;
    const Outcome o = d.session.on_header_timeout(kStamp, out);
    EXPECT_TRUE(o.close);
    EXPECT_EQ(statuses(out), std::vector{408});
}

}  // namespace
}  // namespace pollux::samples::http
