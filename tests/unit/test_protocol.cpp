#include "core/json_writer.hpp"
#include "core/protocol.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace pushd;

namespace {

// Parses from an exactly sized heap copy (not NUL-terminated), so ASan
// catches any read past the frame.
ParseResult parse(const std::string& s) {
    std::unique_ptr<char[]> buf(new char[s.empty() ? 1 : s.size()]);
    std::memcpy(buf.get(), s.data(), s.size());
    return parse_request(std::string_view(buf.get(), s.size()));
}

struct Json {
    cJSON* p;
    explicit Json(const std::string& s) : p(cJSON_ParseWithLength(s.data(), s.size())) {}
    ~Json() { cJSON_Delete(p); }
    Json(const Json&) = delete;
    Json& operator=(const Json&) = delete;
};

std::vector<std::string> keys(const cJSON* obj) {
    std::vector<std::string> k;
    for (const cJSON* c = obj ? obj->child : nullptr; c; c = c->next) k.push_back(c->string);
    return k;
}

std::string str(const cJSON* obj, const char* key) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    REQUIRE(cJSON_IsString(v));
    return v->valuestring;
}

double num(const cJSON* obj, const char* key) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    REQUIRE(cJSON_IsNumber(v));
    return v->valuedouble;
}

bool is_true(const cJSON* obj, const char* key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key)); }
bool is_false(const cJSON* obj, const char* key) { return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(obj, key)); }
const cJSON* get(const cJSON* obj, const char* key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

using Keys = std::vector<std::string>;

std::string nest(int depth) {  // an envelope nested `depth` levels in all
    return R"({"type":"ping","x":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

const char* const kNonPingTypes[] = {"auth", "send_message", "join_group", "leave_group", "mark_read"};

}  // namespace

// ============================================================================
// Parsing: 400 malformed
// ============================================================================

TEST_CASE("frames that are not JSON objects are malformed", "[protocol]") {
    for (const char* text : {"", " ", "not json", "{", "}", "{\"type\":\"ping\"", "{'type':'ping'}",
                             "{\"type\":\"ping\",}", "{\"type\":\"ping\"} x", "{\"type\":\"ping\"}{}",
                             "{\"type\":\"pi\\xng\"}", "{\"type\":\"\\ud800\"}", "{\"type\":\"\\udc00x\"}"}) {
        INFO(text);
        ParseResult r = parse(text);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(r.message.rfind("invalid JSON", 0) == 0);
        CHECK_FALSE(r.message_id.has_value());
    }
    for (const char* text : {"[]", "[{\"type\":\"ping\"}]", "\"ping\"", "17", "null", "true", "1.5"}) {
        INFO(text);
        ParseResult r = parse(text);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(r.message == "not a JSON object");
    }
}

TEST_CASE("raw control characters make a frame invalid JSON", "[protocol]") {
    ParseResult r =
        parse(std::string("{\"type\":\"send_message\",\"message_id\":\"m\",\"data\":{\"group_id\":\"g\","
                          "\"msg_type\":1,\"content\":\"a\tb\"}}"));
    CHECK(r.status == ParseStatus::malformed);
    CHECK(r.message == "invalid JSON: unescaped control character");
    r = parse(std::string("{\"type\":\"ping\"}\0", 16));
    CHECK(r.status == ParseStatus::malformed);
    r = parse(std::string("{\"type\":\x01\"ping\"}"));
    CHECK(r.status == ParseStatus::malformed);
    // escaped, and JSON whitespace between tokens, are fine
    CHECK(parse("\r\n\t {\"type\" :\n\"ping\" ,\t\"x\":\"a\\tb\" }\r\n ").status == ParseStatus::ok);
}

TEST_CASE("type missing, not a string or unknown is malformed", "[protocol]") {
    struct Case {
        const char* text;
        const char* message;
    };
    for (Case c : {Case{R"({})", "type: required string"}, Case{R"({"message_id":"m1"})", "type: required string"},
                   Case{R"({"type":1,"message_id":"m1"})", "type: required string"},
                   Case{R"({"type":null,"message_id":"m1"})", "type: required string"},
                   Case{R"({"type":["ping"],"message_id":"m1"})", "type: required string"},
                   Case{R"({"type":"nope","message_id":"m1"})", "type: unknown request type"},
                   Case{R"({"type":"","message_id":"m1"})", "type: unknown request type"},
                   Case{R"({"type":"PING","message_id":"m1"})", "type: unknown request type"},
                   Case{R"({"type":"ping\u0000x","message_id":"m1"})", "type: unknown request type"},
                   Case{R"({"type":"ack","message_id":"m1"})", "type: unknown request type"}}) {
        INFO(c.text);
        ParseResult r = parse(c.text);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(r.message == c.message);
        if (std::strstr(c.text, "m1")) {
            REQUIRE(r.message_id.has_value());
            CHECK(*r.message_id == "m1");  // readable, so reported
        }
    }
}

TEST_CASE("bad message_id is malformed and not reported", "[protocol]") {
    const std::string big129(129, 'x');
    for (std::string id :
         {std::string("{}"), std::string("[]"), std::string("[\"a\"]"), std::string("true"), std::string("false"),
          std::string("null"), std::string("1.5"), std::string("17.0"), std::string("1e2"), std::string("-1.5"),
          std::string("\"\""), std::string("01"), std::string("-01"),  // cJSON reads these; an integer may not
          "\"" + big129 + "\"",
          std::string("1152921504606846976"),  // 2^60
          std::string("9007199254740993"),     // 2^53 + 1
          std::string("-9007199254740993"), std::string("18446744073709551616"),
          std::string("123456789012345678901234567890")}) {
        for (const char* type : {"ping", "send_message", "auth"}) {
            std::string text = std::string(R"({"type":")") + type + R"(","message_id":)" + id + R"(,"data":{}})";
            INFO(text);
            ParseResult r = parse(text);
            CHECK(r.status == ParseStatus::malformed);
            CHECK(r.message == "message_id: must be a string of 1..128 bytes or an integer with |n| <= 2^53");
            CHECK_FALSE(r.message_id.has_value());
        }
    }
}

TEST_CASE("valid message_ids, integers echoed as decimal strings", "[protocol]") {
    struct Case {
        std::string raw, expect;
    };
    for (const Case& c :
         {Case{"17", "17"}, Case{"0", "0"}, Case{"-0", "0"}, Case{"-5", "-5"},
          Case{"9007199254740992", "9007199254740992"}, Case{"-9007199254740992", "-9007199254740992"},
          Case{"1732600000", "1732600000"}, Case{"\"c-17\"", "c-17"},
          Case{"\"" + std::string(128, 'y') + "\"", std::string(128, 'y')}, Case{"\"\\u00e9\"", "\xC3\xA9"},
          Case{"\"a\\u0000b\"", std::string("a\0b", 3)}, Case{"\"17\"", "17"}}) {
        std::string text = R"({"type":"ping","message_id":)" + c.raw + "}";
        INFO(text);
        ParseResult r = parse(text);
        REQUIRE(r.status == ParseStatus::ok);
        REQUIRE(r.message_id.has_value());
        CHECK(*r.message_id == c.expect);
        REQUIRE(r.request.message_id.has_value());
        CHECK(*r.request.message_id == c.expect);
    }
    // 128 bytes counted in bytes, not characters: 64 two-byte characters fit, 65 do not
    std::string e64, e65;
    for (int i = 0; i < 64; i++) e64 += "\xC3\xA9";
    e65 = e64 + "\xC3\xA9";
    CHECK(parse(R"({"type":"ping","message_id":")" + e64 + "\"}").status == ParseStatus::ok);
    CHECK(parse(R"({"type":"ping","message_id":")" + e65 + "\"}").status == ParseStatus::malformed);
}

