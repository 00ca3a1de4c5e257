// The HTTP API for business services (PROTOCOL.md section 9, issue 14):
// two pushd instances on one real Redis, each with its API listener; the
// requests go to one instance and their effects are checked on both.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

using namespace pushd::test;
using pushd::HttpRequest;
using pushd::HttpResponse;
using pushd::WsClientHub;

namespace {

const char* kApiKey = "api-key-0123456789abcdef";

// One pushd with its API on a free port.
struct ApiInstance {
    PushdProcess process;
    uint16_t api_port = 0;

    bool start(uint16_t redis_port, ConfigOverrides extra = {}) {
        api_port = free_port();
        extra.push_back({"Api.Listen", "\"127.0.0.1:" + std::to_string(api_port) + "\""});
        extra.push_back({"Api.Keys", std::string("[\"") + kApiKey + "\"]"});
        extra.push_back({"Limits.MaxMessageBytes", "4096"});
        if (!process.start(standard_options(redis_port, extra))) return false;
        return wait_until([&] { return process.get("/health", 1000).status == 200; }, 10000, 50);
    }

    HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                      const std::string& key = kApiKey) const {
        HttpRequest req;
        req.method = method;
        req.path = path;
        req.body = body;
        if (!key.empty()) req.headers.push_back({"Authorization", "apikey " + key});
        return pushd::http_request("127.0.0.1", api_port, req, 5000);
    }
};

std::string auth(const std::string& token) {
    return R"({"type":"auth","message_id":"auth","data":{"token":")" + token + R"("}})";
}

std::string join(const std::string& group) {
    return R"({"type":"join_group","message_id":"j","data":{"group_id":")" + group + "\"}}";
}

// The next message of `type` on connection `c` (others skipped), or "".
std::string next_of(WsClientHub& hub, int c, const std::string& type, int timeout_ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
        auto m = hub.recv_text(c, 100);
        if (m && jfield(*m, "type") == type) return *m;
    }
    return "";
}

// A connection of `user` on `p`, authenticated (and in `group` if given).
int connect_user(WsClientHub& hub, const PushdProcess& p, const std::string& user, const std::string& group = "") {
    int c = hub.connect(p.ws_options());
    REQUIRE(hub.wait_open(c, 5000));
    hub.send_text(c, auth(user_token(user)));
    REQUIRE(next_of(hub, c, "auth_success") != "");
    if (!group.empty()) {
        hub.send_text(c, join(group));
        REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    }
    return c;
}

// The status and the error body's code agree, and the body is the
// contract's error object.
void check_error(const HttpResponse& r, int status) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(jfield(r.body, "error.code") == std::to_string(status));
    CHECK_FALSE(jfield(r.body, "error.message").empty());
}

}  // namespace

