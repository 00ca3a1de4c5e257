// pushd on Redis: several instances as one service, idempotent retries,
// recovery with since, notifications and inboxes, outages and restarts,
// malformed entries from other services (PROTOCOL.md sections 5 and 6).
#include "client/requests.hpp"
#include "harness.hpp"

#include "core/redis_schema.hpp"
#include "core/stream_id.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <set>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

const char* kPrefix = "pushd:";

// Fast enough for the tests that publish in bulk, whatever the rate limits.
const ConfigOverrides kFast = {{"Limits.MessagesPerSecond", "1000000"}, {"Limits.Burst", "10000000"}};

ConfigOverrides with(ConfigOverrides base, const ConfigOverrides& more) {
    for (const auto& kv : more) base.push_back(kv);
    return base;
}

bool wait_health(const PushdProcess& p, int status, int timeout_ms) {
    return wait_until([&] { return p.get("/health", 1000).status == status; }, timeout_ms, 20);
}

// Starts pushd on `redis` and waits until its Redis links are up.
void start_pushd(PushdProcess& p, const RedisProcess& redis, const ConfigOverrides& overrides = kFast) {
    REQUIRE(p.start(standard_options(redis.port(), overrides)));
    REQUIRE(wait_health(p, 200, 10000));
}

std::string req_auth(const std::string& user, const std::string& since = "") {
    return requests::auth("auth", user_token(user), since);
}

// Connections of one test on one client hub.
struct Clients {
    WsClientHub hub;

    std::string next(int c, int timeout_ms = 5000) {
        auto m = hub.recv_text(c, timeout_ms);
        REQUIRE(m);
        return *m;
    }
    // The next message of `type`, skipping others (they are returned in `skipped`).
    std::string next_of(int c, const std::string& type, std::vector<std::string>* skipped = nullptr,
                        int timeout_ms = 5000) {
        for (;;) {
            std::string m = next(c, timeout_ms);
            if (jfield(m, "type") == type) return m;
            if (skipped) skipped->push_back(m);
        }
    }
    // Connects to `p` and authenticates as `user` (optionally with since).
    int login(const PushdProcess& p, const std::string& user, const std::string& since = "") {
        int c = hub.connect(p.ws_options());
        REQUIRE(hub.wait_open(c, 5000));
        hub.send_text(c, req_auth(user, since));
        REQUIRE(jfield(next(c), "type") == "auth_success");
        return c;
    }
    // Sends a request and returns its ack (messages pushed meanwhile go to `skipped`).
    std::string ask(int c, const std::string& json, std::vector<std::string>* skipped = nullptr) {
        REQUIRE(hub.send_text(c, json));
        return next_of(c, "ack", skipped);
    }
};

// A Redis that keeps its data across stop() and start() (an outage, not a loss).
RedisOptions appendonly() {
    RedisOptions o;
    o.appendonly = true;
    return o;
}

std::string xadd_notify(uint16_t port, const std::string& target, const std::string& data) {
    RespValue r = redis_command(port, {"XADD", std::string(kPrefix) + "notify", "*", "target", target, "data", data});
    REQUIRE(r.type == RespValue::Type::bulk);
    return r.str;
}

}  // namespace