TEST_CASE("message_id is required for every type but ping", "[protocol]") {
    for (const char* type : kNonPingTypes) {
        std::string text = std::string(R"({"type":")") + type + R"(","data":{"token":"t","group_id":"g"}})";
        INFO(text);
        ParseResult r = parse(text);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(r.message == std::string("message_id: required for ") + type);
        CHECK_FALSE(r.message_id.has_value());
    }
    ParseResult r = parse(R"({"type":"ping"})");
    CHECK(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::ping);
    CHECK_FALSE(r.message_id.has_value());
    CHECK_FALSE(r.request.message_id.has_value());
    CHECK(r.message.empty());
}

TEST_CASE("ping ignores data, timestamp and unknown fields", "[protocol]") {
    for (const char* text : {R"({"type":"ping","message_id":"p1","timestamp":1732600000000})",
                             R"({"type":"ping","message_id":"p1","timestamp":"yesterday"})",
                             R"({"type":"ping","message_id":"p1","timestamp":null,"data":5})",
                             R"({"type":"ping","message_id":"p1","data":{"anything":[1,2,{"x":null}]}})",
                             R"({"extra":{"deep":[[1]]},"type":"ping","zzz":true,"message_id":"p1"})"}) {
        INFO(text);
        ParseResult r = parse(text);
        REQUIRE(r.status == ParseStatus::ok);
        CHECK(r.request.type == RequestType::ping);
        CHECK(*r.message_id == "p1");
    }
}

TEST_CASE("duplicate members: the first one counts", "[protocol]") {
    ParseResult r = parse(R"({"type":"ping","message_id":"first","message_id":"second"})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.message_id == "first");
    // a key holding U+0000 is not "message_id"
    r = parse(R"({"type":"ping","message_id\u0000":{},"message_id":7})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.message_id == "7");
}

TEST_CASE("nesting: 32 levels are read, 33 are refused", "[protocol]") {
    CHECK(parse(nest(32)).status == ParseStatus::ok);
    ParseResult r = parse(nest(33));
    CHECK(r.status == ParseStatus::malformed);
    CHECK(r.message == "nesting deeper than 32");

    // objects count too; brackets inside strings do not
    std::string objs = R"({"type":"ping","s":"[[[[{{{{\"[[[","x":)";
    for (int i = 0; i < 30; i++) objs += R"({"a":)";
    objs += "1";
    for (int i = 0; i < 30; i++) objs += "}";
    objs += "}";
    CHECK(parse(objs).status == ParseStatus::ok);  // 1 + 30 + ... = 31 levels
    std::string objs33 = R"({"type":"ping","x":)";
    for (int i = 0; i < 32; i++) objs33 += R"({"a":)";
    objs33 += "1" + std::string(33, '}');
    CHECK(parse(objs33).status == ParseStatus::malformed);

    // a deep send_message: 400, and its readable message_id is reported
    std::string deep =
        R"({"type":"send_message","message_id":"deep-1","data":{"group_id":"g","msg_type":1,"content":)" +
        std::string(40, '[') + std::string(40, ']') + "}}";
    r = parse(deep);
    CHECK(r.status == ParseStatus::malformed);
    CHECK(r.message == "nesting deeper than 32");
    REQUIRE(r.message_id.has_value());
    CHECK(*r.message_id == "deep-1");
    // also when the message_id comes after the deep part, and as an integer
    r = parse(R"({"data":)" + std::string(50, '[') + std::string(50, ']') + R"(,"type":"join_group","message_id":42})");
    REQUIRE(r.message_id.has_value());
    CHECK(*r.message_id == "42");
    r = parse(R"({"message_id":1.5,"x":)" + std::string(50, '[') + std::string(50, ']') + "}");
    CHECK_FALSE(r.message_id.has_value());
}

TEST_CASE("100,000 nested brackets are refused quickly", "[protocol]") {
    const std::string open(100000, '[');
    const std::string both = open + std::string(100000, ']');
    const std::string env = R"({"type":"ping","message_id":"m","x":)" + both + "}";
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; i++) {
        ParseResult r = parse(open);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(r.message == "nesting deeper than 32");
        r = parse(env);
        CHECK(r.status == ParseStatus::malformed);
        CHECK(*r.message_id == "m");
        r = parse(std::string(100000, '{'));
        CHECK(r.status == ParseStatus::malformed);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms < 1000);  // about 1 ms per frame even under ASan
}

TEST_CASE("raw positions map to the right members around nested values", "[protocol]") {
    std::string text =
        R"({"a":{"b":[1,{"c":2}],"d":"x:y","message_id":1.5},"e":[{"f":1},"message_id"],"s":"\"message_id\":3",)"
        R"("message_id":9007199254740992,"type":"send_message",)"
        R"("data":{"z":{"msg_type":1.5},"q":[2.5],"msg_type":2147483647,"group_id":"g","content":"c","w":1.5}})";
    ParseResult r = parse(text);
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.message_id == "9007199254740992");
    CHECK(r.request.msg_type == 2147483647);
    // a UTF-8 byte order mark (which cJSON skips) does not shift the map
    r = parse("\xEF\xBB\xBF" + text);
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.message_id == "9007199254740992");
    CHECK(r.request.msg_type == 2147483647);
}

TEST_CASE("truncated and mutated frames never crash", "[protocol]") {
    const std::vector<std::string> seeds = {
        R"({"type":"send_message","message_id":17,"timestamp":1.5,"data":{"group_id":"g\u0000","msg_type":1,"content":"h\ud83d\ude00\"\\"}})",
        R"({"type":"auth","message_id":"a\u0000","data":{"token":"x.y.z","since":"1-2"}})",
        R"({"type":"mark_read","message_id":-9007199254740992,"data":{"group_id":"g","message_id":"1-0","x":[[[{}]]]}})",
        R"({"type":"ping","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
    };
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    auto next = [&rng] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    const char alphabet[] = "{}[]\":,\\u0-1e.5 \x01\x7f\xC3trufalsn";
    size_t ok = 0, total = 0;
    for (const std::string& seed : seeds) {
        for (size_t len = 0; len <= seed.size(); len++) {
            ParseResult r = parse(seed.substr(0, len));
            total++;
            ok += r.status == ParseStatus::ok;
        }
        for (int round = 0; round < 3000; round++) {
            std::string m = seed;
            int edits = 1 + static_cast<int>(next() % 4);
            for (int e = 0; e < edits; e++) {
                size_t pos = next() % (m.size() + 1);
                char c = alphabet[next() % (sizeof alphabet - 1)];
                switch (next() % 3) {
                case 0:
                    if (pos < m.size()) m[pos] = c;
                    break;
                case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(pos), c); break;
                default:
                    if (pos < m.size()) m.erase(pos, 1);
                    break;
                }
            }
            ParseResult r = parse(m);
            total++;
            if (r.status == ParseStatus::ok) {
                ok++;
                CHECK(r.message.empty());
                if (r.request.type != RequestType::ping) CHECK(r.request.message_id.has_value());
            } else {
                CHECK_FALSE(r.message.empty());
            }
            if (r.message_id) CHECK((!r.message_id->empty() && r.message_id->size() <= 128));
        }
    }
    CHECK(ok > 0);
    CHECK(ok < total);
}

// ============================================================================
// Parsing: 422 invalid_field
// ============================================================================

namespace {

ParseResult req(const char* type, const std::string& data_json, const std::string& message_id = "\"r1\"") {
    std::string text = std::string(R"({"type":")") + type + R"(","message_id":)" + message_id + ",\"timestamp\":1";
    if (!data_json.empty()) text += ",\"data\":" + data_json;
    text += "}";
    return parse(text);
}

void expect_422(const char* type, const std::string& data_json, const std::string& message) {
    INFO(type << " " << data_json);
    ParseResult r = req(type, data_json);
    CHECK(r.status == ParseStatus::invalid_field);
    CHECK(r.message == message);
    REQUIRE(r.message_id.has_value());
    CHECK(*r.message_id == "r1");
    CHECK(r.request.message_id == r.message_id);
    CHECK(request_type_name(r.request.type) == type);
}

const char* const kErrGroup = "data.group_id: required string of 1..128 bytes without control characters";

}  // namespace

TEST_CASE("data must be an object on every type but ping", "[protocol]") {
    for (const char* type : kNonPingTypes) {
        expect_422(type, "", "data: required object");
        for (const char* d : {"null", "[]", "[{\"group_id\":\"g\"}]", "\"x\"", "5", "true"}) {
            expect_422(type, d, "data: required object");
        }
    }
}

TEST_CASE("auth fields", "[protocol]") {
    const char* tok = "data.token: required non-empty string";
    expect_422("auth", "{}", tok);
    expect_422("auth", R"({"token":""})", tok);
    expect_422("auth", R"({"token":5})", tok);
    expect_422("auth", R"({"token":null})", tok);
    expect_422("auth", R"({"token":["a"]})", tok);
    expect_422("auth", R"({"Token":"abc"})", tok);
    const char* since = "data.since: must be a stream id string (\"<ms>-<seq>\")";
    for (const char* s :
         {"5", "\"\"", "\"abc\"", "\"-1\"", "\"1-2-3\"", "\"1-\"", "{}", "true", "\"18446744073709551616-0\""}) {
        expect_422("auth", std::string(R"({"token":"abc","since":)") + s + "}", since);
    }

    ParseResult r = req("auth", R"({"token":"a.b.c","extra":1})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::auth);
    CHECK(r.request.token == "a.b.c");
    CHECK_FALSE(r.request.since.has_value());
    r = req("auth", R"({"token":"a.b.c","since":null})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK_FALSE(r.request.since.has_value());
    r = req("auth", R"({"token":"a.b.c","since":"1732600000000-3"})", "99");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.request.since == "1732600000000-3");
    CHECK(*r.request.message_id == "99");
    r = req("auth", R"({"token":"t","since":"0"})");
    CHECK(*r.request.since == "0-0");
    r = req("auth", R"({"token":"t","since":"007-01"})");
    CHECK(*r.request.since == "7-1");
}

TEST_CASE("send_message fields", "[protocol]") {
    const std::string ok_rest = R"(,"msg_type":1,"content":"hi"})";
    for (const char* g : {"", R"(,"group_id":"")", R"(,"group_id":5)", R"(,"group_id":null)", R"(,"group_id":["g"])",
                          R"(,"group_id":"a\nb")", R"(,"group_id":"a\u0001")", R"(,"group_id":"a\u007f")",
                          R"(,"group_id":"a\u0000")", "\x2c\"group_id\":\"a\x7f\""}) {
        expect_422("send_message", std::string(R"({"x":0)") + g + ok_rest, kErrGroup);
    }
    expect_422("send_message", R"({"group_id":")" + std::string(129, 'g') + "\"" + ok_rest, kErrGroup);

    const char* mt = "data.msg_type: required integer 0..2147483647";
    for (const char* m : {"", R"(,"msg_type":"1")", R"(,"msg_type":1.5)", R"(,"msg_type":1.0)", R"(,"msg_type":1e0)",
                          R"(,"msg_type":-1)", R"(,"msg_type":2147483648)", R"(,"msg_type":9007199254740993)",
                          R"(,"msg_type":null)", R"(,"msg_type":true)"}) {
        expect_422("send_message", std::string(R"({"group_id":"g")") + m + R"(,"content":"hi"})", mt);
    }
    const char* ct = "data.content: required string";
    for (const char* c :
         {"", R"(,"content":5)", R"(,"content":null)", R"(,"content":{"text":"hi"})", R"(,"content":["hi"])"}) {
        expect_422("send_message", std::string(R"({"group_id":"g","msg_type":1)") + c + "}", ct);
    }

    ParseResult r =
        req("send_message", R"({"group_id":")" + std::string(128, 'g') + R"(","msg_type":2147483647,"content":""})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.group_id == std::string(128, 'g'));
    CHECK(r.request.msg_type == 2147483647);
    CHECK(r.request.content.empty());
    r = req("send_message", R"({"content":"h\u00e9 \"q\" \\ \n \ud83d\ude00 \u0000!","msg_type":0,"group_id":"g 1:x"})",
            "17");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::send_message);
    CHECK(*r.request.message_id == "17");
    CHECK(r.request.group_id == "g 1:x");
    CHECK(r.request.msg_type == 0);
    CHECK(r.request.content == std::string("h\xC3\xA9 \"q\" \\ \n \xF0\x9F\x98\x80 \0!", 19));
    r = req("send_message", R"({"group_id":"g","msg_type":-0,"content":"x"})");
    CHECK(r.status == ParseStatus::ok);
    CHECK(r.request.msg_type == 0);
}

TEST_CASE("join_group, leave_group and mark_read fields", "[protocol]") {
    for (const char* type : {"join_group", "leave_group", "mark_read"}) {
        expect_422(type, "{}", kErrGroup);
        expect_422(type, R"({"group_id":""})", kErrGroup);
        expect_422(type, R"({"group_id":1})", kErrGroup);
        expect_422(type, R"({"group_id":")" + std::string(129, 'g') + "\"}", kErrGroup);
    }
    const char* since = "data.since: must be a stream id string (\"<ms>-<seq>\")";
    expect_422("join_group", R"({"group_id":"g","since":"x"})", since);
    expect_422("join_group", R"({"group_id":"g","since":17})", since);
    const char* rid = "data.message_id: required stream id string (\"<ms>-<seq>\")";
    expect_422("mark_read", R"({"group_id":"g"})", rid);
    expect_422("mark_read", R"({"group_id":"g","message_id":null})", rid);
    expect_422("mark_read", R"({"group_id":"g","message_id":17})", rid);
    expect_422("mark_read", R"({"group_id":"g","message_id":"c-17"})", rid);
    expect_422("mark_read", R"({"group_id":"g","message_id":""})", rid);

    ParseResult r = req("join_group", R"({"group_id":"g1"})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::join_group);
    CHECK(r.request.group_id == "g1");
    CHECK_FALSE(r.request.since.has_value());
    r = req("join_group", R"({"group_id":"g1","since":"1732600000000-0"})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(*r.request.since == "1732600000000-0");
    r = req("leave_group", R"({"group_id":"g1","since":"junk"})");  // leave_group has no since
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::leave_group);
    CHECK(r.request.group_id == "g1");
    r = req("mark_read", R"({"group_id":"g1","message_id":"1732600000000-5"})");
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.type == RequestType::mark_read);
    CHECK(r.request.read_message_id == "1732600000000-5");
    CHECK(*r.request.message_id == "r1");  // the envelope's, not data's
}