TEST_CASE("api: every refusal of section 9, in its order, with the error body", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a;
    REQUIRE(a.start(redis.port()));
    const std::string ok_publish = R"({"group_id":"g","sender_id":"u","content":"hi"})";

    // 401: no key, a wrong key, a key of the right length but other bytes;
    // before 404 for an unknown /api/ path.
    check_error(a.call("POST", "/api/publish", ok_publish, ""), 401);
    check_error(a.call("POST", "/api/publish", ok_publish, "wrong"), 401);
    check_error(a.call("POST", "/api/publish", ok_publish, "api-key-0123456789abcdeX"), 401);
    check_error(a.call("GET", "/api/nothing", "", ""), 401);
    // 404, then 405 (a known path, another method).
    check_error(a.call("GET", "/api/nothing"), 404);
    check_error(a.call("GET", "/nothing"), 404);
    check_error(a.call("GET", "/ws"), 404);  // the WebSocket path is not served here
    check_error(a.call("GET", "/api/publish"), 405);
    check_error(a.call("POST", "/api/history", "{}"), 405);
    check_error(a.call("DELETE", "/api/revoke"), 405);
    // 413 before 400: a body over Limits.MaxMessageBytes, JSON or not.
    check_error(a.call("POST", "/api/publish", std::string(5000, 'x')), 413);
    // 400: not a JSON object; then 422 for a field.
    check_error(a.call("POST", "/api/publish", "not json"), 400);
    check_error(a.call("POST", "/api/publish", "[1,2]"), 400);
    check_error(a.call("POST", "/api/publish", ""), 400);
    check_error(a.call("POST", "/api/publish", R"({"group_id":"g","sender_id":"u"})"), 422);
    check_error(a.call("POST", "/api/publish", R"({"group_id":"","sender_id":"u","content":"x"})"), 422);
    check_error(a.call("POST", "/api/notify", R"({"target":"nobody:1","data":{}})"), 422);
    check_error(a.call("POST", "/api/notify", R"({"target":"all","data":"text"})"), 422);
    check_error(a.call("POST", "/api/disconnect", R"({"reason":"x"})"), 422);
    check_error(a.call("POST", "/api/revoke", R"({"user_id":"u"})"), 422);
    check_error(a.call("POST", "/api/revoke", R"({"user_id":"u","seconds":0})"), 422);
    check_error(a.call("GET", "/api/history"), 422);
    check_error(a.call("GET", "/api/history?group=g&limit=0"), 422);
    check_error(a.call("GET", "/api/history?group=g&limit=1001"), 422);
    check_error(a.call("GET", "/api/presence"), 422);
    check_error(a.call("GET", "/api/presence?group=g&user=u"), 422);
    // The listener also answers /health, /stats and /metrics.
    CHECK(a.call("GET", "/health", "", "").body == "OK");
    CHECK(jfield(a.call("GET", "/stats", "", "").body, "connections") == "0");
    CHECK(a.call("GET", "/metrics", "", "").body.find("pushd_connections") != std::string::npos);
    // ...and the WebSocket port serves no /api/ route.
    CHECK(a.process.get("/api/publish").status == 404);

    // 503 while Redis is away; every valid request answers it.
    redis.stop();
    REQUIRE(wait_until([&] { return a.process.get("/health", 1000).status == 503; }, 10000, 50));
    check_error(a.call("POST", "/api/publish", ok_publish), 503);
    check_error(a.call("POST", "/api/notify", R"({"target":"all","data":{}})"), 503);
    check_error(a.call("GET", "/api/history?group=g"), 503);
    check_error(a.call("POST", "/api/disconnect", R"({"user_id":"u"})"), 503);
    check_error(a.call("POST", "/api/revoke", R"({"user_id":"u","seconds":5})"), 503);
    CHECK(a.process.running());
}

TEST_CASE("api publish: stored once, pushed on every instance, deduplicated like send_message", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port()));
    REQUIRE(b.start(redis.port()));
    WsClientHub hub;
    const int on_a = connect_user(hub, a.process, "alice", "room");
    const int on_b = connect_user(hub, b.process, "bob", "room");

    const std::string body =
        R"({"group_id":"room","sender_id":"svc","content":"hello","msg_type":7,"message_id":"m-1"})";
    HttpResponse first = a.call("POST", "/api/publish", body);
    REQUIRE(first.status == 200);
    const std::string id = jfield(first.body, "message_id");
    CHECK(jfield(first.body, "client_message_id") == "m-1");
    CHECK(jfield(first.body, "duplicate") == "false");
    for (int c : {on_a, on_b}) {
        const std::string m = next_of(hub, c, "new_message");
        CHECK(jfield(m, "data.message_id") == id);
        CHECK(jfield(m, "data.sender_id") == "svc");
        CHECK(jfield(m, "data.content") == "hello");
        CHECK(jfield(m, "data.msg_type") == "7");
    }
    // The retry, on the other instance: the same id, nothing pushed again.
    HttpResponse retry = b.call("POST", "/api/publish", body);
    REQUIRE(retry.status == 200);
    CHECK(jfield(retry.body, "message_id") == id);
    CHECK(jfield(retry.body, "duplicate") == "true");
    CHECK(next_of(hub, on_b, "new_message", 500).empty());
    // Without message_id: a new message each time.
    HttpResponse plain = a.call("POST", "/api/publish", R"({"group_id":"room","sender_id":"svc","content":"x"})");
    REQUIRE(plain.status == 200);
    CHECK(jfield(plain.body, "message_id") != id);
    CHECK(jfield(plain.body, "duplicate") == "false");
    CHECK(jfield(next_of(hub, on_b, "new_message"), "data.content") == "x");
}

