// The RESP request parser: arrays and inline commands, split anywhere, and every limit
// checked before the bytes it announces arrive.
#include "resp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pollux::samples::kv {
namespace {

TEST(Resp, an_array_request_parses_into_views_and_its_size) {
    const std::string wire = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nNEXT";
    RespRequest r;
    const RespResult res = parse_request(wire, {}, r);
    ASSERT_EQ(res.parse, RespParse::complete);
    ASSERT_EQ(r.args.size(), 3u);
    EXPECT_EQ(r.args[0], "SET");
    EXPECT_EQ(r.args[1], "key");
    EXPECT_EQ(r.args[2], "va\r\nl");  // binary safe
    EXPECT_EQ(wire.substr(r.size), "NEXT");
}

TEST(Resp, every_prefix_of_a_request_is_incomplete) {
    const std::string wire = "*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    for (std::size_t n = 0; n < wire.size(); ++n) {
        RespRequest r;
        EXPECT_EQ(parse_request(wire.substr(0, n), {}, r).parse, RespParse::incomplete) << n;
    }
}

TEST(Resp, inline_commands_split_on_spaces) {
    RespRequest r;
    ASSERT_EQ(parse_request("SET  a   b\r\n", {}, r).parse, RespParse::complete);
    ASSERT_EQ(r.args.size(), 3u);
    EXPECT_EQ(r.args[2], "b");
    ASSERT_EQ(parse_request("PING\n", {}, r).parse, RespParse::complete);
    EXPECT_EQ(r.args.size(), 1u);
    ASSERT_EQ(parse_request("\r\n", {}, r).parse, RespParse::complete);
    EXPECT_TRUE(r.args.empty());
}

TEST(Resp, limits_are_errors_before_the_announced_bytes_arrive) {
    RespLimits small;
    small.max_bulk = 10;
    small.max_args = 4;
    small.max_inline = 16;
    RespRequest r;
    RespResult res = parse_request("*1\r\n$11\r\n", small, r);  // 11 > 10: refused at once
    EXPECT_EQ(res.parse, RespParse::error);
    EXPECT_EQ(res.error, "Protocol error: invalid bulk length");
    res = parse_request("*5\r\n", small, r);
    EXPECT_EQ(res.error, "Protocol error: invalid multibulk length");
    res = parse_request("PING PING PING PING", small, r);  // no newline within 16 bytes
    EXPECT_EQ(res.error, "Protocol error: too big inline request");
    res = parse_request("*1\r\n$536870913\r\n", {}, r);  // 512 MiB + 1, the default limit
    EXPECT_EQ(res.parse, RespParse::error);
    res = parse_request("*1048577\r\n", {}, r);
    EXPECT_EQ(res.parse, RespParse::error);
}

TEST(Resp, malformed_frames_are_errors) {
    RespRequest r;
    EXPECT_EQ(parse_request("*x\r\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*1\r\n:1\r\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*1\r\n$-1\r\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*1\r\n$3\r\nabcd\r\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*1\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*1\r\n$3x\r\n", {}, r).parse, RespParse::error);
    EXPECT_EQ(parse_request("*11111111111111111111111111111111111111", {}, r).parse, RespParse::error);
}

TEST(Resp, an_empty_array_is_skipped) {
    RespRequest r;
    ASSERT_EQ(parse_request("*0\r\n*-1\r\n", {}, r).parse, RespParse::complete);
    EXPECT_TRUE(r.args.empty());
    EXPECT_EQ(r.size, 4u);
}

}  // namespace
}  // namespace pollux::samples::kv