TEST_CASE("request type names", "[protocol]") {
    CHECK(request_type_name(RequestType::ping) == "ping");
    CHECK(request_type_name(RequestType::auth) == "auth");
    CHECK(request_type_name(RequestType::send_message) == "send_message");
    CHECK(request_type_name(RequestType::join_group) == "join_group");
    CHECK(request_type_name(RequestType::leave_group) == "leave_group");
    CHECK(request_type_name(RequestType::mark_read) == "mark_read");
}

// ============================================================================
// Building
// ============================================================================

TEST_CASE("pong", "[protocol]") {
    CHECK(build_pong(std::string("p1"), 1732600000123) ==
          R"({"type":"pong","message_id":"p1","timestamp":1732600000123})");
    CHECK(build_pong(std::nullopt, 5) == R"({"type":"pong","timestamp":5})");
}

TEST_CASE("auth_success and auth_failed", "[protocol]") {
    std::string s = build_auth_success(std::string("a1"), "123", "sess-9", 1732686400000, 1732600000000);
    CHECK(s == R"({"type":"auth_success","message_id":"a1","timestamp":1732600000000,)"
               R"("data":{"user_id":"123","session_id":"sess-9","expires_at":1732686400000}})");
    Json j(s);
    REQUIRE(j.p);
    CHECK(keys(j.p) == Keys{"type", "message_id", "timestamp", "data"});
    CHECK(keys(get(j.p, "data")) == Keys{"user_id", "session_id", "expires_at"});
    CHECK(num(get(j.p, "data"), "expires_at") == 1732686400000.0);

    CHECK(build_auth_success(std::nullopt, "u", "s", 2000, 1) ==
          R"({"type":"auth_success","timestamp":1,"data":{"user_id":"u","session_id":"s","expires_at":2000}})");
    CHECK(build_auth_failed(std::nullopt, "auth timeout", 7) ==
          R"({"type":"auth_failed","timestamp":7,"data":{"message":"auth timeout"}})");
    CHECK(build_auth_failed(std::string("9"), "invalid token", 7) ==
          R"({"type":"auth_failed","message_id":"9","timestamp":7,"data":{"message":"invalid token"}})");
}

