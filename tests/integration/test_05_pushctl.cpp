// pushctl against real pushd and redis-server processes: exit codes,
// output, and what it publishes reaching WebSocket clients.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace pushd::test;
using pushd::WsClientHub;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// redis-server, pushd on it, and the same configuration in a file for pushctl.
struct Stack {
    RedisProcess redis;
    PushdProcess pushd;
    std::string config_file;
    Stack() {
        REQUIRE(redis.start());
        PushdOptions o = standard_options(redis.port());
        REQUIRE(pushd.start(o));
        REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
        config_file = unique_temp_path("pushctl", ".yaml");
        REQUIRE(write_file(config_file, o.config_yaml));
    }
    std::string server() const { return "http://127.0.0.1:" + std::to_string(pushd.port()); }
};

}  // namespace

TEST_CASE("pushctl health and stats", "[pushctl]") {
    Stack s;
    RunResult h = run_pushctl({"--server", s.server(), "health"});
    CHECK(h.exit.ok());
    CHECK(trim(h.output) == "OK");
    RunResult st = run_pushctl({"--server", s.server(), "stats", "--json"});
    CHECK(st.exit.ok());
    CHECK(st.output.rfind("{\"online_users\":0,", 0) == 0);

    RunResult dead = run_pushctl({"--server", "http://127.0.0.1:" + std::to_string(free_port()), "health"});
    CHECK(dead.exit.exit_code == 1);
    CHECK(dead.output.find("unreachable") != std::string::npos);
    RunResult bad = run_pushctl({"--server", "nonsense", "health"});
    CHECK(bad.exit.exit_code == 2);
}

TEST_CASE("pushctl token signs a token pushd accepts", "[pushctl]") {
    Stack s;
    RunResult t = run_pushctl({"-f", s.config_file, "token", "--user", "ops-7", "--ttl", "60"});
    REQUIRE(t.exit.ok());
    WsClientHub hub;
    int c = hub.connect(s.pushd.ws_options("?token=" + trim(t.output)));
    REQUIRE(hub.wait_open(c, 5000));
    auto m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "auth_success");
    CHECK(jfield(*m, "data.user_id") == "ops-7");
}

TEST_CASE("pushctl notify reaches the user and prints the notification id", "[pushctl]") {
    Stack s;
    WsClientHub hub;
    int c = hub.connect(s.pushd.ws_options("?token=" + user_token("u42")));
    REQUIRE(hub.wait_open(c, 5000));
    REQUIRE(hub.recv_text(c, 5000));  // auth_success
    RunResult n = run_pushctl({"-f", s.config_file, "notify", "--user", "u42,other", "--title", "Hi \"there\"",
                               "--body", "line"});
    INFO(n.output);
    REQUIRE(n.exit.ok());
    const std::string id = trim(n.output);
    auto m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "notification");
    CHECK(jfield(*m, "data.notification_id") == id);
    CHECK(jfield(*m, "data.data.title") == "Hi \"there\"");
    CHECK(jfield(*m, "data.data.body") == "line");

    RunResult d = run_pushctl({"-f", s.config_file, "notify", "--all", "--data", R"({"k":[1,2]})"});
    REQUIRE(d.exit.ok());
    m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "data.data") == R"({"k":[1,2]})");
}

TEST_CASE("pushctl notify: usage errors exit 2, an unreachable Redis exits 1", "[pushctl]") {
    Stack s;
    RunResult two = run_pushctl({"-f", s.config_file, "notify", "--user", "a", "--all", "--data", "{}"});
    CHECK(two.exit.exit_code == 2);
    RunResult bad = run_pushctl({"-f", s.config_file, "notify", "--user", "a", "--data", "[1]"});
    CHECK(bad.exit.exit_code == 2);
    CHECK(bad.output.find("--data: not a JSON object") != std::string::npos);
    RunResult none = run_pushctl({"-f", s.config_file, "notify", "--user", "a"});
    CHECK(none.exit.exit_code == 2);
    RunResult down = run_pushctl({"-f", s.config_file, "notify", "--user", "a", "--data", "{}"},
                                 {{"PUSHD_REDIS_HOST", "127.0.0.1:" + std::to_string(free_port())}});
    CHECK(down.exit.exit_code == 1);
    CHECK(down.output.find("redis") != std::string::npos);
    RunResult nocfg = run_pushctl({"-f", "/nonexistent.yaml", "notify", "--all", "--data", "{}"});
    CHECK(nocfg.exit.exit_code == 2);
}

TEST_CASE("pushctl group add/remove/members change both sets; membership takes effect", "[pushctl]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdOptions o = standard_options(redis.port(), {{"Groups.RequireMembership", "true"}});
    PushdProcess pushd;
    REQUIRE(pushd.start(o));
    REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    const std::string cfg = unique_temp_path("pushctl", ".yaml");
    REQUIRE(write_file(cfg, o.config_yaml));

    REQUIRE(run_pushctl({"-f", cfg, "group", "add", "g1", "alice", "bob"}).exit.ok());
    RunResult m = run_pushctl({"-f", cfg, "group", "members", "g1"});
    CHECK(m.exit.ok());
    CHECK(m.output == "alice\nbob\n");
    RespValue groups = redis_command(redis.port(), {"SMEMBERS", "pushd:user:alice:groups"});
    REQUIRE(groups.elements.size() == 1);
    CHECK(groups.elements[0].str == "g1");

    WsClientHub hub;
    auto join_reply = [&](const std::string& user) {
        int c = hub.connect(pushd.ws_options("?token=" + user_token(user)));
        REQUIRE(hub.wait_open(c, 5000));
        REQUIRE(hub.recv_text(c, 5000));  // auth_success
        hub.send_text(c, R"({"type":"join_group","message_id":"j","data":{"group_id":"g1"}})");
        // With AutoJoin a member may first see nothing else; the ack is the reply.
        for (;;) {
            auto r = hub.recv_text(c, 5000);
            REQUIRE(r);
            if (jfield(*r, "type") == "ack") return jfield(*r, "data.success") + "/" + jfield(*r, "data.code");
        }
    };
    CHECK(join_reply("alice") == "true/");
    CHECK(join_reply("carol") == "false/403");

    REQUIRE(run_pushctl({"-f", cfg, "group", "remove", "g1", "bob"}).exit.ok());
    CHECK(run_pushctl({"-f", cfg, "group", "members", "g1"}).output == "alice\n");
    CHECK(redis_command(redis.port(), {"SCARD", "pushd:user:bob:groups"}).integer == 0);
    CHECK(run_pushctl({"-f", cfg, "group", "add", "g1"}).exit.exit_code == 2);
}