TEST_CASE("two instances on one Redis: group messages and notifications cross instances", "[redis][cluster]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a, b;
    start_pushd(a, redis);
    start_pushd(b, redis);
    Clients cl;
    int alice = cl.login(a, "alice");
    int bob = cl.login(b, "bob");
    CHECK(jfield(cl.ask(alice, requests::join_group("j", "room")), "data.success") == "true");
    CHECK(jfield(cl.ask(bob, requests::join_group("j", "room")), "data.success") == "true");

    std::vector<std::string> pushed;
    std::string ack = cl.ask(alice, requests::send_message("m1", "room", "hello"), &pushed);
    CHECK(jfield(ack, "data.success") == "true");
    const std::string id = jfield(ack, "data.server_message_id");
    CHECK(!id.empty());
    CHECK(pushed.empty());  // the ack comes before the sender's own push
    std::string on_a = cl.next_of(alice, "new_message");
    std::string on_b = cl.next_of(bob, "new_message");
    CHECK(on_a == on_b);  // the same bytes on both instances
    CHECK(jfield(on_b, "message_id") == id);
    CHECK(jfield(on_b, "data.content") == "hello");
    CHECK(jfield(on_b, "data.sender_id") == "alice");
    // Stored in the group's history under that id.
    RespValue h = redis_command(redis.port(), {"XRANGE", std::string(kPrefix) + "group:room", "-", "+"});
    REQUIRE(h.elements.size() == 1);
    CHECK(h.elements[0].elements[0].str == id);

    // Notifications: a user on the other instance, a group, everyone.
    const std::string n1 = xadd_notify(redis.port(), "user:bob", R"({"title":"for bob"})");
    std::string nb = cl.next_of(bob, "notification");
    CHECK(jfield(nb, "data.notification_id") == n1);
    CHECK(jfield(nb, "message_id") == n1);
    CHECK(jfield(nb, "data.data.title") == "for bob");
    const std::string n2 = xadd_notify(redis.port(), "group:room", R"({"g":1})");
    CHECK(jfield(cl.next_of(alice, "notification"), "message_id") == n2);
    CHECK(jfield(cl.next_of(bob, "notification"), "message_id") == n2);
    const std::string n3 = xadd_notify(redis.port(), "all", R"({"all":1})");
    CHECK(jfield(cl.next_of(alice, "notification"), "message_id") == n3);
    CHECK(jfield(cl.next_of(bob, "notification"), "message_id") == n3);
    CHECK_FALSE(cl.hub.recv_text(alice, 200));

    // Both instances read the notify entry; bob's inbox holds it once.
    const std::vector<std::string> bob_inbox_len{"XLEN", std::string(kPrefix) + "inbox:bob"};
    REQUIRE(wait_until([&] { return redis_command(redis.port(), bob_inbox_len).integer == 1; }, 5000));
    RespValue inbox = redis_command(redis.port(), {"XRANGE", std::string(kPrefix) + "inbox:bob", "-", "+"});
    REQUIRE(inbox.elements.size() == 1);
    CHECK(inbox.elements[0].elements[0].str == n1);
    REQUIRE(wait_until(
        [&] {
            return metric(a, "pushd_redis_inbox_writes_total{result=\"stored\"}") != "" &&
                   std::stoi(metric(a, "pushd_redis_inbox_writes_total{result=\"stored\"}")) +
                           std::stoi(metric(b, "pushd_redis_inbox_writes_total{result=\"stored\"}")) ==
                       1 &&
                   std::stoi(metric(a, "pushd_redis_inbox_writes_total{result=\"already\"}")) +
                           std::stoi(metric(b, "pushd_redis_inbox_writes_total{result=\"already\"}")) ==
                       1;
        },
        5000, 50));
    CHECK(redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "group:nobody"}).integer == 0);

    // The cluster view lists both instances.
    const std::vector<std::string> list_instances{"KEYS", std::string(kPrefix) + "instance:*"};
    REQUIRE(wait_until([&] { return redis_command(redis.port(), list_instances).elements.size() == 2; }, 8000, 100));
    RespValue one = redis_command(
        redis.port(), {"GET", std::string(kPrefix) + "instance:pushd-test:127.0.0.1:" + std::to_string(a.port())});
    CHECK(jfield(one.str, "name") == "pushd-test");
    CHECK(jfield(one.str, "port") == std::to_string(a.port()));
    CHECK(jfield(one.str, "online_users") != "");
    CHECK(redis_command(redis.port(),
                        {"TTL", std::string(kPrefix) + "instance:pushd-test:127.0.0.1:" + std::to_string(a.port())})
              .integer > 0);
    // Metrics say what was read.
    CHECK(metric(b, "pushd_redis_up{link=\"commands\"}") == "1");
    CHECK(metric(b, "pushd_redis_stream_entries_total{stream=\"bus\"}") == "1");
    CHECK(metric(b, "pushd_redis_stream_entries_total{stream=\"notify\"}") == "3");
    // A stopping instance leaves the cluster view.
    CHECK(b.stop().ok());
    CHECK(redis_command(redis.port(), {"KEYS", std::string(kPrefix) + "instance:*"}).elements.size() == 1);
}

