// pushctl against real pushd and redis-server processes: exit codes,
// output, and what it publishes reaching WebSocket clients.
#include "client/requests.hpp"
#include "harness.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <utility>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// redis-server, pushd on it, and the same configuration in a file for
// pushctl; with `tls`, pushd serves https:// and wss:// with that certificate.
struct Stack {
    RedisProcess redis;
    PushdProcess pushd;
    std::string config_file;
    explicit Stack(const TestCert* tls = nullptr) {
        REQUIRE(redis.start());
        ConfigOverrides overrides;
        if (tls)
            overrides = {{"Security.TLS.Cert", "\"" + tls->cert + "\""}, {"Security.TLS.Key", "\"" + tls->key + "\""}};
        PushdOptions o = standard_options(redis.port(), overrides);
        o.tls = tls != nullptr;
        REQUIRE(pushd.start(o));
        REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
        config_file = unique_temp_path("pushctl", ".yaml");
        REQUIRE(write_file(config_file, o.config_yaml));
    }
    std::string server() const { return "http://127.0.0.1:" + std::to_string(pushd.port()); }
    std::string https() const { return "https://127.0.0.1:" + std::to_string(pushd.port()); }
};

size_t line_count(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

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
    RunResult n = run_pushctl(
        {"-f", s.config_file, "notify", "--user", "u42,other", "--title", "Hi \"there\"", "--body", "line"});
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
        hub.send_text(c, requests::join_group("j", "g1"));
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

namespace {

// A pushctl left running (tail, listen): its stdout and stderr go to a file
// read while it runs; stopped by PID.
struct Background {
    ChildProcess child;
    std::string log = unique_temp_path("pushctl-bg", ".log");
    bool start(const std::vector<std::string>& args) {
        std::vector<std::string> argv{pushctl_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::string error;
        bool ok = child.start(argv, {}, log, error);
        if (!ok) UNSCOPED_INFO(error);
        return ok;
    }
    std::string output() const { return read_file(log); }
    // The output's complete lines.
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::string all = output(), line;
        for (char ch : all) {
            if (ch != '\n')
                line += ch;
            else
                out.push_back(std::exchange(line, {}));
        }
        return out;
    }
    bool has_line(const std::function<bool(const std::string&)>& match) const {
        for (const std::string& l : lines()) {
            if (match(l)) return true;
        }
        return false;
    }
};

// True once a Redis client named `name` is blocked in XREAD: `pushctl tail`
// has read the streams' ends and waits for what comes next.
bool tail_blocked(uint16_t redis_port) {
    RespValue list = redis_command(redis_port, {"CLIENT", "LIST"});
    size_t at = 0;
    const std::string& text = list.text();
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        if (line.find("name=pushctl-tail ") != std::string::npos && line.find(" flags=b ") != std::string::npos &&
            line.find(" cmd=xread ") != std::string::npos)
            return true;
        at = end + 1;
    }
    return false;
}

// Field `path` of element `i` of the array at `array_path` in `json`; ""
// when there is no such element.
std::string jitem(const std::string& json, const std::string& array_path, int i, const std::string& path) {
    cJSON* array = cJSON_Parse(jfield(json, array_path).c_str());
    cJSON* item = cJSON_GetArrayItem(array, i);
    std::string out;
    if (item) {
        char* text = cJSON_PrintUnformatted(item);
        out = jfield(text, path);
        cJSON_free(text);
    }
    cJSON_Delete(array);
    return out;
}

// Connects `user`, authenticates and joins `group` (waits for the ack).
int member(WsClientHub& hub, const PushdProcess& pushd, const std::string& user, const std::string& group) {
    int c = hub.connect(pushd.ws_options("?token=" + user_token(user)));
    REQUIRE(hub.wait_open(c, 5000));
    REQUIRE(hub.recv_text(c, 5000));  // auth_success
    hub.send_text(c, requests::join_group("j", group));
    auto ack = hub.recv_text(c, 5000);
    REQUIRE(ack);
    REQUIRE(jfield(*ack, "data.success") == "true");
    return c;
}

}  // namespace