TEST_CASE("error", "[protocol]") {
    CHECK(build_error(std::nullopt, ReplyCode::bad_request, "invalid JSON", 3) ==
          R"({"type":"error","timestamp":3,"data":{"code":400,"message":"invalid JSON"}})");
    std::string s = build_error(std::string("m\"1"), ReplyCode::conflict, "already authenticated as another user", 3);
    Json j(s);
    REQUIRE(j.p);
    CHECK(keys(j.p) == Keys{"type", "message_id", "timestamp", "data"});
    CHECK(str(j.p, "message_id") == "m\"1");
    CHECK(keys(get(j.p, "data")) == Keys{"code", "message"});
    CHECK(num(get(j.p, "data"), "code") == 409);
}

TEST_CASE("ack success and failure", "[protocol]") {
    CHECK(build_ack_ok("c-17", 10) ==
          R"({"type":"ack","message_id":"c-17","timestamp":10,"data":{"message_id":"c-17","success":true}})");
    AckExtra sent;
    sent.server_message_id = "1732600000000-0";
    CHECK(build_ack_ok("c-17", 10, sent) ==
          R"({"type":"ack","message_id":"c-17","timestamp":10,"data":{"message_id":"c-17","success":true,)"
          R"("server_message_id":"1732600000000-0"}})");
    AckExtra dup = sent;
    dup.duplicate = true;
    {
        Json j(build_ack_ok("c-17", 10, dup));
        REQUIRE(j.p);
        CHECK(keys(j.p) == Keys{"type", "message_id", "timestamp", "data"});
        CHECK(str(j.p, "type") == "ack");
        CHECK(str(j.p, "message_id") == "c-17");
        CHECK(num(j.p, "timestamp") == 10);
        const cJSON* d = get(j.p, "data");
        CHECK(keys(d) == Keys{"message_id", "success", "server_message_id", "duplicate"});
        CHECK(str(d, "message_id") == "c-17");
        CHECK(is_true(d, "success"));
        CHECK(str(d, "server_message_id") == "1732600000000-0");
        CHECK(is_true(d, "duplicate"));
    }
    AckExtra trunc;
    trunc.truncated = true;
    CHECK(
        build_ack_ok("j1", 10, trunc) ==
        R"({"type":"ack","message_id":"j1","timestamp":10,"data":{"message_id":"j1","success":true,"truncated":true}})");

    std::string f = build_ack_fail("c-18", ReplyCode::storage_unavailable, "storage unavailable", 11);
    CHECK(f == R"({"type":"ack","message_id":"c-18","timestamp":11,"data":{"message_id":"c-18","success":false,)"
               R"("code":503,"message":"storage unavailable"}})");
    Json j(f);
    REQUIRE(j.p);
    const cJSON* d = get(j.p, "data");
    CHECK(keys(d) == Keys{"message_id", "success", "code", "message"});
    CHECK(is_false(d, "success"));
    CHECK(num(d, "code") == 503);
}