TEST_CASE("a retry with the same message_id, on another instance, is acked duplicate and delivered once",
          "[redis][dedup]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a, b;
    start_pushd(a, redis);
    start_pushd(b, redis);
    Clients cl;
    int watcher = cl.login(b, "watcher");
    cl.ask(watcher, requests::join_group("j", "g"));
    int first = cl.login(a, "alice");
    int retry = cl.login(b, "alice");
    std::string ack1 = cl.ask(first, requests::send_message("same-id", "g", "once"));
    std::string ack2 = cl.ask(retry, requests::send_message("same-id", "g", "once"));
    CHECK(jfield(ack1, "data.success") == "true");
    CHECK(jfield(ack1, "data.duplicate") == "");
    CHECK(jfield(ack2, "data.success") == "true");
    CHECK(jfield(ack2, "data.duplicate") == "true");
    CHECK(jfield(ack2, "data.server_message_id") == jfield(ack1, "data.server_message_id"));
    CHECK(jfield(cl.next_of(watcher, "new_message"), "data.content") == "once");
    CHECK_FALSE(cl.hub.recv_text(watcher, 300));
    CHECK(redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "group:g"}).integer == 1);
    // Another user's same message_id is a different message.
    int bob = cl.login(a, "bob");
    CHECK(jfield(cl.ask(bob, requests::send_message("same-id", "g", "bob's")), "data.duplicate") == "");
    CHECK(jfield(cl.next_of(watcher, "new_message"), "data.content") == "bob's");
}

TEST_CASE("join_group since under concurrent publishing: no gap, no duplicate over 1,500 messages",
          "[redis][recovery]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a, b;
    const ConfigOverrides cfg = with(kFast, {{"Groups.HistorySize", "100000"}});
    start_pushd(a, redis, cfg);
    start_pushd(b, redis, cfg);
    Clients cl;
    int pub = cl.login(a, "publisher");
    int reader = cl.login(b, "reader");
    CHECK(jfield(cl.ask(reader, requests::join_group("j1", "live")), "data.success") == "true");

    const int n = 1500;
    std::vector<std::string> ids, contents;
    int acks = 0, replayed = 0, live_after_rejoin = 0;
    bool rejoin_acked = false;
    bool second = false;
    auto take = [&](int c) {
        if (c < 0) return;
        while (auto m = cl.hub.recv_text(c, 0)) {
            const std::string type = jfield(*m, "type");
            if (c == pub) {
                if (type == "ack") {
                    CHECK(jfield(*m, "data.success") == "true");
                    acks++;
                }
                continue;
            }
            if (type == "ack") {
                CHECK(jfield(*m, "data.success") == "true");
                CHECK(jfield(*m, "data.truncated") == "");
                rejoin_acked = true;
                continue;
            }
            REQUIRE(type == "new_message");
            if (second) {
                const bool is_replay = jfield(*m, "data.replay") == "true";
                if (is_replay) {
                    CHECK(live_after_rejoin == 0);  // replayed ones come first
                    replayed++;
                } else {
                    live_after_rejoin++;
                }
            }
            ids.push_back(jfield(*m, "message_id"));
            contents.push_back(jfield(*m, "data.content"));
        }
    };
    for (int i = 0; i < n; i++) {
        cl.hub.send_text(pub, requests::send_message("m" + std::to_string(i), "live", std::to_string(i)));
        if (i % 25 == 24) {
            take(pub);
            take(reader);
        }
        if (i == 500) {
            // Let some arrive, then leave in the middle of the stream.
            REQUIRE(cl.hub.wait_for(
                [&] {
                    take(pub);
                    take(reader);
                    return ids.size() >= 200;
                },
                10000));
            cl.hub.close(reader);  // what it read so far is all it got
            reader = -1;
        }
        if (i == 800) {
            reader = cl.login(b, "reader");
            second = true;
            cl.hub.send_text(reader, requests::join_group("j2", "live", ids.back()));
        }
    }
    REQUIRE(cl.hub.wait_for(
        [&] {
            take(pub);
            take(reader);
            return static_cast<int>(contents.size()) >= n && acks == n;
        },
        60000));
    take(reader);
    INFO("replayed " << replayed << ", live after rejoin " << live_after_rejoin);
    CHECK(rejoin_acked);
    CHECK(replayed > 0);
    CHECK(live_after_rejoin > 0);
    REQUIRE(static_cast<int>(contents.size()) == n);
    for (int i = 0; i < n; i++) {
        if (contents[i] != std::to_string(i)) {
            FAIL("message " << i << " is '" << contents[i] << "'");
        }
    }
    std::set<std::string> distinct(ids.begin(), ids.end());
    CHECK(distinct.size() == ids.size());
    for (size_t i = 1; i < ids.size(); i++) {
        auto p = pushd::parse_stream_id(ids[i - 1]);
        auto q = pushd::parse_stream_id(ids[i]);
        REQUIRE((p && q));
        CHECK(*p < *q);
    }
}

