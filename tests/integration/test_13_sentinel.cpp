// Redis.Mode sentinel (issue 15): pushd finds the master through the
// sentinels and follows a failover without a restart. Real processes: a
// master, a replica, three redis-sentinels, two pushd instances. Also
// Redis.WaitReplicas: acks (and deliveries) wait for a replica, with and
// without a failover.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <set>

using namespace pushd::test;
using pushd::WsClientHub;

namespace {

const char* kMasterName = "mymaster";

// One redis-server in sentinel mode, with its own config file (a sentinel
// rewrites it) and port.
class SentinelProcess {
public:
    explicit SentinelProcess(uint16_t master_port) : port_(free_port()) {
        dir_ = make_temp_subdir("sentinel-" + std::to_string(port_));
        write_file(dir_ + "/sentinel.conf",
                   "port " + std::to_string(port_) + "\nbind 127.0.0.1\nprotected-mode no\ndir " + dir_ +
                       "\nsentinel monitor " + kMasterName + " 127.0.0.1 " + std::to_string(master_port) +
                       " 2\nsentinel down-after-milliseconds " + kMasterName + " 1000\nsentinel failover-timeout " +
                       kMasterName + " 5000\n");
    }
    bool start() {
        std::string error;
        if (!child_.start({"redis-server", dir_ + "/sentinel.conf", "--sentinel"}, {}, dir_ + "/log", error))
            return false;
        return wait_until([&] { return !master().empty(); }, 10000, 50);
    }
    // The master's "host:port" as this sentinel names it, or "".
    std::string master() const {
        RespValue r = redis_command(port_, {"SENTINEL", "get-master-addr-by-name", kMasterName}, 500);
        if (r.elements.size() != 2) return "";
        return r.elements[0].str + ":" + r.elements[1].str;
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    uint16_t port_;
    std::string dir_;
    ChildProcess child_;
};

std::string auth(const std::string& user) {
    return R"({"type":"auth","message_id":"auth","data":{"token":")" + user_token(user) + R"("}})";
}
std::string join(const std::string& group, const std::string& since = "") {
    std::string j = R"({"type":"join_group","message_id":"j","data":{"group_id":")" + group + "\"";
    if (!since.empty()) j += R"(,"since":")" + since + "\"";
    return j + "}}";
}
std::string send(const std::string& mid, const std::string& content) {
    return R"({"type":"send_message","message_id":")" + mid +
           R"(","data":{"group_id":"room","msg_type":1,"content":")" + content + "\"}}";
}

// The next message of `type` on connection `c` (others skipped), or "".
std::string next_of(WsClientHub& hub, int c, const std::string& type, int timeout_ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
        auto m = hub.recv_text(c, 200);
        if (m && jfield(*m, "type") == type) return *m;
    }
    return "";
}

// The group's history on the Redis at `port`: its ids, oldest first, and
// their contents.
std::vector<std::pair<std::string, std::string>> history(uint16_t port) {
    std::vector<std::pair<std::string, std::string>> h;
    RespValue r = redis_command(port, {"XRANGE", "pushd:group:room", "-", "+"}, 2000);
    for (const RespValue& e : r.elements) {
        if (e.elements.size() != 2) continue;
        std::string content;
        const auto& f = e.elements[1].elements;
        for (size_t i = 0; i + 1 < f.size(); i += 2)
            if (f[i].str == "content") content = f[i + 1].str;
        h.emplace_back(e.elements[0].str, content);
    }
    return h;
}

// Stream ids in order ("<ms>-<seq>").
bool id_less(const std::string& x, const std::string& y) {
    auto parts = [](const std::string& id) {
        const size_t dash = id.find('-');
        return std::make_pair(std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1)));
    };
    return parts(x) < parts(y);
}

bool replica_online(const RedisProcess& master, size_t replicas = 1) {
    const std::string info = redis_command(master.port(), {"INFO", "replication"}).str;
    size_t online = 0;
    for (size_t p = 0; (p = info.find("state=online", p)) != std::string::npos; p++) online++;
    return online >= replicas;
}

// A master with `n` replicas, all in sync.
std::vector<std::unique_ptr<RedisProcess>> start_replicas(const RedisProcess& master, size_t n) {
    std::vector<std::unique_ptr<RedisProcess>> replicas;
    for (size_t i = 0; i < n; i++) {
        RedisOptions ro;
        ro.extra_args = {"--replicaof", "127.0.0.1", std::to_string(master.port())};
        replicas.push_back(std::make_unique<RedisProcess>(ro));
        REQUIRE(replicas.back()->start());
    }
    REQUIRE(wait_until([&] { return replica_online(master, n); }, 10000, 50));
    return replicas;
}