TEST_CASE("pushctl publish reaches group members; a retry with its --message-id is a duplicate", "[pushctl]") {
    Stack s;
    WsClientHub hub;
    int c = member(hub, s.pushd, "bob", "g1");
    RunResult p = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "--msg-type", "7",
                               "--message-id", "deploy-42", "hello \"all\""});
    INFO(p.output);
    REQUIRE(p.exit.ok());
    const std::string id = trim(p.output);
    auto m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "new_message");
    CHECK(jfield(*m, "data.message_id") == id);
    CHECK(jfield(*m, "data.group_id") == "g1");
    CHECK(jfield(*m, "data.sender_id") == "ops");
    CHECK(jfield(*m, "data.client_message_id") == "deploy-42");
    CHECK(jfield(*m, "data.msg_type") == "7");
    CHECK(jfield(*m, "data.content") == "hello \"all\"");

    RunResult again = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "--message-id",
                                   "deploy-42", "--json", "hello \"all\""});
    INFO(again.output);
    REQUIRE(again.exit.ok());
    CHECK(jfield(again.output, "message_id") == id);
    CHECK(jfield(again.output, "duplicate") == "true");
    CHECK(redis_command(s.redis.port(), {"XLEN", "pushd:group:g1"}).integer == 1);

    // Without --message-id every publish is a new message with its own id.
    RunResult a = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "one"});
    RunResult b = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "two"});
    REQUIRE(a.exit.ok());
    REQUIRE(b.exit.ok());
    CHECK(trim(a.output) != trim(b.output));
    // The duplicate was not pushed: the next message is "one", then "two".
    m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "data.content") == "one");
    CHECK(jfield(*m, "data.message_id") == trim(a.output));
    CHECK(jfield(*m, "data.client_message_id").rfind("pushctl-", 0) == 0);
    m = hub.recv_text(c, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "data.content") == "two");
}