TEST_CASE("join_group since older than the retained history replays what is left and says truncated",
          "[redis][recovery]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis, with(kFast, {{"Groups.HistorySize", "10"}}));
    Clients cl;
    int c = cl.login(a, "u");
    std::string first_id;
    const int n = 400;  // MAXLEN ~ trims whole nodes (100 entries): send well past that
    for (int i = 0; i < n; i++) cl.hub.send_text(c, requests::send_message("t" + std::to_string(i), "small", "x"));
    for (int i = 0; i < n; i++) {
        std::string ack = cl.next_of(c, "ack");
        if (i == 0) first_id = jfield(ack, "data.server_message_id");
    }
    const long long kept = redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "group:small"}).integer;
    REQUIRE(kept < n);
    std::vector<std::string> replayed;  // contract v1.1: the replay comes before the ack
    std::string ack = cl.ask(c, requests::join_group("j", "small", first_id), &replayed);
    CHECK(jfield(ack, "data.success") == "true");
    CHECK(jfield(ack, "data.truncated") == "true");
    CHECK(jfield(ack, "data.replayed") == std::to_string(kept));
    REQUIRE(static_cast<long long>(replayed.size()) == kept);
    for (const std::string& m : replayed) CHECK(jfield(m, "data.replay") == "true");
    // A since within the retained history is not truncated.
    RespValue last =
        redis_command(redis.port(), {"XREVRANGE", std::string(kPrefix) + "group:small", "+", "-", "COUNT", "2"});
    REQUIRE(last.elements.size() == 2);
    int d = cl.login(a, "v");
    replayed.clear();
    ack = cl.ask(d, requests::join_group("j", "small", last.elements[1].elements[0].str), &replayed);
    CHECK(jfield(ack, "data.truncated") == "");
    CHECK(jfield(ack, "data.replayed") == "1");
    REQUIRE(replayed.size() == 1);
    CHECK(jfield(replayed[0], "message_id") == last.elements[0].elements[0].str);
}

TEST_CASE("a notification to an offline user is replayed at its next auth with since", "[redis][inbox]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    Clients cl;
    int c = cl.login(a, "carol");
    const std::string seen = xadd_notify(redis.port(), "user:carol", R"({"n":0})");
    CHECK(jfield(cl.next_of(c, "notification"), "message_id") == seen);
    cl.hub.close(c);
    REQUIRE(cl.hub.wait_closed(c, 5000));
    // While carol is offline: two for her, one for someone else.
    const std::string m1 = xadd_notify(redis.port(), "user:carol,dave", R"({"n":1})");
    xadd_notify(redis.port(), "user:dave", R"({"n":"x"})");
    const std::string m2 = xadd_notify(redis.port(), "user:carol", R"({"n":2})");
    const std::vector<std::string> inbox_len{"XLEN", std::string(kPrefix) + "inbox:carol"};
    REQUIRE(wait_until([&] { return redis_command(redis.port(), inbox_len).integer == 3; }, 5000));
    int again = cl.login(a, "carol", seen);
    std::string r1 = cl.next(again);
    std::string r2 = cl.next(again);
    CHECK(jfield(r1, "type") == "notification");
    CHECK(jfield(r1, "message_id") == m1);
    CHECK(jfield(r1, "data.replay") == "true");
    CHECK(jfield(r1, "data.data.n") == "1");
    CHECK(jfield(r2, "message_id") == m2);
    CHECK(jfield(r2, "data.replay") == "true");
    CHECK_FALSE(cl.hub.recv_text(again, 200));
    // Live again afterwards.
    const std::string m3 = xadd_notify(redis.port(), "user:carol", R"({"n":3})");
    std::string live = cl.next(again);
    CHECK(jfield(live, "message_id") == m3);
    CHECK(jfield(live, "data.replay") == "");
}

