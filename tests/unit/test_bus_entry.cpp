// Stream entries -> deliveries: targets, notify validation, history and bus
// entries; and the strict JSON check notifications go through.
#include "core/bus_entry.hpp"
#include "core/json_check.hpp"
#include "core/redis_schema.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("json_object_text_valid accepts strict JSON objects only", "[json_check]") {
    for (const char* ok :
         {"{}", " { } ", R"({"a":1})", R"({"title":"hi","body":"x\ny","n":-0.5e+3,"l":[1,true,null,{}]})",
          "{\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", R"({"e":"\u00e9\"\\\/\b\f\n\r\t"})"}) {
        INFO(ok);
        CHECK(json_object_text_valid(ok, 32));
    }
    std::string why;
    for (const char* bad : {"",
                            "[]",
                            "\"s\"",
                            "1",
                            "{",
                            "{\"a\"}",
                            "{\"a\":}",
                            "{\"a\":1,}",
                            "{\"a\":01}",
                            "{\"a\":+1}",
                            "{\"a\":1.}",
                            "{\"a\":.5}",
                            "{\"a\":tru}",
                            "{\"a\":\"x\ty\"}",
                            "{\"a\":\"\\x\"}",
                            "{\"a\":\"\\u12\"}",
                            "{} {}",
                            "{}x",
                            "{'a':1}",
                            "{\"a\":NaN}",
                            "{\"a\":\"\xff\"}",
                            "{\"a\":\"\xc0\xaf\"}",
                            "{\"a\":\"\xed\xa0\x80\"}",
                            "{\"a\":[1 2]}"}) {
        INFO(bad);
        CHECK_FALSE(json_object_text_valid(bad, 32, &why));
        CHECK_FALSE(why.empty());
    }
    std::string deep = "{\"a\":" + std::string(31, '[') + std::string(31, ']') + "}";
    CHECK(json_object_text_valid(deep, 32));
    deep = "{\"a\":" + std::string(32, '[') + std::string(32, ']') + "}";
    CHECK_FALSE(json_object_text_valid(deep, 32, &why));
    CHECK(why.find("deeply") != std::string::npos);
}