TEST_CASE("pushctl publish: usage errors exit 2; Redis down or not a member exits 1", "[pushctl]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    const std::string cfg = unique_temp_path("pushctl", ".yaml");
    REQUIRE(write_file(cfg, standard_config(free_port(), redis.port(), {{"Groups.RequireMembership", "true"}})));
    auto publish = [&](std::vector<std::string> args, const EnvVars& env = {}) {
        args.insert(args.begin(), {"-f", cfg, "publish"});
        return run_pushctl(args, env);
    };
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    const std::vector<Case> usage{
        {{"--group", "g1", "hi"}, "--from"},
        {{"--group", "g1", "--from", "a"}, "content"},
        {{"--group", "", "--from", "a", "hi"}, "--group"},
        {{"--group",
          "a\x01"
          "b",
          "--from", "a", "hi"},
         "--group"},
        {{"--group", std::string(129, 'g'), "--from", "a", "hi"}, "--group"},
        {{"--group", "g1", "--from", "", "hi"}, "--from"},
        {{"--group", "g1", "--from", "a\nb", "hi"}, "--from"},
        {{"--group", "g1", "--from", "a", "--msg-type", "-1", "hi"}, "--msg-type"},
        {{"--group", "g1", "--from", "a", "--msg-type", "2147483648", "hi"}, "--msg-type"},
        {{"--group", "g1", "--from", "a", "--message-id", "", "hi"}, "--message-id"},
        {{"--group", "g1", "--from", "a", "--message-id", std::string(129, 'm'), "hi"}, "--message-id"},
        {{"--group", "g1", "--from", "a", "bad \xff utf-8"}, "UTF-8"},
        {{"--group", "g1", "--from", "a", std::string(65537, 'x')}, "Limits.MaxMessageBytes"},
    };
    for (const Case& k : usage) {
        RunResult r = publish(k.args);
        INFO(r.output);
        CHECK(r.exit.exit_code == 2);
        CHECK(r.output.find(k.says) != std::string::npos);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
    CHECK(redis_command(redis.port(), {"EXISTS", "pushd:bus"}).integer == 0);

    RunResult refused = publish({"--group", "g1", "--from", "a", "hi"});
    CHECK(refused.exit.exit_code == 1);
    CHECK(refused.output.find("not a member") != std::string::npos);
    REQUIRE(run_pushctl({"-f", cfg, "group", "add", "g1", "a"}).exit.ok());
    CHECK(publish({"--group", "g1", "--from", "a", "hi"}).exit.ok());

    RunResult down = publish({"--group", "g1", "--from", "a", "hi"},
                             {{"PUSHD_REDIS_HOST", "127.0.0.1:" + std::to_string(free_port())}});
    CHECK(down.exit.exit_code == 1);
    CHECK(down.output.find("redis") != std::string::npos);
}

TEST_CASE("pushctl tail prints what is stored after it started, filtered by --group", "[pushctl]") {
    Stack s;
    // Stored before tail starts: never printed.
    REQUIRE(run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "old"}).exit.ok());
    Background tail;
    REQUIRE(tail.start({"-f", s.config_file, "tail", "--group", "g1", "--count", "2", "--json"}));
    // tail prints nothing before it reads: wait until its XREAD is blocked.
    REQUIRE(wait_until([&] { return tail_blocked(s.redis.port()); }, 5000, 20));
    REQUIRE(run_pushctl({"-f", s.config_file, "publish", "--group", "other", "--from", "ops", "skip"}).exit.ok());
    RunResult p = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "new\nline"});
    REQUIRE(p.exit.ok());
    RunResult n = run_pushctl({"-f", s.config_file, "notify", "--user", "u1", "--data", R"({"k":1})"});
    REQUIRE(n.exit.ok());
    ProcessExit e = tail.child.wait(5000);
    INFO(tail.output());
    REQUIRE(e.ok());
    std::vector<std::string> lines = tail.lines();
    REQUIRE(lines.size() == 2);
    CHECK(jfield(lines[0], "stream") == "group:g1");  // contract v1.1: as clients name it
    CHECK(jfield(lines[0], "id") == trim(p.output));
    CHECK(jfield(lines[0], "group_id") == "g1");
    CHECK(jfield(lines[0], "message_id") == trim(p.output));
    CHECK(jfield(lines[0], "sender_id") == "ops");
    CHECK(jfield(lines[0], "content") == "new\nline");
    CHECK(jfield(lines[1], "stream") == "notify");
    CHECK(jfield(lines[1], "id") == trim(n.output));
    CHECK(jfield(lines[1], "target") == "user:u1");
    CHECK(jfield(lines[1], "data") == R"({"k":1})");
}

TEST_CASE("pushctl tail: human lines, malformed entries, SIGINT exits 0", "[pushctl]") {
    Stack s;
    Background tail;
    REQUIRE(tail.start({"-f", s.config_file, "tail", "--count", "4"}));
    REQUIRE(wait_until([&] { return tail_blocked(s.redis.port()); }, 5000, 20));
    RespValue bad = redis_command(s.redis.port(), {"XADD", "pushd:notify", "*", "target", "nobody", "data", "{}"});
    REQUIRE(bad.ok());
    RespValue bad_bus = redis_command(s.redis.port(), {"XADD", "pushd:bus", "*", "group_id", "g1", "junk", "1"});
    REQUIRE(bad_bus.ok());
    RespValue odd = redis_command(
        s.redis.port(), {"XADD", "pushd:notify", "*", "id", "pub-1", "target", "all", "data", "{\n\"a\": 2}"});
    REQUIRE(odd.ok());
    RunResult p = run_pushctl({"-f", s.config_file, "publish", "--group", "g1", "--from", "ops", "hi"});
    REQUIRE(p.exit.ok());
    ProcessExit e = tail.child.wait(5000);
    INFO(tail.output());
    REQUIRE(e.ok());
    std::vector<std::string> lines = tail.lines();
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].rfind("malformed notify entry " + bad.text() + ": ", 0) == 0);
    CHECK(lines[1].rfind("malformed bus entry " + bad_bus.text() + ": ", 0) == 0);
    CHECK(lines[2] == "notification " + odd.text() + " to all: { \"a\": 2}");
    CHECK(lines[3].rfind("message g1 " + trim(p.output) + " from \"ops\" type 1 id \"pushctl-", 0) == 0);
    CHECK(lines[3].ends_with(": \"hi\""));

    // The publisher's own `id` field does not hide the entry id in --json.
    Background json;
    REQUIRE(json.start({"-f", s.config_file, "tail", "--json"}));
    REQUIRE(wait_until([&] { return tail_blocked(s.redis.port()); }, 5000, 20));
    RespValue again =
        redis_command(s.redis.port(), {"XADD", "pushd:notify", "*", "id", "pub-2", "target", "all", "data", "{}"});
    REQUIRE(again.ok());
    REQUIRE(wait_until([&] { return json.lines().size() == 1; }, 5000, 20));
    CHECK(jfield(json.lines()[0], "id") == again.text());
    CHECK(jfield(json.lines()[0], "field_id") == "pub-2");
    REQUIRE(json.child.signal(SIGINT));
    ProcessExit stopped = json.child.wait(3000);
    CHECK(stopped.ok());

    CHECK(run_pushctl({"-f", s.config_file, "tail", "--count", "0"}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", s.config_file, "tail", "--group", ""}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", "/nonexistent.yaml", "tail"}).exit.exit_code == 2);
    RunResult down =
        run_pushctl({"-f", s.config_file, "tail"}, {{"PUSHD_REDIS_HOST", "127.0.0.1:" + std::to_string(free_port())}});
    CHECK(down.exit.exit_code == 1);
}