TEST_CASE("new_message live and replayed copies differ only by replay", "[protocol]") {
    StoredMessage m{"g1", "1732600000000-0", "c-17", "123", 1, "hello", 1732600000000};
    std::string live = build_new_message(m, false);
    std::string replay = build_new_message(m, true);
    CHECK(live == R"({"type":"new_message","message_id":"1732600000000-0","timestamp":1732600000000,"data":{)"
                  R"("group_id":"g1","message_id":"1732600000000-0","client_message_id":"c-17","sender_id":"123",)"
                  R"("msg_type":1,"content":"hello","timestamp":1732600000000}})");
    CHECK(replay == live.substr(0, live.size() - 2) + R"(,"replay":true}})");

    Json a(live), b(replay);
    REQUIRE(a.p);
    REQUIRE(b.p);
    CHECK(keys(a.p) == Keys{"type", "message_id", "timestamp", "data"});
    CHECK(keys(b.p) == Keys{"type", "message_id", "timestamp", "data"});
    const Keys fields{"group_id", "message_id", "client_message_id", "sender_id", "msg_type", "content", "timestamp"};
    CHECK(keys(get(a.p, "data")) == fields);
    Keys with_replay = fields;
    with_replay.push_back("replay");
    CHECK(keys(get(b.p, "data")) == with_replay);
    CHECK(is_true(get(b.p, "data"), "replay"));
    CHECK(get(get(a.p, "data"), "replay") == nullptr);
    CHECK(num(get(a.p, "data"), "msg_type") == 1);
    CHECK(num(get(a.p, "data"), "timestamp") == 1732600000000.0);
}

