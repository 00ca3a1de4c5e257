#include "core/api_reply.hpp"
#include "core/json_check.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("api answers are the contract's JSON objects", "[api]") {
    CHECK(api_published("1-0", "m\"1", true).body ==
          R"({"message_id":"1-0","client_message_id":"m\"1","duplicate":true})");
    CHECK(api_notified("2-0").body == R"({"notification_id":"2-0"})");
    CHECK(api_done().body == "{}");
    CHECK(api_history({}, false).body == R"({"messages":[],"truncated":false})");
    StoredMessage m{"g", "3-0", "c", "s", 1, "hi", 3};
    const ApiAnswer h = api_history({m, m}, true);
    CHECK(h.status == 200);
    CHECK(
        h.body ==
        R"({"messages":[{"group_id":"g","message_id":"3-0","client_message_id":"c","sender_id":"s","msg_type":1,"content":"hi","timestamp":3},)"
        R"({"group_id":"g","message_id":"3-0","client_message_id":"c","sender_id":"s","msg_type":1,"content":"hi","timestamp":3}],"truncated":true})");
    const ApiAnswer e = api_failed(422, "limit: integer 1..1000");
    CHECK(e.status == 422);
    CHECK(e.body == R"({"error":{"code":422,"message":"limit: integer 1..1000"}})");
}