TEST_CASE("pushctl listen prints group messages and notifications; SIGTERM exits 0", "[pushctl]") {
    Stack s;
    Background listen;
    REQUIRE(listen.start(
        {"-f", s.config_file, "--server", s.server(), "listen", "--user", "u1", "--group", "g1", "--group", "g2"}));
    // Joined both groups: the acks of both joins were printed.
    REQUIRE(wait_until([&] { return listen.lines().size() >= 3; }, 10000, 20));
    std::vector<std::string> lines = listen.lines();
    INFO(listen.output());
    CHECK(jfield(lines[0], "type") == "auth_success");
    CHECK(jfield(lines[0], "data.user_id") == "u1");
    CHECK(jfield(lines[1], "type") == "ack");
    CHECK(jfield(lines[1], "data.success") == "true");
    CHECK(jfield(lines[2], "data.success") == "true");

    RunResult p = run_pushctl({"-f", s.config_file, "publish", "--group", "g2", "--from", "ops", "to g2"});
    REQUIRE(p.exit.ok());
    RunResult n = run_pushctl({"-f", s.config_file, "notify", "--user", "u1", "--title", "T"});
    REQUIRE(n.exit.ok());
    REQUIRE(wait_until([&] { return listen.lines().size() >= 5; }, 5000, 20));
    lines = listen.lines();
    CHECK(jfield(lines[3], "type") == "new_message");
    CHECK(jfield(lines[3], "data.message_id") == trim(p.output));
    CHECK(jfield(lines[3], "data.content") == "to g2");
    CHECK(jfield(lines[4], "type") == "notification");
    CHECK(jfield(lines[4], "data.notification_id") == trim(n.output));
    CHECK(jfield(lines[4], "data.data.title") == "T");

    REQUIRE(listen.child.signal(SIGTERM));
    ProcessExit e = listen.child.wait(5000);
    CHECK(e.ok());
    CHECK(listen.lines().size() == 5);
}

TEST_CASE("pushctl listen: a server close or no server exits 1, bad options 2", "[pushctl]") {
    Stack s;
    Background listen;
    REQUIRE(listen.start({"-f", s.config_file, "--server", s.server(), "listen", "--user", "u1"}));
    REQUIRE(wait_until([&] { return listen.lines().size() >= 1; }, 10000, 20));
    CHECK(s.pushd.stop().ok());
    ProcessExit e = listen.child.wait(5000);
    INFO(listen.output());
    CHECK(e.exit_code == 1);
    CHECK(listen.output().find("pushctl: the server closed the connection: 1001") != std::string::npos);

    RunResult none = run_pushctl({"-f", s.config_file, "--server", s.server(), "listen", "--user", "u1"});
    CHECK(none.exit.exit_code == 1);
    CHECK(none.output.find("cannot connect") != std::string::npos);
    CHECK(std::count(none.output.begin(), none.output.end(), '\n') == 1);

    CHECK(run_pushctl({"-f", s.config_file, "listen"}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", s.config_file, "listen", "--user", ""}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", s.config_file, "listen", "--user", "u", "--group", ""}).exit.exit_code == 2);
    CHECK(run_pushctl({"-f", s.config_file, "--server", "nonsense", "listen", "--user", "u"}).exit.exit_code == 2);
}

