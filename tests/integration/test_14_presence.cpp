// Presence across instances (Groups.Presence; PROTOCOL.md sections 6 and
// 9): two pushd instances on one Redis, read through pushctl presence (the
// same query scripts as /api/presence) and the `events` stream.
#include "client/requests.hpp"
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <map>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

const std::string kPrefix = "pushd:";

// The contract's bounds: a change on a live instance, and an instance's death.
constexpr int kChangeMs = 2000;
constexpr int kDeathMs = 15000;

struct Event {
    std::string event, user_id, instance;
};

// Every entry of the events stream, oldest first.
std::vector<Event> events(uint16_t redis_port) {
    RespValue r = redis_command(redis_port, {"XRANGE", kPrefix + "events", "-", "+"});
    std::vector<Event> out;
    for (const RespValue& e : r.elements) {
        std::map<std::string, std::string> f;
        const auto& kv = e.elements[1].elements;
        for (size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
        REQUIRE(!f["ts"].empty());
        out.push_back({f["event"], f["user_id"], f["instance"]});
    }
    return out;
}

// The events of one user, as "online@a offline@b".
std::string events_of(uint16_t redis_port, const std::string& user) {
    std::string out;
    for (const Event& e : events(redis_port)) {
        if (e.user_id == user) out += (out.empty() ? "" : " ") + e.event + "@" + e.instance;
    }
    return out;
}

// pushctl presence ... --json with `p`'s configuration: the API's answer.
std::string presence(const PushdProcess& p, const std::string& flag, const std::string& id) {
    RunResult r = run_pushctl({"-f", p.config_path(), "presence", flag, id, "--json"});
    REQUIRE(r.exit.ok());
    return r.output.substr(0, r.output.find('\n'));
}

// Waits until pushctl's answer about `flag id` is `expected`; the time it
// took (ms), or -1 past `timeout_ms`.
int64_t wait_presence(const PushdProcess& p, const std::string& flag, const std::string& id,
                      const std::string& expected, int timeout_ms = kChangeMs + 1000) {
    const int64_t start = unix_ms();
    std::string last;
    if (wait_until([&] { return (last = presence(p, flag, id)) == expected; }, timeout_ms, 50))
        return unix_ms() - start;
    UNSCOPED_INFO("last answer: " << last);
    return -1;
}

std::string user_json(const std::string& user, int connections, const std::string& instances) {
    return R"({"user_id":")" + user + R"(","online":)" + (connections ? "true" : "false") + R"(,"connections":)" +
           std::to_string(connections) + R"(,"instances":[)" + instances + "]}";
}

ConfigOverrides named(const std::string& name, bool presence_on = true) {
    return {{"Name", name}, {"Groups.Presence", presence_on ? "true" : "false"}};
}

void start_pushd(PushdProcess& p, const RedisProcess& redis, const ConfigOverrides& overrides) {
    REQUIRE(p.start(standard_options(redis.port(), overrides)));
    REQUIRE(wait_until([&] { return p.get("/health", 1000).status == 200; }, 10000, 20));
}

// One Redis and instances "a" and "b" on it, up and healthy.
struct TwoInstances {
    RedisProcess redis;
    PushdProcess a, b;
    TwoInstances() {
        REQUIRE(redis.start());
        start_pushd(a, redis, named("a"));
        start_pushd(b, redis, named("b"));
    }
    uint16_t port() const { return redis.port(); }
};

struct Clients {
    WsClientHub hub;
    // Connects to `p` as `user` (handshake token: auth_success comes first).
    int login(const PushdProcess& p, const std::string& user) { return login_all({{&p, user}})[0]; }
    // The same for several at once (handshakes in parallel).
    std::vector<int> login_all(const std::vector<std::pair<const PushdProcess*, std::string>>& who) {
        std::vector<int> ids;
        for (const auto& [p, user] : who) ids.push_back(hub.connect(p->ws_options("?token=" + user_token(user))));
        for (int c : ids) {
            REQUIRE(hub.wait_open(c, 5000));
            auto m = hub.recv_text(c, 5000);
            REQUIRE(m);
            REQUIRE(jfield(*m, "type") == "auth_success");
        }
        return ids;
    }
    // Closes `c` and runs the client until the close handshake is done
    // (the hub sends nothing outside its waiting calls).
    void close(int c) {
        hub.close(c);
        REQUIRE(hub.wait_closed(c, 5000));
    }
    void ask(int c, const std::string& json) {
        REQUIRE(hub.send_text(c, json));
        for (;;) {
            auto m = hub.recv_text(c, 5000);
            REQUIRE(m);
            if (jfield(*m, "type") == "ack") {
                REQUIRE(jfield(*m, "data.success") == "true");
                return;
            }
        }
    }
};

}  // namespace