TEST_CASE("notification inserts the publisher's object verbatim", "[protocol]") {
    std::string n = build_notification("1732600000001-0", R"({"title":"Hi","n":[1,2]})", 1732600000001, false);
    CHECK(n == R"({"type":"notification","message_id":"1732600000001-0","timestamp":1732600000001,"data":{)"
               R"("notification_id":"1732600000001-0","data":{"title":"Hi","n":[1,2]},"timestamp":1732600000001}})");
    std::string r = build_notification("1732600000001-0", R"({"title":"Hi","n":[1,2]})", 1732600000001, true);
    CHECK(r == n.substr(0, n.size() - 2) + R"(,"replay":true}})");
    Json j(r);
    REQUIRE(j.p);
    CHECK(keys(j.p) == Keys{"type", "message_id", "timestamp", "data"});
    CHECK(keys(get(j.p, "data")) == Keys{"notification_id", "data", "timestamp", "replay"});
    CHECK(keys(get(get(j.p, "data"), "data")) == Keys{"title", "n"});
    CHECK(
        build_notification("1-0", "", 1, false) ==
        R"({"type":"notification","message_id":"1-0","timestamp":1,"data":{"notification_id":"1-0","data":{},"timestamp":1}})");
}

TEST_CASE("strings are escaped and round-trip", "[protocol]") {
    std::string nasty = "q\"b\\s/ \b\f\n\r\t \x01\x1f\x7f h\xC3\xA9 \xF0\x9F\x98\x80 </script>";
    std::string e;
    json_append_string(e, nasty);
    CHECK(e == "\"q\\\"b\\\\s/ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f h\xC3\xA9 \xF0\x9F\x98\x80 </script>\"");
    e.clear();
    json_append_string(e, std::string_view("a\0b", 3));
    CHECK(e == "\"a\\u0000b\"");
    e.clear();
    json_append_string(e, "");
    CHECK(e == "\"\"");

    StoredMessage m{nasty, "1-0", nasty, nasty, 7, nasty, 1};
    Json j(build_new_message(m, false));
    REQUIRE(j.p);
    const cJSON* d = get(j.p, "data");
    for (const char* k : {"group_id", "client_message_id", "sender_id", "content"}) CHECK(str(d, k) == nasty);

    // a built frame parses back through parse_request too
    std::string text = build_error(nasty, ReplyCode::bad_request, nasty, 1);
    Json k(text);
    REQUIRE(k.p);
    CHECK(str(get(k.p, "data"), "message") == nasty);

    // every control character
    std::string all;
    for (int c = 0; c < 0x20; c++) all.push_back(static_cast<char>(c));
    std::string req_text = R"({"type":"send_message","message_id":)";
    json_append_string(req_text, "x");
    req_text += R"(,"data":{"group_id":"g","msg_type":1,"content":)";
    json_append_string(req_text, all);
    req_text += "}}";
    ParseResult r = parse(req_text);
    REQUIRE(r.status == ParseStatus::ok);
    CHECK(r.request.content == all);
}