TEST_CASE("pushctl listen: a refused join exits 1", "[pushctl]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdOptions o = standard_options(redis.port(), {{"Groups.RequireMembership", "true"}});
    PushdProcess pushd;
    REQUIRE(pushd.start(o));
    REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    const std::string cfg = unique_temp_path("pushctl", ".yaml");
    REQUIRE(write_file(cfg, o.config_yaml));
    RunResult r = run_pushctl({"-f", cfg, "--server", "http://127.0.0.1:" + std::to_string(pushd.port()), "listen",
                               "--user", "u1", "--group", "closed"});
    INFO(r.output);
    CHECK(r.exit.exit_code == 1);
    CHECK(r.output.find("pushctl: join_group closed: 403") != std::string::npos);
}

TEST_CASE("pushctl stats --cluster sums the live instances on one Redis", "[pushctl]") {
    Stack s;
    PushdOptions o2 = standard_options(s.redis.port(), {{"Name", "second"}});
    PushdProcess second;
    REQUIRE(second.start(o2));
    WsClientHub hub;
    member(hub, s.pushd, "a", "g1");
    member(hub, s.pushd, "b", "g1");
    member(hub, second, "c", "g2");
    // Each instance refreshes its entry every 5 seconds.
    std::string out;
    REQUIRE(wait_until(
        [&] {
            RunResult r = run_pushctl({"-f", s.config_file, "stats", "--cluster", "--json"});
            out = r.output;
            return r.exit.ok() && jfield(out, "total.online_users") == "3";
        },
        15000, 200));
    INFO(out);
    CHECK(jitem(out, "instances", 0, "name") == "pushd-test");
    CHECK(jitem(out, "instances", 0, "host") == "127.0.0.1");
    CHECK(jitem(out, "instances", 0, "port") == std::to_string(s.pushd.port()));
    CHECK(jitem(out, "instances", 0, "online_users") == "2");
    CHECK(jitem(out, "instances", 1, "name") == "second");
    CHECK(jitem(out, "instances", 1, "port") == std::to_string(second.port()));
    CHECK(jitem(out, "instances", 1, "online_users") == "1");
    CHECK(jitem(out, "instances", 2, "name") == "");
    CHECK(jfield(out, "total.connections") == "3");
    CHECK(jfield(out, "total.groups") == "2");
    CHECK(jfield(out, "total.redis_up") == "2");
    CHECK(jfield(out, "total.port") == "");

    RunResult table = run_pushctl({"-f", s.config_file, "stats", "--cluster"});
    CHECK(table.exit.ok());
    CHECK(table.output.find("second 127.0.0.1:" + std::to_string(second.port())) != std::string::npos);
    CHECK(table.output.find("TOTAL (2)") != std::string::npos);

    // A stopped instance deletes its entry: it is no longer listed.
    REQUIRE(second.stop().ok());
    RunResult one = run_pushctl({"-f", s.config_file, "stats", "--cluster", "--json"});
    CHECK(one.exit.ok());
    CHECK(jitem(one.output, "instances", 0, "name") == "pushd-test");
    CHECK(jitem(one.output, "instances", 1, "name") == "");

    CHECK(run_pushctl({"-f", "/nonexistent.yaml", "stats", "--cluster"}).exit.exit_code == 2);
    RunResult down = run_pushctl({"-f", s.config_file, "stats", "--cluster"},
                                 {{"PUSHD_REDIS_HOST", "127.0.0.1:" + std::to_string(free_port())}});
    CHECK(down.exit.exit_code == 1);
}