TEST_CASE("api notify: to users on every instance, stored in their inboxes", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port()));
    REQUIRE(b.start(redis.port()));
    WsClientHub hub;
    const int carol = connect_user(hub, b.process, "carol");
    HttpResponse r = a.call("POST", "/api/notify", R"({"target":"user:carol","data":{"title":"hi"}})");
    REQUIRE(r.status == 200);
    const std::string id = jfield(r.body, "notification_id");
    REQUIRE_FALSE(id.empty());
    const std::string n = next_of(hub, carol, "notification");
    CHECK(jfield(n, "data.notification_id") == id);
    CHECK(jfield(n, "data.data.title") == "hi");
    REQUIRE(wait_until([&] { return redis_command(redis.port(), {"XLEN", "pushd:inbox:carol"}).integer == 1; }, 5000));
    REQUIRE(a.call("POST", "/api/notify", R"({"target":"all","data":{"k":1}})").status == 200);
    CHECK(jfield(next_of(hub, carol, "notification"), "data.data.k") == "1");
}

TEST_CASE("api history: newest limit, paging with since, truncated after trimming", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a;
    REQUIRE(a.start(redis.port()));
    std::vector<std::string> ids;
    for (int i = 1; i <= 5; i++) {
        HttpResponse r = a.call("POST", "/api/publish",
                                R"({"group_id":"h","sender_id":"s","content":"m)" + std::to_string(i) + "\"}");
        REQUIRE(r.status == 200);
        ids.push_back(jfield(r.body, "message_id"));
    }
    HttpResponse newest = a.call("GET", "/api/history?group=h&limit=2");
    REQUIRE(newest.status == 200);
    CHECK(jfield(newest.body, "messages.0.content") == "m4");
    CHECK(jfield(newest.body, "messages.1.content") == "m5");
    CHECK(jfield(newest.body, "messages.1.message_id") == ids[4]);
    CHECK(jfield(newest.body, "messages.1.group_id") == "h");
    CHECK(jfield(newest.body, "truncated") == "false");
    CHECK(jfield(a.call("GET", "/api/history?group=h").body, "messages.4.content") == "m5");  // default 100
    // Paging forward from the first id.
    HttpResponse page = a.call("GET", "/api/history?group=h&since=" + ids[0] + "&limit=2");
    REQUIRE(page.status == 200);
    CHECK(jfield(page.body, "messages.0.content") == "m2");
    CHECK(jfield(page.body, "messages.1.content") == "m3");
    CHECK(jfield(page.body, "messages.2.content").empty());
    CHECK(jfield(a.call("GET", "/api/history?group=empty").body, "messages") == "[]");
    // Trimmed below what `since` names: truncated.
    REQUIRE(redis_command(redis.port(), {"XTRIM", "pushd:group:h", "MAXLEN", "2"}).integer == 3);
    HttpResponse gone = a.call("GET", "/api/history?group=h&since=" + ids[0]);
    CHECK(jfield(gone.body, "truncated") == "true");
    CHECK(jfield(gone.body, "messages.0.content") == "m4");
    CHECK(jfield(a.call("GET", "/api/history?group=h&limit=10").body, "truncated") == "true");
}