TEST_CASE(
    "Redis stops: 503 on /health and on send, connections stay; after it is back (same port, "
    "appendonly) entries written while pushd was away are delivered",
    "[redis][outage]") {
    RedisProcess redis(appendonly());
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    Clients cl;
    int c = cl.login(a, "alice");
    cl.ask(c, requests::join_group("j", "g"));
    std::vector<std::string> pushed;
    std::string before =
        jfield(cl.ask(c, requests::send_message("m1", "g", "before"), &pushed), "data.server_message_id");
    if (pushed.empty()) cl.next_of(c, "new_message");

    REQUIRE(redis.stop().finished);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(wait_health(a, 503, 2000));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    CHECK(a.get("/health").body.rfind("DEGRADED: redis", 0) == 0);
    std::string ack = cl.ask(c, requests::send_message("m2", "g", "during"));
    CHECK(jfield(ack, "data.success") == "false");
    CHECK(jfield(ack, "data.code") == "503");
    ack = cl.ask(c, requests::mark_read("r", "g", before));
    CHECK(jfield(ack, "data.code") == "503");
    cl.hub.send_text(c, requests::ping("p"));
    CHECK(jfield(cl.next(c), "type") == "pong");
    CHECK(cl.hub.is_open(c));

    // pushd is away (stopped) while Redis comes back with its data and
    // others write: a notification and a group message.
    REQUIRE(a.signal(SIGSTOP));
    REQUIRE(redis.start());
    CHECK(redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "group:g"}).integer == 1);  // kept
    const std::string note = xadd_notify(redis.port(), "user:alice", R"({"while":"away"})");
    pushd::RedisKeys keys(kPrefix);
    RespValue stored = redis_command(
        redis.port(), {"EVAL", pushd::kAppendScript, "3", keys.dedup("bob", "g", "b1"), keys.group("g"), keys.bus(),
                       "300", "1000", std::to_string(pushd::kBusMaxLen), "g", "b1", "bob", "1", "written while away"});
    REQUIRE(stored.ok());
    REQUIRE(a.signal(SIGCONT));
    REQUIRE(wait_health(a, 200, 15000));
    std::vector<std::string> got;
    REQUIRE(cl.hub.wait_for(
        [&] {
            while (auto m = cl.hub.recv_text(c, 0)) got.push_back(*m);
            return got.size() >= 2;
        },
        10000));
    bool saw_note = false, saw_msg = false;
    for (auto& m : got) {
        if (jfield(m, "type") == "notification" && jfield(m, "message_id") == note) saw_note = true;
        if (jfield(m, "type") == "new_message" && jfield(m, "data.content") == "written while away") saw_msg = true;
    }
    CHECK(saw_note);
    CHECK(saw_msg);
    // Sending works again, and the history from before the restart is there.
    CHECK(jfield(cl.ask(c, requests::send_message("m3", "g", "after")), "data.success") == "true");
    int d = cl.login(a, "late");
    std::vector<std::string> replayed;
    CHECK(jfield(cl.ask(d, requests::join_group("j", "g", "0"), &replayed), "data.success") == "true");
    REQUIRE(replayed.size() >= 1);
    CHECK(jfield(replayed[0], "data.content") == "before");
    CHECK(a.log().find("redis commands link down") != std::string::npos);
}

TEST_CASE("a hung Redis shows on /health within 2 seconds", "[redis][outage]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    REQUIRE(redis.signal(SIGSTOP));
    auto t0 = std::chrono::steady_clock::now();
    bool degraded = wait_health(a, 503, 2500);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(redis.signal(SIGCONT));
    CHECK(degraded);
    CHECK(took < std::chrono::milliseconds(2000));
    CHECK(wait_health(a, 200, 10000));
}

