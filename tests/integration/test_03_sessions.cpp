// WebSocket sessions over real connections: the protocol, auth, groups,
// fan-out, limits (PROTOCOL.md sections 2 to 5, one instance).
#include "client/requests.hpp"
#include "harness.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

#include <memory>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

TEST_CASE("close codes: binary 1003, auth timeout 4001", "[sessions][close]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Auth.AuthTimeout", "1"}})));
    WsClientHub hub;
    int bin = hub.connect(pushd.ws_options());
    int idle = hub.connect(pushd.ws_options());
    REQUIRE(hub.wait_open(bin, 5000));
    REQUIRE(hub.wait_open(idle, 5000));
    hub.send_binary(bin, "\x01\x02");
    REQUIRE(hub.wait_closed(bin, 5000));
    CHECK(hub.close_code(bin) == 1003);
    auto m = hub.recv_text(idle, 3000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "auth_failed");
    CHECK(jfield(*m, "data.message") == "auth timeout");
    REQUIRE(hub.wait_closed(idle, 3000));
    CHECK(hub.close_code(idle) == 4001);
}

namespace {

// For tests that send more than Limits.Burst requests at once.
const ConfigOverrides kNoRateLimit = {{"Limits.MessagesPerSecond", "1000000"}, {"Limits.Burst", "10000000"}};

// One redis-server, one pushd on it and a client hub, for the session tests.
struct Instance {
    RedisProcess redis;
    PushdProcess pushd;
    WsClientHub hub;
    explicit Instance(const ConfigOverrides& overrides = {}) {
        REQUIRE(redis.start());
        REQUIRE(pushd.start(standard_options(redis.port(), overrides)));
        // Storage requests get 503 until the Redis links are up.
        REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    }
    // Opens a connection (query e.g. "?token=..."), waits until open.
    int open(const std::string& query = "", std::vector<std::pair<std::string, std::string>> headers = {}) {
        pushd::ConnectOptions o = pushd.ws_options(query);
        for (auto& h : headers) o.headers.push_back(h);
        int c = hub.connect(o);
        REQUIRE(hub.wait_open(c, 5000));
        return c;
    }
    // Opens and authenticates by message; returns the connection.
    int login(const std::string& user) {
        int c = open();
        hub.send_text(c, requests::auth("login", user_token(user)));
        std::string m = next(c);
        REQUIRE(jfield(m, "type") == "auth_success");
        return c;
    }
    std::string next(int c, int timeout_ms = 5000) {
        auto m = hub.recv_text(c, timeout_ms);
        REQUIRE(m);
        return *m;
    }
    // Sends a request and returns the next message (its reply).
    std::string ask(int c, const std::string& json) {
        REQUIRE(hub.send_text(c, json));
        return next(c);
    }
};

}  // namespace

TEST_CASE("ping/pong before auth, with and without message_id", "[sessions][protocol]") {
    Instance s;
    int c = s.open();
    std::string pong = s.ask(c, R"({"type":"ping","message_id":"p1","timestamp":1732600000000})");
    CHECK(jfield(pong, "type") == "pong");
    CHECK(jfield(pong, "message_id") == "p1");
    CHECK(!jfield(pong, "timestamp").empty());
    pong = s.ask(c, R"({"type":"ping"})");
    CHECK(jfield(pong, "type") == "pong");
    CHECK(jfield(pong, "message_id").empty());
    pong = s.ask(c, R"({"type":"ping","message_id":12345})");
    CHECK(jfield(pong, "message_id") == "12345");
}