namespace {

// The numeric fields of a JSON object, in order; empty when not an object.
std::vector<std::pair<std::string, double>> numbers_of(const std::string& json) {
    std::vector<std::pair<std::string, double>> out;
    cJSON* root = cJSON_Parse(json.c_str());
    if (cJSON_IsObject(root)) {
        for (const cJSON* item = root->child; item; item = item->next) {
            if (cJSON_IsNumber(item)) out.emplace_back(item->string, item->valuedouble);
        }
    }
    cJSON_Delete(root);
    return out;
}

}  // namespace

TEST_CASE("pushctl health and stats over https: certificate checked unless --insecure or --cacert", "[pushctl][tls]") {
    TestCert tc;
    Stack s(&tc);

    RunResult ok = run_pushctl({"--server", s.https(), "--insecure", "health"});
    INFO(ok.output);
    CHECK(ok.exit.ok());
    CHECK(trim(ok.output) == "OK");

    // The self-signed certificate is not trusted by the system CAs.
    RunResult strict = run_pushctl({"--server", s.https(), "health"});
    INFO(strict.output);
    CHECK(strict.exit.exit_code == 1);
    CHECK(line_count(strict.output) == 1);
    CHECK(strict.output.rfind("pushctl: " + s.https() + ": tls handshake: certificate not trusted", 0) == 0);

    // --cacert trusts it (it names IP:127.0.0.1); another certificate does not.
    RunResult pinned = run_pushctl({"--server", s.https(), "--cacert", tc.cert, "health"});
    INFO(pinned.output);
    CHECK(pinned.exit.ok());
    CHECK(trim(pinned.output) == "OK");
    TestCert other;
    RunResult wrong = run_pushctl({"--server", s.https(), "--cacert", other.cert, "health"});
    CHECK(wrong.exit.exit_code == 1);
    CHECK(wrong.output.find("certificate not trusted") != std::string::npos);
    RunResult missing = run_pushctl({"--server", s.https(), "--cacert", temp_dir() + "/none.pem", "health"});
    CHECK(missing.exit.exit_code == 2);
    CHECK(missing.output.find("--cacert: cannot read") != std::string::npos);

    // Plain http:// to the TLS port gets no HTTP answer: one line, exit 1.
    RunResult plain = run_pushctl({"--server", s.server(), "health"});
    INFO(plain.output);
    CHECK(plain.exit.exit_code == 1);
    CHECK(line_count(plain.output) == 1);
    CHECK(plain.output.rfind("pushctl: " + s.server() + ": unreachable: ", 0) == 0);

    // stats --json over https is the /stats object: the same fields in the
    // same order, each between its values read just before and just after.
    const auto before = numbers_of(s.pushd.get("/stats").body);
    RunResult st = run_pushctl({"--server", s.https(), "--insecure", "stats", "--json"});
    const auto after = numbers_of(s.pushd.get("/stats").body);
    INFO(st.output);
    REQUIRE(st.exit.ok());
    CHECK(line_count(st.output) == 1);
    const auto got = numbers_of(st.output);
    REQUIRE(!got.empty());
    REQUIRE(got.size() == before.size());
    REQUIRE(got.size() == after.size());
    for (size_t i = 0; i < got.size(); i++) {
        INFO(got[i].first);
        CHECK(got[i].first == before[i].first);
        CHECK(got[i].first == after[i].first);
        CHECK(got[i].second >= std::min(before[i].second, after[i].second));
        CHECK(got[i].second <= std::max(before[i].second, after[i].second));
    }
    RunResult table = run_pushctl({"--server", s.https(), "--insecure", "stats"});
    CHECK(table.exit.ok());
    CHECK(table.output.rfind("online_users ", 0) == 0);
}