TEST_CASE("api disconnect: the user's connections on every instance close with 4010 within 1 s", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port()));
    REQUIRE(b.start(redis.port()));
    WsClientHub hub;
    const int d1 = connect_user(hub, a.process, "dave"), d2 = connect_user(hub, b.process, "dave");
    const int other = connect_user(hub, b.process, "erin");
    const auto asked = std::chrono::steady_clock::now();
    REQUIRE(a.call("POST", "/api/disconnect", R"({"user_id":"dave","reason":"maintenance"})").status == 200);
    for (int c : {d1, d2}) {
        REQUIRE(hub.wait_closed(c, 1000));
        CHECK(hub.close_code(c) == 4010);
        CHECK(hub.close_reason(c) == "maintenance");
    }
    CHECK(std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(1000));
    CHECK(hub.is_open(other));
    // The client may reconnect at once; no reason given: "disconnected".
    const int again = connect_user(hub, b.process, "dave");
    REQUIRE(a.call("POST", "/api/disconnect", R"({"user_id":"dave"})").status == 200);
    REQUIRE(hub.wait_closed(again, 1000));
    CHECK(hub.close_code(again) == 4010);
    CHECK(hub.close_reason(again) == "disconnected");
}

TEST_CASE("api revoke: tokens issued until then refused everywhere, later ones work, for N seconds", "[api]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port()));
    REQUIRE(b.start(redis.port()));
    WsClientHub hub;
    const std::string old_token =
        make_token(kTestSecret, R"({"userId":"frank","exp":)" + std::to_string(unix_s() + 3600) + R"(,"iat":)" +
                                    std::to_string(unix_s() - 60) + "}");
    const std::string no_iat = user_token("frank");
    const int f1 = hub.connect(a.process.ws_options());
    REQUIRE(hub.wait_open(f1, 5000));
    hub.send_text(f1, auth(old_token));
    REQUIRE(next_of(hub, f1, "auth_success") != "");
    const int f2 = connect_user(hub, b.process, "frank");
    const int other = connect_user(hub, b.process, "grace");

    REQUIRE(a.call("POST", "/api/revoke", R"({"user_id":"frank","seconds":3})").status == 200);
    const auto revoked_at = std::chrono::steady_clock::now();
    for (int c : {f1, f2}) {
        REQUIRE(hub.wait_closed(c, 1000));
        CHECK(hub.close_code(c) == 4001);
        CHECK(hub.close_reason(c) == "token revoked");
    }
    CHECK(hub.is_open(other));
    // auth with an old token (or one without iat): "token revoked", on both.
    for (PushdProcess* p : {&a.process, &b.process}) {
        for (const std::string& t : {old_token, no_iat}) {
            const int c = hub.connect(p->ws_options());
            REQUIRE(hub.wait_open(c, 5000));
            hub.send_text(c, auth(t));
            CHECK(jfield(next_of(hub, c, "auth_failed"), "data.message") == "token revoked");
        }
        // At the handshake: 401.
        const int h = hub.connect(p->ws_options("?token=" + old_token));
        CHECK_FALSE(hub.wait_open(h, 2000));
        CHECK(hub.handshake_status(h) == 401);
    }
    // An instance started later knows it too.
    ApiInstance c;
    REQUIRE(c.start(redis.port()));
    const int late = hub.connect(c.process.ws_options("?token=" + old_token));
    CHECK_FALSE(hub.wait_open(late, 2000));
    CHECK(hub.handshake_status(late) == 401);
    // A token issued after the revocation's second works.
    const std::string fresh = make_token(kTestSecret, R"({"userId":"frank","exp":)" + std::to_string(unix_s() + 3600) +
                                                          R"(,"iat":)" + std::to_string(unix_s() + 2) + "}");
    const int ok = hub.connect(b.process.ws_options());
    REQUIRE(hub.wait_open(ok, 5000));
    hub.send_text(ok, auth(fresh));
    CHECK(next_of(hub, ok, "auth_success") != "");
    // After N seconds the old token works again.
    REQUIRE(
        wait_until([&] { return std::chrono::steady_clock::now() - revoked_at > std::chrono::seconds(3); }, 5000, 50));
    const int back = hub.connect(a.process.ws_options("?token=" + old_token));
    CHECK(hub.wait_open(back, 5000));
}