TEST_CASE("auth by message, by ?token= and by Authorization header", "[sessions][auth]") {
    Instance s;
    SECTION("message") {
        int c = s.open();
        std::string r = s.ask(c, requests::auth("a1", user_token("42")));
        CHECK(jfield(r, "type") == "auth_success");
        CHECK(jfield(r, "message_id") == "a1");
        CHECK(jfield(r, "data.user_id") == "42");
        CHECK(!jfield(r, "data.session_id").empty());
        CHECK(std::stoll(jfield(r, "data.expires_at")) > unix_ms());
    }
    SECTION("query") {
        int c = s.open("?token=" + user_token("q7"));
        std::string r = s.next(c);
        CHECK(jfield(r, "type") == "auth_success");
        CHECK(jfield(r, "data.user_id") == "q7");
    }
    SECTION("header, which wins over the query") {
        int c = s.open("?token=" + user_token("fromquery"), {{"Authorization", "Bearer " + user_token("h9")}});
        std::string r = s.next(c);
        CHECK(jfield(r, "data.user_id") == "h9");
    }
    SECTION("an invalid or empty token at the handshake is refused with 401") {
        for (const std::string& q :
             {std::string("?token=garbage"), std::string("?token="), "?token=" + user_token("x", -10)}) {
            int c = s.hub.connect(s.pushd.ws_options(q));
            CHECK_FALSE(s.hub.wait_open(c, 5000));
            CHECK(s.hub.handshake_status(c) == 401);
        }
        pushd::ConnectOptions o = s.pushd.ws_options();
        o.headers.push_back({"Authorization", "Bearer nope"});
        int c = s.hub.connect(o);
        CHECK_FALSE(s.hub.wait_open(c, 5000));
        CHECK(s.hub.handshake_status(c) == 401);
    }
    SECTION("a wrong path is refused with 404") {
        pushd::ConnectOptions o = s.pushd.ws_options();
        o.path = "/other";
        int c = s.hub.connect(o);
        CHECK_FALSE(s.hub.wait_open(c, 5000));
        CHECK(s.hub.handshake_status(c) == 404);
    }
}

TEST_CASE("auth failures: reasons, three strikes close with 4001, 409 for another user", "[sessions][auth]") {
    Instance s;
    int c = s.open();
    std::string r = s.ask(c, requests::auth("a", make_token(kTestSecret, user_claims("u", -5))));
    CHECK(jfield(r, "type") == "auth_failed");
    CHECK(jfield(r, "data.message") == "token expired");
    r = s.ask(c, requests::auth("b", make_token(kTestSecret, user_claims("u"), "none")));
    CHECK(jfield(r, "data.message") == "invalid token");
    r = s.ask(c, R"({"type":"auth","message_id":"c","data":{}})");
    CHECK(jfield(r, "type") == "auth_failed");
    REQUIRE(s.hub.wait_closed(c, 5000));
    CHECK(s.hub.close_code(c) == 4001);

    int d = s.login("alice");
    r = s.ask(d, requests::auth("x", user_token("bob")));
    CHECK(jfield(r, "type") == "error");
    CHECK(jfield(r, "data.code") == "409");
    CHECK(jfield(r, "message_id") == "x");
    r = s.ask(d, requests::auth("y", user_token("alice")));
    CHECK(jfield(r, "type") == "auth_success");
}

TEST_CASE("a token expiring while connected closes with 4001", "[sessions][auth]") {
    Instance s;
    int c = s.open();
    std::string r = s.ask(c, requests::auth("a", user_token("u", 2)));
    REQUIRE(jfield(r, "type") == "auth_success");
    r = s.next(c, 5000);
    CHECK(jfield(r, "type") == "auth_failed");
    CHECK(jfield(r, "data.message") == "token expired");
    REQUIRE(s.hub.wait_closed(c, 3000));
    CHECK(s.hub.close_code(c) == 4001);
}

TEST_CASE("requests need auth (401); bad frames get 400; bad fields 422", "[sessions][protocol]") {
    Instance s;
    int c = s.open();
    std::string r = s.ask(c, requests::join_group("j1", "g"));
    CHECK(jfield(r, "type") == "ack");
    CHECK(jfield(r, "data.success") == "false");
    CHECK(jfield(r, "data.code") == "401");
    r = s.ask(c, "{not json");
    CHECK(jfield(r, "type") == "error");
    CHECK(jfield(r, "data.code") == "400");
    std::string deep = R"({"type":"ping","message_id":"d","data":)" + std::string(40, '[') + std::string(40, ']') + "}";
    r = s.ask(c, deep);
    CHECK(jfield(r, "data.code") == "400");
    r = s.ask(c, R"({"type":"teleport","message_id":"t"})");
    CHECK(jfield(r, "data.code") == "400");
    CHECK(jfield(r, "message_id") == "t");

    int a = s.login("u1");
    r = s.ask(a, R"({"type":"send_message","message_id":"m","data":{"group_id":"g","msg_type":"one","content":"x"}})");
    CHECK(jfield(r, "type") == "ack");
    CHECK(jfield(r, "data.code") == "422");
    CHECK(jfield(r, "data.message_id") == "m");
    CHECK(s.hub.is_open(a));
}