TEST_CASE("pushd starts and serves without Redis; storage requests get 503 until Redis is up", "[redis][outage]") {
    RedisProcess redis;  // not started yet: nothing listens on its port
    PushdProcess a;
    REQUIRE(a.start(standard_options(redis.port())));
    CHECK(a.get("/health").status == 503);
    Clients cl;
    int c = cl.login(a, "u");
    // What needs no Redis is served: a join without since, a ping.
    CHECK(jfield(cl.ask(c, requests::join_group("j", "g")), "data.success") == "true");
    CHECK(jfield(cl.ask(c, requests::send_message("m", "g", "x")), "data.code") == "503");
    REQUIRE(redis.start());
    REQUIRE(wait_health(a, 200, 10000));
    CHECK(jfield(cl.ask(c, requests::send_message("m", "g", "x")), "data.success") == "true");
}

TEST_CASE("malformed notify entries are counted, logged and skipped; the next one is delivered", "[redis][notify]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    Clients cl;
    int c = cl.login(a, "u1");
    const std::string notify = std::string(kPrefix) + "notify";
    std::vector<std::string> bad;
    bad.push_back(redis_command(redis.port(), {"XADD", notify, "*", "target", "user:u1"}).str);
    bad.push_back(redis_command(redis.port(), {"XADD", notify, "*", "target", "user:u1", "data", "[1,2]"}).str);
    bad.push_back(redis_command(redis.port(), {"XADD", notify, "*", "target", "user:u1", "data", "{\"a\":"}).str);
    bad.push_back(redis_command(redis.port(), {"XADD", notify, "*", "target", "nobody", "data", "{}"}).str);
    bad.push_back(redis_command(redis.port(), {"XADD", notify, "*", "data", "{}"}).str);
    const std::string good = xadd_notify(redis.port(), "user:u1", R"({"ok":true})");
    std::string m = cl.next(c);
    CHECK(jfield(m, "type") == "notification");
    CHECK(jfield(m, "message_id") == good);
    CHECK(jfield(m, "data.data.ok") == "true");
    CHECK(metric(a, "pushd_redis_malformed_entries_total") == "5");
    for (const std::string& id : bad) CHECK(a.log().find("entry " + id + ":") != std::string::npos);
    CHECK(redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "inbox:u1"}).integer == 1);
}

TEST_CASE("Redis.Pass, Redis.DB and Redis.KeyPrefix are honoured; AutoJoin and RequireMembership read Redis",
          "[redis][config]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    RespClient admin;
    REQUIRE(admin.connect(redis.port()));
    REQUIRE(admin.command({"CONFIG", "SET", "requirepass", "s3cret"}).ok());
    REQUIRE(admin.command({"AUTH", "s3cret"}).ok());
    REQUIRE(admin.command({"SELECT", "3"}).ok());
    REQUIRE(admin.command({"SADD", "app1:user:erin:groups", "auto"}).ok());
    REQUIRE(admin.command({"SADD", "app1:members:closed", "erin"}).ok());
    PushdProcess a;
    start_pushd(a, redis,
                with(kFast, {{"Redis.Pass", "\"s3cret\""},
                             {"Redis.DB", "3"},
                             {"Redis.KeyPrefix", "\"app1:\""},
                             {"Groups.RequireMembership", "true"}}));
    Clients cl;
    int erin = cl.login(a, "erin");
    // Joined to "auto" by AutoJoin, before this request is handled: no join_group needed.
    CHECK(jfield(cl.ask(erin, requests::send_message("m1", "closed", "in")), "data.success") == "true");
    CHECK(jfield(cl.ask(erin, requests::send_message("m2", "auto", "x")), "data.code") == "403");
    REQUIRE(admin.command({"SADD", "app1:members:auto", "erin"}).ok());
    std::vector<std::string> pushed;
    CHECK(jfield(cl.ask(erin, requests::send_message("m3", "auto", "auto-joined"), &pushed), "data.success") == "true");
    CHECK(pushed.empty());  // the ack comes first
    std::string push = cl.next_of(erin, "new_message");
    CHECK(jfield(push, "data.content") == "auto-joined");
    CHECK(jfield(cl.ask(erin, requests::join_group("j", "other")), "data.code") == "403");
    CHECK(admin.command({"XLEN", "app1:group:closed"}).integer == 1);
    CHECK(admin.command({"EXISTS", "pushd:group:closed"}).integer == 0);
    // mark_read lands in read:<uid>.
    std::string id = jfield(push, "message_id");
    CHECK(jfield(cl.ask(erin, requests::mark_read("r", "auto", id)), "data.success") == "true");
    CHECK(admin.command({"HGET", "app1:read:erin", "auto"}).str == id);
    // The wrong password keeps pushd degraded with Redis's reason.
    PushdProcess wrong;
    REQUIRE(wrong.start(standard_options(redis.port(), {{"Redis.Pass", "\"nope\""}})));
    REQUIRE(wait_until([&] { return wrong.get("/health").body.find("WRONGPASS") != std::string::npos; }, 5000));
    REQUIRE(admin.command({"CONFIG", "SET", "requirepass", ""}).ok());
}

