#include "client/requests.hpp"
#include "core/protocol.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pushd;

// Each builder's frame is read back by the server's own parser.
TEST_CASE("every request the client builds is read by the server as sent", "[requests]") {
    SECTION("ping, with and without message_id") {
        ParseResult r = parse_request(requests::ping("p1"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::ping);
        CHECK(r.request.message_id == "p1");
        CHECK(requests::ping() == R"({"type":"ping"})");
        CHECK(parse_request(requests::ping()).status == ParseStatus::ok);
    }
    SECTION("auth, with and without since") {
        ParseResult r = parse_request(requests::auth("a", "x.y.z"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::auth);
        CHECK(r.request.token == "x.y.z");
        CHECK_FALSE(r.request.since);
        r = parse_request(requests::auth("a", "x.y.z", "1732600000000-3"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.since == "1732600000000-3");
    }
    SECTION("join_group, with and without since") {
        ParseResult r = parse_request(requests::join_group("j", "g1"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::join_group);
        CHECK(r.request.group_id == "g1");
        CHECK_FALSE(r.request.since);
        r = parse_request(requests::join_group("j", "g1", "0"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.since);
    }
    SECTION("leave_group") {
        ParseResult r = parse_request(requests::leave_group("l", "g1"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::leave_group);
        CHECK(r.request.group_id == "g1");
    }
    SECTION("send_message escapes its strings") {
        const std::string content = "say \"hi\"\\\n\t\x01 \xc3\xa9";
        ParseResult r = parse_request(requests::send_message("m-1", "g \"1\"", content, 7));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::send_message);
        CHECK(r.request.message_id == "m-1");
        CHECK(r.request.group_id == "g \"1\"");
        CHECK(r.request.msg_type == 7);
        CHECK(r.request.content == content);
    }
    SECTION("append_send_message appends the same frame") {
        std::string out = "x";
        requests::append_send_message(out, "m", "g", "c");
        CHECK(out == "x" + requests::send_message("m", "g", "c"));
        CHECK(requests::send_message("m", "g", "c") ==
              R"({"type":"send_message","message_id":"m","data":{"group_id":"g","msg_type":1,"content":"c"}})");
    }
    SECTION("mark_read") {
        ParseResult r = parse_request(requests::mark_read("r", "g1", "1732600000000-0"));
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::mark_read);
        CHECK(r.request.group_id == "g1");
        CHECK(r.request.read_message_id == "1732600000000-0");
    }
}