TEST_CASE("utf8_valid", "[json_check]") {
    CHECK(utf8_valid(""));
    CHECK(utf8_valid("plain ascii text that is longer than eight bytes"));
    CHECK(utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80 and more ascii after it"));
    CHECK(utf8_valid(std::string("nul\0inside", 10)));
    CHECK_FALSE(utf8_valid("abcdefgh\xff"));
    CHECK_FALSE(utf8_valid("\xe2\x82"));          // truncated
    CHECK_FALSE(utf8_valid("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST_CASE("notify targets: user lists, group, all; everything else refused", "[bus_entry]") {
    std::string why;
    auto t = parse_notify_target("all", &why);
    REQUIRE(t);
    CHECK(t->kind == NotifyTargetKind::all);
    t = parse_notify_target("group:room:1", &why);
    REQUIRE(t);
    CHECK(t->kind == NotifyTargetKind::group);
    CHECK(t->group_id == "room:1");
    t = parse_notify_target("user:42", &why);
    REQUIRE(t);
    CHECK(t->kind == NotifyTargetKind::users);
    CHECK(t->users == std::vector<std::string>{"42"});
    t = parse_notify_target("user:a, b ,a,c", &why);
    REQUIRE(t);
    CHECK(t->users == std::vector<std::string>{"a", "b", "c"});
    for (const char* bad :
         {"", "ALL", "everyone", "user:", "user:a,,b", "user: ", "group:", "users:1", "user:a\x01", "group:x\ny"}) {
        INFO(bad);
        CHECK_FALSE(parse_notify_target(bad, &why));
    }
    std::string many = "user:";
    for (size_t i = 0; i <= kMaxNotifyUsers; i++) many += (i ? "," : "") + std::to_string(i);
    CHECK_FALSE(parse_notify_target(many, &why));
    CHECK(why.find("more than") != std::string::npos);
    CHECK_FALSE(parse_notify_target("user:" + std::string(129, 'x'), &why));
}

TEST_CASE("notify entries: required fields and data checks", "[bus_entry]") {
    std::string why;
    auto n = notification_from_notify_entry(
        "1700000000123-4", {{"target", "user:7"}, {"data", R"({"title":"t"})"}, {"id", "pub-1"}}, &why);
    REQUIRE(n);
    CHECK(n->id == "1700000000123-4");
    CHECK(n->timestamp_ms == 1700000000123);
    CHECK(n->data == R"({"title":"t"})");
    CHECK(n->target.users == std::vector<std::string>{"7"});

    CHECK_FALSE(notification_from_notify_entry("1-0", {{"data", "{}"}}, &why));
    CHECK(why == "missing field 'target'");
    CHECK_FALSE(notification_from_notify_entry("1-0", {{"target", "all"}}, &why));
    CHECK(why == "missing field 'data'");
    CHECK_FALSE(notification_from_notify_entry("1-0", {{"target", "all"}, {"data", "[1]"}}, &why));
    CHECK(why.rfind("data is not a JSON object", 0) == 0);
    CHECK_FALSE(notification_from_notify_entry("1-0", {{"target", "all"}, {"data", "{\"a\":}"}}, &why));
    CHECK_FALSE(notification_from_notify_entry("1-0", {{"target", "nobody"}, {"data", "{}"}}, &why));
    CHECK(why.find("unknown target") != std::string::npos);
    CHECK_FALSE(notification_from_notify_entry("x", {{"target", "all"}, {"data", "{}"}}, &why));
    std::string huge = "{\"a\":\"" + std::string(kMaxNotificationDataBytes, 'x') + "\"}";
    CHECK_FALSE(notification_from_notify_entry("1-0", {{"target", "all"}, {"data", huge}}, &why));
    // The first occurrence of a repeated field counts.
    n = notification_from_notify_entry("1-0", {{"target", "all"}, {"data", "{}"}, {"target", "bogus"}}, &why);
    REQUIRE(n);
    CHECK(n->target.kind == NotifyTargetKind::all);
}

TEST_CASE("history and bus entries become StoredMessages", "[bus_entry]") {
    EntryFields f{{"client_message_id", "c-1"},
                  {"sender_id", "alice"},
                  {"msg_type", "3"},
                  {"content", "hello"},
                  {"timestamp", "1700000000999"}};
    std::string why;
    auto m = message_from_history_entry("g1", "1700000001000-2", f, &why);
    REQUIRE(m);
    CHECK(m->group_id == "g1");
    CHECK(m->message_id == "1700000001000-2");
    CHECK(m->client_message_id == "c-1");
    CHECK(m->sender_id == "alice");
    CHECK(m->msg_type == 3);
    CHECK(m->content == "hello");
    CHECK(m->timestamp_ms == 1700000000999);

    EntryFields no_ts{{"sender_id", "a"}, {"msg_type", "0"}, {"content", ""}};
    m = message_from_history_entry("g", "55-0", no_ts, &why);
    REQUIRE(m);
    CHECK(m->timestamp_ms == 55);
    CHECK(m->client_message_id.empty());

    CHECK_FALSE(message_from_history_entry("g", "1-0", {{"msg_type", "1"}, {"content", "x"}}, &why));
    CHECK(why == "missing field 'sender_id'");
    CHECK_FALSE(
        message_from_history_entry("g", "1-0", {{"sender_id", "a"}, {"msg_type", "one"}, {"content", "x"}}, &why));
    CHECK_FALSE(
        message_from_history_entry("g", "1-0", {{"sender_id", "a"}, {"msg_type", "1"}, {"content", "\xff"}}, &why));
    CHECK(why == "invalid UTF-8");

    EntryFields bus = f;
    bus.push_back({"group_id", "room"});
    bus.push_back({"message_id", "1700000001000-2"});
    m = message_from_bus_entry(bus, &why);
    REQUIRE(m);
    CHECK(m->group_id == "room");
    CHECK(m->message_id == "1700000001000-2");
    CHECK_FALSE(message_from_bus_entry(f, &why));
    CHECK(why.find("group_id") != std::string::npos);
}

TEST_CASE("inbox entries", "[bus_entry]") {
    std::string why;
    auto n = notification_from_inbox_entry("9-1", {{"data", "{\"x\":1}"}, {"timestamp", "9"}}, &why);
    REQUIRE(n);
    CHECK(n->id == "9-1");
    CHECK(n->data == "{\"x\":1}");
    CHECK(n->timestamp_ms == 9);
    CHECK_FALSE(notification_from_inbox_entry("9-1", {{"timestamp", "9"}}, &why));
}

TEST_CASE("redis key names carry the prefix; dedup keys are unambiguous", "[redis_schema]") {
    RedisKeys k("p:");
    CHECK(k.group("g") == "p:group:g");
    CHECK(k.bus() == "p:bus");
    CHECK(k.notify() == "p:notify");
    CHECK(k.inbox("7") == "p:inbox:7");
    CHECK(k.members("g") == "p:members:g");
    CHECK(k.user_groups("7") == "p:user:7:groups");
    CHECK(k.read("7") == "p:read:7");
    CHECK(k.instance("n", "h", 80) == "p:instance:n:h:80");
    CHECK(k.dedup("a:b", "g", "c") != k.dedup("a", "g", "b:c"));
    CHECK(k.dedup("a", "g:1", "c") != k.dedup("a", "g", "1:c"));
    CHECK(k.dedup("a:b", "g", "c") == "p:dedup:3:a:b:1:g:c");
}