TEST_CASE("presence follows connect, join, leave and close on two instances within 2 s", "[presence]") {
    TwoInstances t;
    PushdProcess &a = t.a, &b = t.b;
    RedisProcess& redis = t.redis;
    Clients cl;

    int on_a = cl.login(a, "alice");
    CHECK(wait_presence(b, "--user", "alice", user_json("alice", 1, R"("a")")) >= 0);
    cl.ask(on_a, requests::join_group("j", "room"));
    CHECK(wait_presence(b, "--group", "room", R"({"group_id":"room","users":[{"user_id":"alice","connections":1}]})") >=
          0);

    // The same user on the other instance too: one user, two connections.
    int on_b = cl.login(b, "alice");
    cl.ask(on_b, requests::join_group("j", "room"));
    int bob = cl.login(b, "bob");
    cl.ask(bob, requests::join_group("j", "room"));
    CHECK(wait_presence(a, "--group", "room",
                        R"({"group_id":"room","users":[{"user_id":"alice","connections":2},)"
                        R"({"user_id":"bob","connections":1}]})") >= 0);
    CHECK(presence(a, "--user", "alice") == user_json("alice", 2, R"("a","b")"));

    cl.ask(on_a, requests::leave_group("l", "room"));
    CHECK(wait_presence(a, "--group", "room",
                        R"({"group_id":"room","users":[{"user_id":"alice","connections":1},)"
                        R"({"user_id":"bob","connections":1}]})") >= 0);

    // The first of alice's connections closes: still online (on b).
    cl.close(on_a);
    CHECK(wait_presence(a, "--user", "alice", user_json("alice", 1, R"("b")")) >= 0);
    CHECK(events_of(redis.port(), "alice") == "online@a");

    // The last one: offline, once, named after the instance it closed on.
    cl.close(on_b);
    const int64_t took = wait_presence(a, "--user", "alice", user_json("alice", 0, ""));
    CHECK(took >= 0);
    CHECK(took < kChangeMs);
    CHECK(wait_until([&] { return events_of(redis.port(), "alice") == "online@a offline@b"; }, kChangeMs, 20));
    CHECK(presence(a, "--group", "room") == R"({"group_id":"room","users":[{"user_id":"bob","connections":1}]})");
    CHECK(events_of(redis.port(), "bob") == "online@b");

    // Human output, and exactly one of --group / --user.
    RunResult human = run_pushctl({"-f", a.config_path(), "presence", "--user", "bob"});
    CHECK(human.output == "user bob: online, 1 connection(s) on b\n");
    CHECK(run_pushctl({"-f", a.config_path(), "presence"}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", a.config_path(), "presence", "--user", "u", "--group", "g"}).exit.exit_code == 2);
}

TEST_CASE("presence: an instance killed with SIGKILL takes its users offline within 15 s", "[presence]") {
    TwoInstances t;
    PushdProcess &a = t.a, &b = t.b;
    RedisProcess& redis = t.redis;
    Clients cl;
    int bob = cl.login(a, "bob");
    cl.ask(bob, requests::join_group("j", "g"));
    cl.login(a, "carol");
    REQUIRE(wait_presence(b, "--user", "carol", user_json("carol", 1, R"("a")")) >= 0);  // online@a
    cl.login(b, "carol");                                                                // carol stays online on b
    REQUIRE(wait_presence(b, "--user", "carol", user_json("carol", 2, R"("a","b")")) >= 0);

    const int64_t killed_at = unix_ms();
    a.stop(SIGKILL);
    CHECK(wait_until([&] { return events_of(redis.port(), "bob") == "online@a offline@a"; }, kDeathMs, 100));
    CHECK(unix_ms() - killed_at < kDeathMs);
    CHECK(presence(b, "--user", "bob") == user_json("bob", 0, ""));
    CHECK(presence(b, "--group", "g") == R"({"group_id":"g","users":[]})");
    CHECK(presence(b, "--user", "carol") == user_json("carol", 1, R"("b")"));
    CHECK(events_of(redis.port(), "carol") == "online@a");
    // Nothing of a is left in Redis.
    CHECK(redis_command(redis.port(), {"EXISTS", kPrefix + "presence:instance:a"}).integer == 0);
    CHECK(redis_command(redis.port(), {"ZSCORE", kPrefix + "presence:instances", "a"}).is_nil());
}

TEST_CASE("presence: an instance restarted under the same Name clears what its last run left", "[presence]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis, named("a"));
    Clients cl;
    cl.login(a, "dave");
    REQUIRE(wait_presence(a, "--user", "dave", user_json("dave", 1, R"("a")")) >= 0);
    a.stop(SIGKILL);
    REQUIRE(a.restart());  // well before its entries would expire
    CHECK(wait_until([&] { return events_of(redis.port(), "dave") == "online@a offline@a"; }, kChangeMs, 20));
    CHECK(presence(a, "--user", "dave") == user_json("dave", 0, ""));
}

TEST_CASE("presence: two instances closing a user's last connections at once emit exactly one offline (x100)",
          "[presence]") {
    TwoInstances t;
    PushdProcess &a = t.a, &b = t.b;
    RedisProcess& redis = t.redis;
    Clients cl;
    constexpr int kRounds = 20, kUsers = 5;  // 100 users, five at a time
    for (int round = 0; round < kRounds; round++) {
        std::vector<std::pair<const PushdProcess*, std::string>> who;
        for (int u = 0; u < kUsers; u++) {
            const std::string user = "r" + std::to_string(round * kUsers + u);
            who.push_back({&a, user});
            who.push_back({&b, user});
        }
        const std::vector<int> conns = cl.login_all(who);
        // Both instances registered each user before the closes race.
        REQUIRE(wait_until(
            [&] {
                return redis_command(redis.port(),
                                     {"HLEN", kPrefix + "presence:user:r" + std::to_string(round * kUsers)})
                               .integer == 2 &&
                       redis_command(redis.port(), {"HLEN", kPrefix + "presence:user:r" +
                                                                std::to_string(round * kUsers + kUsers - 1)})
                               .integer == 2;
            },
            kChangeMs, 5));
        for (int c : conns) cl.hub.close(c);                       // queued together,
        for (int c : conns) REQUIRE(cl.hub.wait_closed(c, 5000));  // sent in one client loop turn
    }
    // Both instances have written every close once their own entries are
    // empty: by then any second offline would be in the stream.
    REQUIRE(wait_until(
        [&] {
            return redis_command(redis.port(), {"EXISTS", kPrefix + "presence:instance:a"}).integer == 0 &&
                   redis_command(redis.port(), {"EXISTS", kPrefix + "presence:instance:b"}).integer == 0;
        },
        5000, 10));
    std::map<std::string, std::string> seen;
    for (const Event& e : events(redis.port())) seen[e.user_id] += e.event + " ";
    CHECK(seen.size() == size_t(kRounds * kUsers));
    int exact = 0;
    for (const auto& [user, evs] : seen) {
        INFO(user);
        CHECK(evs == "online offline ");
        exact += evs == "online offline ";
    }
    CHECK(exact == kRounds * kUsers);
}

TEST_CASE("presence: Groups.Presence false writes no event and no presence key", "[presence]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis, named("a", false));
    Clients cl;
    int c = cl.login(a, "erin");
    cl.ask(c, requests::join_group("j", "g"));
    cl.close(c);
    // With presence on, the instance registers within a second and the
    // user within milliseconds: give it longer than that.
    CHECK_FALSE(wait_until(
        [&] {
            return redis_command(redis.port(), {"KEYS", kPrefix + "presence:*"}).elements.size() > 0 ||
                   redis_command(redis.port(), {"EXISTS", kPrefix + "events"}).integer > 0;
        },
        1500, 50));
    CHECK(presence(a, "--user", "erin") == user_json("erin", 0, ""));
}

TEST_CASE("presence: after Redis lost everything (restarted empty), each instance writes its state again",
          "[presence]") {
    RedisProcess redis;  // no persistence: a restart is a loss
    REQUIRE(redis.start());
    PushdProcess a;
    start_pushd(a, redis, named("a"));
    Clients cl;
    int c = cl.login(a, "frank");
    cl.ask(c, requests::join_group("j", "g"));
    REQUIRE(wait_presence(a, "--user", "frank", user_json("frank", 1, R"("a")")) >= 0);
    redis.stop();
    cl.login(a, "gina");  // while Redis is away: kept, written once it is back
    REQUIRE(redis.start());
    CHECK(wait_presence(a, "--group", "g", R"({"group_id":"g","users":[{"user_id":"frank","connections":1}]})",
                        10000) >= 0);
    CHECK(presence(a, "--user", "gina") == user_json("gina", 1, R"("a")"));
    CHECK(events_of(redis.port(), "frank") == "online@a");  // the new stream: online again
}