TEST_CASE("two connections in a group both receive a message, the sender's included, in order", "[sessions][fanout]") {
    Instance s(kNoRateLimit);  // 50 sends at once: the fan-out is under test, not the rate limit
    int a = s.login("alice");
    int b = s.login("bob");
    CHECK(jfield(s.ask(a, requests::join_group("ja", "room")), "data.success") == "true");
    CHECK(jfield(s.ask(b, requests::join_group("jb", "room")), "data.success") == "true");
    const int n = 50;
    for (int i = 0; i < n; i++)
        s.hub.send_text(a, requests::send_message("m" + std::to_string(i), "room", "hello " + std::to_string(i)));
    std::vector<std::string> got_a, got_b;
    int acks = 0;
    while (static_cast<int>(got_a.size()) < n || acks < n) {
        std::string m = s.next(a);
        if (jfield(m, "type") == "ack") {
            CHECK(jfield(m, "data.success") == "true");
            CHECK(!jfield(m, "data.server_message_id").empty());
            acks++;
        } else {
            REQUIRE(jfield(m, "type") == "new_message");
            got_a.push_back(m);
        }
    }
    while (static_cast<int>(got_b.size()) < n) got_b.push_back(s.next(b));
    for (int i = 0; i < n; i++) {
        CHECK(jfield(got_b[i], "data.content") == "hello " + std::to_string(i));
        CHECK(jfield(got_b[i], "data.client_message_id") == "m" + std::to_string(i));
        CHECK(jfield(got_b[i], "data.sender_id") == "alice");
        CHECK(jfield(got_b[i], "data.group_id") == "room");
        CHECK(jfield(got_b[i], "data.msg_type") == "1");
        CHECK(jfield(got_b[i], "message_id") == jfield(got_b[i], "data.message_id"));
        CHECK(got_a[i] == got_b[i]);  // one serialization, byte-identical everywhere
    }
    // leave_group: no more deliveries to b.
    CHECK(jfield(s.ask(b, requests::leave_group("l", "room")), "data.success") == "true");
    s.hub.send_text(a, requests::send_message("after", "room", "late"));
    s.next(a);
    s.next(a);
    CHECK_FALSE(s.hub.recv_text(b, 300));
    // mark_read is acknowledged.
    std::string r = s.ask(a, requests::mark_read("r", "room", jfield(got_a[0], "message_id")));
    CHECK(jfield(r, "data.success") == "true");
}

TEST_CASE("a retried send_message is acked as duplicate and delivered once", "[sessions][fanout]") {
    Instance s;
    int a = s.login("alice");
    s.ask(a, requests::join_group("j", "g"));
    s.hub.send_text(a, requests::send_message("same-id", "g", "once"));
    s.hub.send_text(a, requests::send_message("same-id", "g", "once"));
    std::vector<std::string> msgs;
    for (int i = 0; i < 3; i++) msgs.push_back(s.next(a));
    int pushes = 0, dups = 0;
    for (auto& m : msgs) {
        if (jfield(m, "type") == "new_message") pushes++;
        if (jfield(m, "data.duplicate") == "true") dups++;
    }
    CHECK(pushes == 1);
    CHECK(dups == 1);
    CHECK_FALSE(s.hub.recv_text(a, 300));
}

