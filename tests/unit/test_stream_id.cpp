#include "core/stream_id.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("stream ids parse in both forms", "[stream_id]") {
    CHECK(parse_stream_id("1732600000000-0") == StreamId{1732600000000, 0});
    CHECK(parse_stream_id("1732600000000-17") == StreamId{1732600000000, 17});
    CHECK(parse_stream_id("0") == StreamId{0, 0});
    CHECK(parse_stream_id("0-0") == StreamId{0, 0});
    CHECK(parse_stream_id("5") == StreamId{5, 0});
    CHECK(parse_stream_id("18446744073709551615-18446744073709551615") == StreamId{UINT64_MAX, UINT64_MAX});
    // leading zeros are accepted, as Redis accepts them, and normalized by formatting
    CHECK(parse_stream_id("007-01") == StreamId{7, 1});
    CHECK(format_stream_id(*parse_stream_id("007-01")) == "7-1");
}

TEST_CASE("malformed stream ids are refused", "[stream_id]") {
    for (const char* bad : {"",    "-", "1-", "-1", "+1", "1-+2", " 1",  "1 ",   "1- 2", "1-2-3", "a", "1-a",
                            "a-1", "$", "*",  ">",  "+",  "1-*",  "1.5", "0x10", "1e3",  "1--2",  "１"}) {
        INFO(bad);
        CHECK_FALSE(parse_stream_id(bad).has_value());
    }
}

TEST_CASE("stream id overflow is refused", "[stream_id]") {
    CHECK_FALSE(parse_stream_id("18446744073709551616").has_value());
    CHECK_FALSE(parse_stream_id("18446744073709551616-0").has_value());
    CHECK_FALSE(parse_stream_id("1-18446744073709551616").has_value());
    CHECK_FALSE(parse_stream_id("99999999999999999999999-0").has_value());
    CHECK(parse_stream_id("000000000000000000000000000001-0") == StreamId{1, 0});
}

TEST_CASE("stream ids compare by ms then seq", "[stream_id]") {
    StreamId a{1, 5}, b{2, 0}, c{2, 1};
    CHECK(a < b);
    CHECK(b < c);
    CHECK(a < c);
    CHECK(c > a);
    CHECK(a <= a);
    CHECK(a >= a);
    CHECK(a == StreamId{1, 5});
    CHECK(a != b);
    CHECK(StreamId{0, UINT64_MAX} < StreamId{1, 0});
}

TEST_CASE("stream ids format canonically and round-trip", "[stream_id]") {
    CHECK(format_stream_id({0, 0}) == "0-0");
    CHECK(format_stream_id({1732600000000, 3}) == "1732600000000-3");
    CHECK(format_stream_id({UINT64_MAX, UINT64_MAX}) == "18446744073709551615-18446744073709551615");
    for (StreamId id : {StreamId{0, 0}, StreamId{1, 2}, StreamId{UINT64_MAX, 0}, StreamId{42, UINT64_MAX}}) {
        CHECK(parse_stream_id(format_stream_id(id)) == id);
    }
}