TEST_CASE("the escaper matches a byte-by-byte reference at every length and position", "[protocol][json_writer]") {
    auto reference = [](std::string_view s) {
        std::string o = "\"";
        for (unsigned char b : s) {
            switch (b) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\b': o += "\\b"; break;
            case '\f': o += "\\f"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (b < 0x20) {
                    char u[8];
                    std::snprintf(u, sizeof u, "\\u%04x", b);
                    o += u;
                } else {
                    o.push_back(static_cast<char>(b));
                }
            }
        }
        return o + "\"";
    };
    const unsigned char specials[] = {'"', '\\', 0x00, 0x01, 0x08, 0x0a, 0x1f, 0x20, 0x7f, 0x80, 0xff, 'A'};
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 97, 200}) {
        const std::string base(len, 'x');
        std::string out;
        json_append_string(out, base);
        CHECK(out == reference(base));
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned char c : specials) {
                std::string s = base;
                s[pos] = static_cast<char>(c);
                out = "prefix";
                json_append_string(out, s);
                if (out != "prefix" + reference(s)) {
                    FAIL_CHECK("len " << len << " pos " << pos << " byte " << int(c));
                }
            }
        }
    }
    JsonWriter w;
    w.begin_object().key(std::string(100, 'k') + "\"").int_value(1).key(std::string(94, 'k')).int_value(2).end_object();
    CHECK(w.take() == "{\"" + std::string(100, 'k') + "\\\"\":1,\"" + std::string(94, 'k') + "\":2}");
}

TEST_CASE("JsonWriter places commas in nested containers", "[protocol][json_writer]") {
    JsonWriter w(8);
    w.begin_object()
        .field_int("a", -9223372036854775807 - 1)
        .key("b")
        .begin_array()
        .int_value(1)
        .begin_object()
        .end_object()
        .begin_array()
        .end_array()
        .null_value()
        .bool_value(false)
        .string_value("s")
        .raw_value("[0]")
        .end_array()
        .field_raw("c", "{\"x\":1}")
        .key("d")
        .begin_object()
        .field_bool("e", true)
        .end_object()
        .end_object();
    CHECK(w.str() == R"({"a":-9223372036854775808,"b":[1,{},[],null,false,"s",[0]],"c":{"x":1},"d":{"e":true}})");
    std::string s = w.take();
    CHECK(w.str().empty());
    w.begin_array().int_value(1).int_value(2).end_array();
    CHECK(w.take() == "[1,2]");
    w.begin_object().field_str("k\"", "v").end_object();
    CHECK(w.take() == R"({"k\"":"v"})");
}