TEST_CASE("pushctl without --server talks to the configured pushd, over https when TLS is set", "[pushctl][tls]") {
    TestCert tc;
    Stack s(&tc);
    RunResult ok = run_pushctl({"-f", s.config_file, "--insecure", "health"});
    INFO(ok.output);
    CHECK(ok.exit.ok());
    CHECK(trim(ok.output) == "OK");
    RunResult strict = run_pushctl({"-f", s.config_file, "stats"});
    INFO(strict.output);
    CHECK(strict.exit.exit_code == 1);
    CHECK(strict.output.rfind("pushctl: " + s.https() + ": tls handshake: certificate not trusted", 0) == 0);

    Stack plain;
    RunResult h = run_pushctl({"-f", plain.config_file, "health"});
    CHECK(h.exit.ok());
    CHECK(trim(h.output) == "OK");
    CHECK(run_pushctl({"-f", "/nonexistent.yaml", "health"}).exit.exit_code == 2);
}

TEST_CASE("pushctl https:// to a plain pushd, or an unknown scheme, fails in one line", "[pushctl][tls]") {
    Stack s;
    const std::string https = "https://127.0.0.1:" + std::to_string(s.pushd.port());
    RunResult r = run_pushctl({"--server", https, "--insecure", "health"});
    INFO(r.output);
    CHECK(r.exit.exit_code == 1);
    CHECK(line_count(r.output) == 1);
    CHECK(r.output.rfind("pushctl: " + https + ": tls handshake: ", 0) == 0);
    RunResult l = run_pushctl({"-f", s.config_file, "--server", https, "--insecure", "listen", "--user", "u1"});
    INFO(l.output);
    CHECK(l.exit.exit_code == 1);
    CHECK(line_count(l.output) == 1);
    CHECK(l.output.rfind("pushctl: wss://127.0.0.1:" + std::to_string(s.pushd.port()) + "/ws: cannot connect: ", 0) ==
          0);
    RunResult ws = run_pushctl({"--server", "ws://127.0.0.1:" + std::to_string(s.pushd.port()), "health"});
    CHECK(ws.exit.exit_code == 2);
    CHECK(ws.output.find("--server: expected http://host:port or https://host:port") != std::string::npos);
}

TEST_CASE("pushctl listen over wss prints a notification; refuses an untrusted certificate", "[pushctl][tls]") {
    TestCert tc;
    Stack s(&tc);
    Background listen;
    REQUIRE(listen.start({"-f", s.config_file, "--server", s.https(), "--insecure", "listen", "--user", "u1"}));
    if (!wait_until([&] { return listen.lines().size() >= 1; }, 10000, 20)) FAIL(listen.output());
    CHECK(jfield(listen.lines()[0], "type") == "auth_success");
    CHECK(jfield(listen.lines()[0], "data.user_id") == "u1");
    RunResult n = run_pushctl({"-f", s.config_file, "notify", "--user", "u1", "--title", "over wss"});
    REQUIRE(n.exit.ok());
    if (!wait_until([&] { return listen.lines().size() >= 2; }, 5000, 20)) FAIL(listen.output());
    const std::string line = listen.lines()[1];
    CHECK(jfield(line, "type") == "notification");
    CHECK(jfield(line, "data.notification_id") == trim(n.output));
    CHECK(jfield(line, "data.data.title") == "over wss");
    REQUIRE(listen.child.signal(SIGTERM));
    CHECK(listen.child.wait(5000).ok());

    RunResult strict = run_pushctl({"-f", s.config_file, "--server", s.https(), "listen", "--user", "u1"});
    INFO(strict.output);
    CHECK(strict.exit.exit_code == 1);
    CHECK(line_count(strict.output) == 1);
    CHECK(strict.output.rfind("pushctl: wss://127.0.0.1:" + std::to_string(s.pushd.port()) +
                                  "/ws: cannot connect: tls handshake: certificate not trusted: ",
                              0) == 0);
    // Without --server: the configured pushd over wss, trusted with --cacert.
    Background pinned;
    REQUIRE(pinned.start({"-f", s.config_file, "--cacert", tc.cert, "listen", "--user", "u2"}));
    if (!wait_until([&] { return pinned.lines().size() >= 1; }, 10000, 20)) FAIL(pinned.output());
    CHECK(jfield(pinned.lines()[0], "data.user_id") == "u2");
    REQUIRE(pinned.child.signal(SIGTERM));
    CHECK(pinned.child.wait(5000).ok());
}