// Three sentinels watching `master`, kept in `sentinels`; returns the
// Redis.Sentinels list naming them (without the brackets).
std::string start_sentinels(const RedisProcess& master, std::vector<std::unique_ptr<SentinelProcess>>& sentinels) {
    std::string list;
    for (int i = 0; i < 3; i++) {
        sentinels.push_back(std::make_unique<SentinelProcess>(master.port()));
        REQUIRE(sentinels.back()->start());
        list += (list.empty() ? "" : ", ") + std::string("\"") + sentinels.back()->address() + "\"";
    }
    return list;
}

// A connection to `p` authenticated as `user`, in the room when `join_room`.
int open_user(WsClientHub& hub, const PushdProcess& p, const std::string& user, bool join_room) {
    int c = hub.connect(p.ws_options());
    REQUIRE(hub.wait_open(c, 5000));
    hub.send_text(c, auth(user));
    REQUIRE(next_of(hub, c, "auth_success") != "");
    if (join_room) {
        hub.send_text(c, join("room"));
        REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    }
    return c;
}

// The contents of the next `n` new_messages on `c` (fewer when they stop
// coming), with their ids.
std::vector<std::pair<std::string, std::string>> receive(WsClientHub& hub, int c, size_t n, int timeout_ms = 5000) {
    std::vector<std::pair<std::string, std::string>> got;
    for (std::string m; got.size() < n && (m = next_of(hub, c, "new_message", timeout_ms)) != "";)
        got.emplace_back(jfield(m, "message_id"), jfield(m, "data.content"));
    return got;
}

}  // namespace

