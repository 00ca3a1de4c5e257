#include "core/api_request.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {

const std::vector<std::string> kKeys = {"0123456789abcdef-first", "fedcba9876543210-second"};

template <class T>
T request_as(const ApiParsed& p) {
    INFO(p.status << " " << p.message);
    REQUIRE(p.request);
    REQUIRE(std::holds_alternative<T>(*p.request));
    return std::get<T>(*p.request);
}

}  // namespace

TEST_CASE("api keys: 'apikey <key>' with a configured key, nothing else", "[api]") {
    CHECK(api_key_accepted(std::string("apikey 0123456789abcdef-first"), kKeys));
    CHECK(api_key_accepted(std::string("apikey fedcba9876543210-second"), kKeys));
    CHECK_FALSE(api_key_accepted(std::nullopt, kKeys));
    CHECK_FALSE(api_key_accepted(std::string("apikey 0123456789abcdef-firs"), kKeys));
    CHECK_FALSE(api_key_accepted(std::string("apikey 0123456789abcdef-first!"), kKeys));
    CHECK_FALSE(api_key_accepted(std::string("Bearer 0123456789abcdef-first"), kKeys));
    CHECK_FALSE(api_key_accepted(std::string("apikey "), kKeys));
    CHECK_FALSE(api_key_accepted(std::string("apikey 0123456789abcdef-first"), {}));
}

TEST_CASE("api routes: 401 before 404 before 405", "[api]") {
    CHECK(route_api("POST", "/api/publish", false).status == 401);
    CHECK(route_api("GET", "/api/nothing", false).status == 401);
    CHECK(route_api("GET", "/api/nothing", true).status == 404);
    CHECK(route_api("GET", "/api/publish", true).status == 405);
    CHECK(route_api("POST", "/api/history", true).status == 405);
    ApiRouting r = route_api("POST", "/api/notify", true);
    CHECK(r.status == 0);
    CHECK(r.route == ApiRoute::notify);
    CHECK(route_api("GET", "/api/presence", true).route == ApiRoute::presence);
}

TEST_CASE("api publish: fields as send_message, msg_type defaults to 1", "[api]") {
    const ApiPublish p = request_as<ApiPublish>(
        parse_api_body(ApiRoute::publish, R"({"group_id":"g1","sender_id":"u1","content":"hi"})", 65536));
    CHECK(p.group_id == "g1");
    CHECK(p.sender_id == "u1");
    CHECK(p.content == "hi");
    CHECK(p.msg_type == 1);
    CHECK_FALSE(p.message_id);
    const ApiPublish q = request_as<ApiPublish>(parse_api_body(
        ApiRoute::publish, R"({"group_id":"g","sender_id":"u","content":"","msg_type":7,"message_id":42})", 65536));
    CHECK(q.msg_type == 7);
    CHECK(q.message_id == std::optional<std::string>("42"));

    CHECK(parse_api_body(ApiRoute::publish, "[1]", 65536).status == 400);
    CHECK(parse_api_body(ApiRoute::publish, "{", 65536).status == 400);
    CHECK(parse_api_body(ApiRoute::publish, R"({"sender_id":"u","content":"x"})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::publish, R"({"group_id":"g","content":"x"})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::publish, R"({"group_id":"g","sender_id":"u"})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::publish, R"({"group_id":"g","sender_id":"u","content":"x","msg_type":-1})", 65536)
              .status == 422);
    CHECK(parse_api_body(ApiRoute::publish, R"({"group_id":"g","sender_id":"u","content":"x","message_id":""})", 65536)
              .status == 422);
    CHECK(parse_api_body(ApiRoute::publish, std::string(70000, ' '), 65536).status == 413);
}

TEST_CASE("api notify, disconnect and revoke bodies", "[api]") {
    const ApiNotify& n =
        request_as<ApiNotify>(parse_api_body(ApiRoute::notify, R"({"target":"user:1,2","data":{"a":1}})", 65536));
    CHECK(n.target == "user:1,2");
    CHECK(n.data == R"({"a":1})");
    CHECK(parse_api_body(ApiRoute::notify, R"({"target":"nobody","data":{}})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::notify, R"({"target":"all","data":"x"})", 65536).status == 422);

    const ApiDisconnect d =
        request_as<ApiDisconnect>(parse_api_body(ApiRoute::disconnect, R"({"user_id":"u","reason":"bye"})", 65536));
    CHECK(d.user_id == "u");
    CHECK(d.reason == "bye");
    CHECK(parse_api_body(ApiRoute::disconnect, R"({"reason":"bye"})", 65536).status == 422);

    const ApiRevoke r =
        request_as<ApiRevoke>(parse_api_body(ApiRoute::revoke, R"({"user_id":"u","seconds":60})", 65536));
    CHECK(r.seconds == 60);
    CHECK(parse_api_body(ApiRoute::revoke, R"({"user_id":"u"})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::revoke, R"({"user_id":"u","seconds":0})", 65536).status == 422);
    CHECK(parse_api_body(ApiRoute::revoke, R"({"user_id":"u","seconds":1.5})", 65536).status == 422);
}

TEST_CASE("api queries: presence needs exactly one of group and user; history's limit 1..1000", "[api]") {
    CHECK(request_as<ApiPresence>(parse_api_query(ApiRoute::presence, "group=g%201")).group ==
          std::optional<std::string>("g 1"));
    CHECK(request_as<ApiPresence>(parse_api_query(ApiRoute::presence, "user=u1")).user ==
          std::optional<std::string>("u1"));
    CHECK(parse_api_query(ApiRoute::presence, "").status == 422);
    CHECK(parse_api_query(ApiRoute::presence, "group=g&user=u").status == 422);
    CHECK(parse_api_query(ApiRoute::presence, "group=%zz").status == 422);

    const ApiHistory h = request_as<ApiHistory>(parse_api_query(ApiRoute::history, "group=g&since=5-1&limit=10"));
    CHECK(h.group_id == "g");
    CHECK(h.since == std::optional<std::string>("5-1"));
    CHECK(h.limit == 10);
    CHECK(request_as<ApiHistory>(parse_api_query(ApiRoute::history, "group=g")).limit == 100);
    CHECK(parse_api_query(ApiRoute::history, "limit=5").status == 422);
    CHECK(parse_api_query(ApiRoute::history, "group=g&limit=0").status == 422);
    CHECK(parse_api_query(ApiRoute::history, "group=g&limit=1001").status == 422);
    CHECK(parse_api_query(ApiRoute::history, "group=g&since=abc").status == 422);
}

TEST_CASE("api error body", "[api]") {
    CHECK(api_error_body(422, "limit: integer 1..1000") ==
          R"({"error":{"code":422,"message":"limit: integer 1..1000"}})");
}