// ---- overlapping faults (issue 12) ----------------------------------------

namespace {

// Stores a group message as pushd's send_message does (the append script),
// straight into Redis: another instance, or a business service, writing.
std::string store_message(uint16_t port, const std::string& sender, const std::string& group, const std::string& cmid,
                          const std::string& content) {
    pushd::RedisKeys keys(kPrefix);
    pushd::AppendRequest req;
    req.group_id = group;
    req.client_message_id = cmid;
    req.sender_id = sender;
    req.msg_type = 1;
    req.content = content;
    pushd::ScriptArgs a = pushd::append_script_args(keys, req, 300, 1000);
    std::vector<std::string> argv{"EVAL", pushd::kAppendScript, std::to_string(a.keys.size())};
    argv.insert(argv.end(), a.keys.begin(), a.keys.end());
    argv.insert(argv.end(), a.args.begin(), a.args.end());
    RespValue r = redis_command(port, argv);
    REQUIRE(r.elements.size() == 2);
    return r.elements[0].str;
}

}  // namespace

TEST_CASE(
    "an instance started during a Redis outage delivers everything stored after its start once Redis "
    "answers, exactly once and in order",
    "[redis][faults]") {
    // Issue 12, failure 1: the bus started at the streams' newest entries
    // when it first reached Redis, after messages (and a notification)
    // stored since the instance started: a subscriber lost them for good.
    RedisOptions ro;
    ro.appendonly = true;
    RedisProcess redis(ro);  // not started: pushd starts during the outage
    PushdProcess a;
    REQUIRE(a.start(standard_options(redis.port(), kFast)));
    Clients cl;
    int c = cl.login(a, "alice");
    CHECK(jfield(cl.ask(c, requests::join_group("j", "g")), "data.success") == "true");  // needs no Redis
    // Redis comes up and others store while this instance cannot reach it
    // yet (frozen: its links connect only afterwards).
    REQUIRE(a.signal(SIGSTOP));
    REQUIRE(redis.start());
    std::vector<std::string> stored;
    for (int i = 0; i < 5; i++)
        stored.push_back(store_message(redis.port(), "bob", "g", "b" + std::to_string(i), "m" + std::to_string(i)));
    const std::string note = xadd_notify(redis.port(), "user:alice", R"({"n":1})");
    REQUIRE(a.signal(SIGCONT));
    REQUIRE(wait_health(a, 200, 15000));
    std::vector<std::string> got, notes;
    REQUIRE(cl.hub.wait_for(
        [&] {
            while (auto m = cl.hub.recv_text(c, 0)) {
                if (jfield(*m, "type") == "new_message") got.push_back(jfield(*m, "message_id"));
                if (jfield(*m, "type") == "notification") notes.push_back(jfield(*m, "message_id"));
            }
            return got.size() >= stored.size() && !notes.empty();
        },
        10000));
    CHECK(got == stored);
    CHECK(notes == std::vector<std::string>{note});
    // Nothing twice, and the inbox holds the notification (written by this instance).
    CHECK_FALSE(cl.hub.recv_text(c, 300));
    CHECK(redis_command(redis.port(), {"XLEN", std::string(kPrefix) + "inbox:alice"}).integer == 1);
    // A join with since now: the replay, its ack, then live ones.
    int d = cl.login(a, "dave");
    std::vector<std::string> replayed;
    std::string ack = cl.ask(d, requests::join_group("j", "g", stored[1]), &replayed);
    CHECK(jfield(ack, "data.replayed") == "3");
    REQUIRE(replayed.size() == 3);
    CHECK(jfield(replayed[0], "message_id") == stored[2]);
    const std::string next = store_message(redis.port(), "bob", "g", "b9", "live");
    CHECK(jfield(cl.next_of(d, "new_message"), "message_id") == next);
    CHECK(jfield(cl.next_of(c, "new_message"), "message_id") == next);
}