TEST_CASE("sentinel mode: a failover under traffic is followed, sends resume, subscribers lose nothing acked after it",
          "[redis][sentinel]") {
    RedisProcess master;
    REQUIRE(master.start());
    auto replicas = start_replicas(master, 1);
    RedisProcess& replica = *replicas[0];
    std::vector<std::unique_ptr<SentinelProcess>> sentinels;
    const std::string list = start_sentinels(master, sentinels);
    const ConfigOverrides sentinel_mode = {
        {"Redis.Mode", "sentinel"},           {"Redis.MasterName", kMasterName}, {"Redis.Sentinels", "[" + list + "]"},
        {"Redis.Host", "\"127.0.0.1:1\""},  // ignored in sentinel mode
        {"Limits.MessagesPerSecond", "1000"}, {"Limits.Burst", "10000"}};
    PushdProcess a, b;
    REQUIRE(a.start(standard_options(master.port(), sentinel_mode)));
    REQUIRE(b.start(standard_options(master.port(), sentinel_mode)));
    for (PushdProcess* p : {&a, &b})
        REQUIRE(wait_until([&] { return p->get("/health", 1000).status == 200; }, 10000, 50));
    CHECK(jfield(a.get("/stats").body, "redis_master") == master.host_port());

    WsClientHub hub;
    int alice = hub.connect(a.ws_options()), bob = hub.connect(b.ws_options());
    for (int c : {alice, bob}) {
        REQUIRE(hub.wait_open(c, 5000));
        hub.send_text(c, c == alice ? auth("alice") : auth("bob"));
        REQUIRE(next_of(hub, c, "auth_success") != "");
        hub.send_text(c, join("room"));
        REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    }
    hub.send_text(alice, send("before", "before"));
    REQUIRE(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    const std::string before = next_of(hub, bob, "new_message");
    REQUIRE(jfield(before, "data.content") == "before");

    // The master dies; the sentinels promote the replica.
    master.kill();
    REQUIRE(wait_until([&] { return sentinels[0]->master() == replica.host_port(); }, 30000, 100));
    const auto promoted = std::chrono::steady_clock::now();
    // Sends resume within 5 s of the promotion: retried with the same id
    // until acked (503 meanwhile means nothing was stored).
    std::string acked_id;
    for (int attempt = 0; acked_id.empty(); attempt++) {
        REQUIRE(std::chrono::steady_clock::now() - promoted < std::chrono::seconds(5));
        hub.send_text(alice, send("after-1", "after-1"));
        std::string ack = next_of(hub, alice, "ack");
        if (jfield(ack, "data.success") == "true")
            acked_id = jfield(ack, "data.server_message_id");
        else
            CHECK(jfield(ack, "data.code") == "503");
        if (acked_id.empty()) wait_until([] { return false; }, 100, 100);  // pace the retries
    }
    for (int i = 2; i <= 5; i++) {
        hub.send_text(alice, send("after-" + std::to_string(i), "after-" + std::to_string(i)));
        REQUIRE(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    }
    // Bob, on the other instance, gets every message acked after the
    // failover, once and in order; a reconnect with since catches up the
    // same way.
    std::vector<std::string> got;
    while (got.size() < 5) {
        std::string m = next_of(hub, bob, "new_message");
        REQUIRE(m != "");
        got.push_back(jfield(m, "data.content"));
    }
    CHECK(got == std::vector<std::string>{"after-1", "after-2", "after-3", "after-4", "after-5"});
    int carol = hub.connect(b.ws_options());
    REQUIRE(hub.wait_open(carol, 5000));
    hub.send_text(carol, auth("carol"));
    REQUIRE(next_of(hub, carol, "auth_success") != "");
    hub.send_text(carol, join("room", jfield(before, "message_id")));
    std::vector<std::string> replayed;
    for (std::string m; (m = next_of(hub, carol, "new_message", 2000)) != "";)
        replayed.push_back(jfield(m, "data.content"));
    CHECK(replayed == got);
    CHECK(jfield(a.get("/stats").body, "redis_master") == replica.host_port());
    CHECK(metric(a, "pushd_redis_failovers_total") == "1");
    CHECK(metric(b, "pushd_redis_up{link=\"sentinel\"}") == "1");
}

TEST_CASE("WaitReplicas: a WAIT timeout is 503 and its retry a duplicate; no replica, no send", "[redis][wait]") {
    RedisProcess master;
    REQUIRE(master.start());
    auto replicas = start_replicas(master, 1);
    RedisProcess& replica = *replicas[0];
    PushdProcess a;
    REQUIRE(a.start(standard_options(master.port(), {{"Redis.WaitReplicas", "1"}})));
    REQUIRE(wait_until([&] { return a.get("/health", 1000).status == 200; }, 10000, 50));
    WsClientHub hub;
    const int alice = open_user(hub, a, "alice", false), bob = open_user(hub, a, "bob", true);
    // The first send may time out while the replica finishes its first
    // sync on a loaded machine (seen under a parallel build): retried with
    // its id, as a client would, until acked; delivered once either way.
    bool first_acked = false;
    for (int attempt = 0; attempt < 10 && !first_acked; attempt++) {
        hub.send_text(alice, send("m1", "one"));
        const std::string ack = next_of(hub, alice, "ack");
        first_acked = jfield(ack, "data.success") == "true";
        if (!first_acked) REQUIRE(jfield(ack, "data.code") == "503");
    }
    REQUIRE(first_acked);
    REQUIRE(receive(hub, bob, 1).at(0).second == "one");

    // A replica that is connected but does not answer (stopped): the WAIT
    // times out, the sender gets 503, and nobody sees the message yet.
    REQUIRE(replica.signal(SIGSTOP));
    hub.send_text(alice, send("m2", "two"));
    const std::string slow = next_of(hub, alice, "ack");
    CHECK(jfield(slow, "data.code") == "503");
    CHECK(next_of(hub, bob, "new_message", 300) == "");
    // Once the replica holds it, it is delivered, once; the retry is
    // answered as a duplicate with the original id.
    REQUIRE(replica.signal(SIGCONT));
    const auto two = receive(hub, bob, 1);
    REQUIRE(two.size() == 1);
    CHECK(two[0].second == "two");
    hub.send_text(alice, send("m2", "two"));
    const std::string retry = next_of(hub, alice, "ack");
    CHECK(jfield(retry, "data.success") == "true");
    CHECK(jfield(retry, "data.duplicate") == "true");
    CHECK(jfield(retry, "data.server_message_id") == two[0].first);
    hub.send_text(alice, send("m3", "three"));
    REQUIRE(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    CHECK(receive(hub, bob, 1).at(0).second == "three");  // not "two" again
    CHECK(metric(a, "pushd_redis_waits_total{result=\"unconfirmed\"}") != "0");

    // No replica: /health says so and sends are refused at once.
    replica.stop();
    REQUIRE(wait_until([&] { return a.get("/health", 1000).body.find("waiting for replicas") != std::string::npos; },
                       5000, 50));
    CHECK(a.get("/health").status == 503);
    const auto sent = std::chrono::steady_clock::now();
    hub.send_text(alice, send("m4", "four"));
    CHECK(jfield(next_of(hub, alice, "ack"), "data.code") == "503");
    CHECK(std::chrono::steady_clock::now() - sent < std::chrono::milliseconds(400));  // not a WAIT timeout
    CHECK(history(master.port()).size() == 3);                                        // nothing stored
    // The replica is back: sends are acked again.
    REQUIRE(replica.start());
    REQUIRE(wait_until([&] { return a.get("/health", 1000).status == 200; }, 10000, 50));
    hub.send_text(alice, send("m4", "four"));
    CHECK(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    CHECK(receive(hub, bob, 1).at(0).second == "four");
}

TEST_CASE("WaitReplicas 1: master killed under traffic from two instances; nothing acked is lost",
          "[redis][sentinel][wait]") {
    RedisProcess master;
    REQUIRE(master.start());
    // Two replicas: after the failover the new master still has one to wait for.
    auto replicas = start_replicas(master, 2);
    std::vector<std::unique_ptr<SentinelProcess>> sentinels;
    const std::string list = start_sentinels(master, sentinels);
    const ConfigOverrides mode = {
        {"Redis.Mode", "sentinel"},  {"Redis.MasterName", kMasterName},    {"Redis.Sentinels", "[" + list + "]"},
        {"Redis.WaitReplicas", "1"}, {"Limits.MessagesPerSecond", "1000"}, {"Limits.Burst", "10000"}};
    PushdProcess a, b;
    REQUIRE(a.start(standard_options(master.port(), mode)));
    REQUIRE(b.start(standard_options(master.port(), mode)));
    for (PushdProcess* p : {&a, &b})
        REQUIRE(wait_until([&] { return p->get("/health", 1000).status == 200; }, 10000, 50));
    WsClientHub hub;
    const int senders[2] = {open_user(hub, a, "alice", false), open_user(hub, b, "bob", false)};
    const int subscribers[2] = {open_user(hub, a, "carol", true), open_user(hub, b, "dave", true)};

    // Rounds of one send per instance, each retried with its id until
    // acked; the master is killed after round 5.
    std::map<std::string, std::string> acked;  // content -> server id
    std::string last_before_kill;
    std::chrono::steady_clock::time_point promoted{}, resumed{};
    const std::string old_master = master.host_port();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    for (int round = 0; round < 15; round++) {
        if (round == 6) {
            last_before_kill = id_less(acked["a-5"], acked["b-5"]) ? acked["b-5"] : acked["a-5"];
            master.kill();
        }
        for (int s = 0; s < 2; s++) {
            const std::string content = std::string(s ? "b-" : "a-") + std::to_string(round);
            while (!acked.count(content)) {
                REQUIRE(std::chrono::steady_clock::now() < deadline);
                hub.send_text(senders[s], send(content, content));
                const std::string ack = next_of(hub, senders[s], "ack");
                if (jfield(ack, "data.success") == "true") {
                    acked[content] = jfield(ack, "data.server_message_id");
                    if (round >= 6 && resumed == std::chrono::steady_clock::time_point{})
                        resumed = std::chrono::steady_clock::now();
                    break;
                }
                CHECK(jfield(ack, "data.code") == "503");
                if (promoted == std::chrono::steady_clock::time_point{} && round >= 6 &&
                    sentinels[0]->master() != old_master && !sentinels[0]->master().empty())
                    promoted = std::chrono::steady_clock::now();
                wait_until([] { return false; }, 100, 100);  // pace the retries
            }
        }
    }
    // Sends resumed within 5 s of the promotion (seen by polling a sentinel
    // between retries; a send acked before that poll saw it counts as 0).
    if (promoted != std::chrono::steady_clock::time_point{}) CHECK(resumed - promoted < std::chrono::seconds(5));

    // Every acked message is in the new master's history, once.
    const std::string now_master = sentinels[0]->master();
    REQUIRE(now_master != old_master);
    uint16_t new_port = 0;
    for (auto& r : replicas)
        if (r->host_port() == now_master) new_port = r->port();
    REQUIRE(new_port != 0);
    const auto stored = history(new_port);
    std::set<std::string> ids, contents;
    for (const auto& [id, content] : stored) {
        ids.insert(id);
        CHECK(contents.insert(content).second);  // no message stored twice
    }
    for (const auto& [content, id] : acked) {
        INFO(content << " acked as " << id);
        CHECK(ids.count(id) == 1);
    }
    // Each subscriber saw exactly the history, in order: no gap, no
    // duplicate, nothing the failover lost.
    for (int sub : subscribers) CHECK(receive(hub, sub, stored.size()) == stored);
    // And a subscriber recovering with since gets the rest of it.
    for (PushdProcess* p : {&a, &b}) {
        const int late = open_user(hub, *p, "erin", false);
        hub.send_text(late, join("room", last_before_kill));
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& e : stored)
            if (id_less(last_before_kill, e.first)) expected.push_back(e);
        CHECK(receive(hub, late, expected.size()) == expected);
    }
}