TEST_CASE("fragmented messages are reassembled; oversize closes 1009; binary 1003; bad UTF-8 1007",
          "[sessions][frames]") {
    Instance s(ConfigOverrides{{"Limits.MaxMessageBytes", "1024"}});
    int c = s.open();
    REQUIRE(s.hub.send_fragments(c, {R"({"type":"pi)", R"(ng","message_)", R"(id":"frag"})"}));
    std::string r = s.next(c);
    CHECK(jfield(r, "type") == "pong");
    CHECK(jfield(r, "message_id") == "frag");
    // Exactly at the limit is fine (a ping padded with an ignored field).
    std::string at_limit = R"({"type":"ping","message_id":"big","pad":")";
    at_limit += std::string(1024 - at_limit.size() - 2, 'x') + "\"}";
    REQUIRE(at_limit.size() == 1024);
    r = s.ask(c, at_limit);
    CHECK(jfield(r, "message_id") == "big");

    int big = s.open();
    s.hub.send_fragments(big, {std::string(600, ' '), std::string(600, ' ')});
    REQUIRE(s.hub.wait_closed(big, 5000));
    CHECK(s.hub.close_code(big) == 1009);

    int bin = s.open();
    s.hub.send_binary(bin, "\x00\x01");
    REQUIRE(s.hub.wait_closed(bin, 5000));
    CHECK(s.hub.close_code(bin) == 1003);

    int utf = s.open();
    s.hub.send_text(utf, "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}");
    REQUIRE(s.hub.wait_closed(utf, 5000));
    CHECK(s.hub.close_code(utf) == 1007);
    CHECK(s.hub.is_open(c));  // everyone else is still served
    CHECK(jfield(s.ask(c, requests::ping("still")), "message_id") == "still");
}

TEST_CASE("MaxSessionsPerUser closes the oldest with 4009", "[sessions][limits]") {
    Instance s(ConfigOverrides{{"Limits.MaxSessionsPerUser", "2"}});
    int c1 = s.login("u");
    int c2 = s.login("u");
    int c3 = s.login("u");
    REQUIRE(s.hub.wait_closed(c1, 5000));
    CHECK(s.hub.close_code(c1) == 4009);
    CHECK(s.hub.is_open(c2));
    CHECK(s.hub.is_open(c3));
    CHECK(s.pushd.get("/stats").body.rfind("{\"online_users\":1,", 0) == 0);
}

TEST_CASE("a slow reader is closed with 4008 while a fast reader in the group loses nothing",
          "[sessions][backpressure]") {
    ConfigOverrides overrides = kNoRateLimit;  // the sender floods on purpose
    overrides.push_back({"Limits.MaxQueueBytes", "65536"});
    Instance s(overrides);
    int slow = s.login("slow");
    int fast = s.login("fast");
    int sender = s.login("sender");
    s.ask(slow, requests::join_group("j", "g"));
    s.ask(fast, requests::join_group("j", "g"));
    s.hub.pause_reading(slow, true);
    const std::string payload(2000, 'p');
    const int n = 2000;  // 4 MB in all: far past what the kernel buffers for the slow one
    int received = 0;
    for (int i = 0; i < n; i++) {
        s.hub.send_text(sender, requests::send_message("m" + std::to_string(i), "g", payload));
        while (auto m = s.hub.recv_text(fast, 0)) {
            if (jfield(*m, "type") == "new_message") {
                CHECK(jfield(*m, "data.client_message_id") == "m" + std::to_string(received));
                received++;
            }
        }
        while (s.hub.recv_text(sender, 0)) {}
    }
    REQUIRE(s.hub.wait_for(
        [&] {
            while (auto m = s.hub.recv_text(fast, 0)) {
                if (jfield(*m, "type") == "new_message") received++;
            }
            while (s.hub.recv_text(sender, 0)) {}
            return received == n;
        },
        20000));
    CHECK(received == n);
    s.hub.pause_reading(slow, false);
    REQUIRE(s.hub.wait_closed(slow, 10000));
    CHECK(s.hub.close_code(slow) == 4008);
    CHECK(s.pushd.get("/metrics").body.find("\npushd_slow_consumer_closes_total 1\n") != std::string::npos);
}

TEST_CASE("a connection silent past Heartbeat.Timeout is closed; an active one is kept", "[sessions][heartbeat]") {
    Instance s(ConfigOverrides{{"Heartbeat.Interval", "1"}, {"Heartbeat.Timeout", "2"}, {"Auth.AuthTimeout", "60"}});
    int silent = s.open();
    int alive = s.open();
    s.hub.pause_reading(silent, true);  // reads nothing, so answers no ping
    // The live one answers the server's pings (the client library does) for 4 s.
    s.hub.service(4000);
    CHECK(s.hub.is_open(alive));
    s.hub.pause_reading(silent, false);
    REQUIRE(s.hub.wait_closed(silent, 3000));
    CHECK(s.hub.close_code(silent) == 1001);  // a close frame, not a dropped socket
    CHECK(s.hub.is_open(alive));
}