TEST_CASE(
    "a join_group replay that fails during an outage leaves the connection unsubscribed; the retry with "
    "the same since has no gap, no duplicate and no disorder",
    "[redis][faults]") {
    // Issue 12, failure 2.
    RedisProcess redis(appendonly());
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    Clients cl;
    int sender = cl.login(a, "bob");
    const std::string first =
        jfield(cl.ask(sender, requests::send_message("s0", "g", "first")), "data.server_message_id");
    int c = cl.login(a, "alice");
    REQUIRE(redis.stop().finished);
    REQUIRE(wait_health(a, 503, 3000));
    std::string ack = cl.ask(c, requests::join_group("j1", "g", first));
    CHECK(jfield(ack, "data.success") == "false");
    CHECK(jfield(ack, "data.code") == "503");
    REQUIRE(redis.start());
    REQUIRE(wait_health(a, 200, 15000));
    const std::string second =
        jfield(cl.ask(sender, requests::send_message("s1", "g", "second")), "data.server_message_id");
    REQUIRE(!second.empty());
    CHECK_FALSE(cl.hub.recv_text(c, 500));  // not subscribed: nothing live
    std::vector<std::string> replayed;
    ack = cl.ask(c, requests::join_group("j2", "g", first), &replayed);
    CHECK(jfield(ack, "data.success") == "true");
    CHECK(jfield(ack, "data.replayed") == "1");
    REQUIRE(replayed.size() == 1);
    CHECK(jfield(replayed[0], "message_id") == second);
    const std::string third =
        jfield(cl.ask(sender, requests::send_message("s2", "g", "third")), "data.server_message_id");
    std::string live = cl.next_of(c, "new_message");
    CHECK(jfield(live, "message_id") == third);
    CHECK(jfield(live, "data.replay") == "");
    CHECK_FALSE(cl.hub.recv_text(c, 300));
}

TEST_CASE(
    "auth with since during an outage: the inbox is replayed once Redis is back, ahead of live "
    "notifications",
    "[redis][faults][notify]") {
    // Issue 12, failure 3 (server side).
    RedisProcess redis(appendonly());
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis);
    Clients cl;
    int c = cl.login(a, "carol");
    const std::string n0 = xadd_notify(redis.port(), "user:carol", R"({"n":0})");
    CHECK(jfield(cl.next_of(c, "notification"), "message_id") == n0);
    cl.hub.close(c);
    const std::string n1 = xadd_notify(redis.port(), "user:carol", R"({"n":1})");
    const std::string inbox = std::string(kPrefix) + "inbox:carol";
    REQUIRE(wait_until([&] { return redis_command(redis.port(), {"XLEN", inbox}).integer == 2; }, 5000, 20));
    REQUIRE(redis.stop().finished);
    REQUIRE(wait_health(a, 503, 3000));
    int again = cl.login(a, "carol", n0);
    CHECK_FALSE(cl.hub.recv_text(again, 300));  // no error: the instance reads the inbox later
    REQUIRE(redis.start());
    const std::string n2 = xadd_notify(redis.port(), "user:carol", R"({"n":2})");
    std::vector<std::string> got;
    REQUIRE(cl.hub.wait_for(
        [&] {
            while (auto m = cl.hub.recv_text(again, 0)) {
                if (jfield(*m, "type") == "notification")
                    got.push_back(jfield(*m, "message_id") + (jfield(*m, "data.replay") == "true" ? " replay" : ""));
            }
            return got.size() >= 2;
        },
        15000));
    CHECK_FALSE(cl.hub.recv_text(again, 300));
    REQUIRE(got.size() == 2);
    CHECK(got[0] == n1 + " replay");
    // n2 either came with the replay (the inbox had it) or live after it.
    CHECK((got[1] == n2 || got[1] == n2 + " replay"));
}