TEST_CASE("api presence: a group's users and a user's instances, across instances", "[api][presence]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port(), {{"Name", "inst-a"}}));
    REQUIRE(b.start(redis.port(), {{"Name", "inst-b"}}));
    WsClientHub hub;
    connect_user(hub, a.process, "hana", "lobby");
    const int h2 = connect_user(hub, b.process, "hana", "lobby");
    connect_user(hub, b.process, "ivan");
    // Within 2 s, asked of either instance.
    REQUIRE(wait_until([&] { return jfield(a.call("GET", "/api/presence?user=hana").body, "connections") == "2"; },
                       2000, 50));
    const std::string user = b.call("GET", "/api/presence?user=hana").body;
    CHECK(jfield(user, "user_id") == "hana");
    CHECK(jfield(user, "online") == "true");
    CHECK((jfield(user, "instances") == R"(["inst-a","inst-b"])" ||
           jfield(user, "instances") == R"(["inst-b","inst-a"])"));
    const std::string group = b.call("GET", "/api/presence?group=lobby").body;
    CHECK(jfield(group, "group_id") == "lobby");
    CHECK(jfield(group, "users") == R"([{"user_id":"hana","connections":2}])");
    CHECK(jfield(a.call("GET", "/api/presence?user=nobody").body, "online") == "false");
    hub.close(h2);
    REQUIRE(hub.wait_closed(h2, 2000));
    std::string after;
    CHECK(wait_until(
        [&] {
            after = a.call("GET", "/api/presence?group=lobby").body;
            return jfield(after, "users.0.connections") == "1";
        },
        2000, 50));
    INFO(after);
    CHECK(jfield(after, "users") == R"([{"user_id":"hana","connections":1}])");
}

TEST_CASE("pushctl kick, revoke and history act as the API does", "[api][pushctl]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    ApiInstance a, b;
    REQUIRE(a.start(redis.port()));
    REQUIRE(b.start(redis.port()));
    const std::string cfg = a.process.config_path();
    WsClientHub hub;
    const int k = connect_user(hub, b.process, "kim");
    RunResult kick = run_pushctl({"-f", cfg, "kick", "--user", "kim", "--reason", "bye", "--json"});
    CHECK(kick.exit.ok());
    CHECK(kick.output == "{}\n");
    REQUIRE(hub.wait_closed(k, 1000));
    CHECK(hub.close_code(k) == 4010);
    CHECK(hub.close_reason(k) == "bye");

    const int r = connect_user(hub, b.process, "rae");
    RunResult revoke = run_pushctl({"-f", cfg, "revoke", "--user", "rae", "--seconds", "60"});
    CHECK(revoke.exit.ok());
    REQUIRE(hub.wait_closed(r, 1000));
    CHECK(hub.close_code(r) == 4001);
    const int again = hub.connect(a.process.ws_options("?token=" + user_token("rae")));
    CHECK_FALSE(hub.wait_open(again, 2000));
    CHECK(hub.handshake_status(again) == 401);
    CHECK(run_pushctl({"-f", cfg, "revoke", "--user", "rae", "--seconds", "0"}).exit.exit_code == 2);

    for (int i = 1; i <= 3; i++)
        REQUIRE(a.call("POST", "/api/publish",
                       R"({"group_id":"hist","sender_id":"s","content":"c)" + std::to_string(i) + "\"}")
                    .status == 200);
    RunResult json = run_pushctl({"-f", cfg, "history", "--group", "hist", "--limit", "2", "--json"});
    CHECK(json.exit.ok());
    CHECK(json.output == a.call("GET", "/api/history?group=hist&limit=2").body + "\n");
    RunResult human = run_pushctl({"-f", cfg, "history", "--group", "hist"});
    CHECK(human.exit.ok());
    CHECK(human.output.find("\ts\tc1\n") != std::string::npos);
    CHECK(human.output.find("\ts\tc3\n") != std::string::npos);
    const std::string first = jfield(a.call("GET", "/api/history?group=hist").body, "messages.0.message_id");
    RunResult page = run_pushctl({"-f", cfg, "history", "--group", "hist", "--since", first, "--json"});
    CHECK(page.output == a.call("GET", "/api/history?group=hist&since=" + first).body + "\n");
    CHECK(run_pushctl({"-f", cfg, "history", "--group", "hist", "--limit", "0"}).exit.exit_code == 2);
}
