// Redis.Mode cluster (issue 15): two pushd instances on a Redis Cluster of
// three masters with one replica each, all real processes. The protocol
// across instances and shards (messages, replays, notifications and the
// inbox, AutoJoin, the HTTP API, pushctl), a slot with live traffic moved
// to another master (ASK while it migrates, then the new map), and a master
// killed under traffic with WaitReplicas 1: nothing acknowledged is lost,
// subscribers see no gap and no duplicate.
#include "core/cluster_slots.hpp"
#include "core/redis_schema.hpp"
#include "harness.hpp"
#include "redis_cluster_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>

using namespace pushd::test;
using pushd::HttpRequest;
using pushd::HttpResponse;
using pushd::WsClientHub;

namespace {

const char* kApiKey = "api-key-0123456789abcdef";
const pushd::RedisKeys kKeys("pushd:", 12);  // the cluster layout of Redis.BusShards 12 (the default)

// The overrides that put an instance on `cluster`; `extra` after them.
ConfigOverrides cluster_mode(RedisClusterProcess& cluster, ConfigOverrides extra = {}) {
    std::string nodes;
    for (const std::string& a : cluster.addresses()) nodes += (nodes.empty() ? "\"" : ", \"") + a + "\"";
    ConfigOverrides o = {{"Redis.Mode", "cluster"},
                         {"Redis.Nodes", "[" + nodes + "]"},
                         {"Limits.MessagesPerSecond", "1000"},
                         {"Limits.Burst", "10000"}};
    o.insert(o.end(), extra.begin(), extra.end());
    return o;
}

// Starts `p` on the cluster (Redis.Host is ignored in cluster mode) and
// waits until it is healthy: every slot's master reached.
void start_on(PushdProcess& p, RedisClusterProcess& cluster, ConfigOverrides extra = {}) {
    REQUIRE(p.start(standard_options(1, cluster_mode(cluster, std::move(extra)))));
    REQUIRE(wait_until([&] { return p.get("/health", 1000).status == 200; }, 20000, 50));
}

std::string auth(const std::string& user, const std::string& since = "") {
    std::string a = R"({"type":"auth","message_id":"auth","data":{"token":")" + user_token(user) + "\"";
    if (!since.empty()) a += R"(,"since":")" + since + "\"";
    return a + "}}";
}
std::string join(const std::string& group, const std::string& since = "") {
    std::string j = R"({"type":"join_group","message_id":"j","data":{"group_id":")" + group + "\"";
    if (!since.empty()) j += R"(,"since":")" + since + "\"";
    return j + "}}";
}
std::string send(const std::string& group, const std::string& mid, const std::string& content) {
    return R"({"type":"send_message","message_id":")" + mid + R"(","data":{"group_id":")" + group +
           R"(","msg_type":1,"content":")" + content + "\"}}";
}

// The next message of `type` on `c` (others skipped), or "".
std::string next_of(WsClientHub& hub, int c, const std::string& type, int timeout_ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
        auto m = hub.recv_text(c, 100);
        if (m && jfield(*m, "type") == type) return *m;
    }
    return "";
}

// A connection to `p` authenticated as `user`, joined to `groups`.
int open_user(WsClientHub& hub, const PushdProcess& p, const std::string& user,
              const std::vector<std::string>& groups = {}) {
    int c = hub.connect(p.ws_options());
    REQUIRE(hub.wait_open(c, 5000));
    hub.send_text(c, auth(user));
    REQUIRE(next_of(hub, c, "auth_success") != "");
    for (const std::string& g : groups) {
        hub.send_text(c, join(g));
        REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    }
    return c;
}

// The next `n` new_messages on `c` as (id, content), fewer when they stop.
std::vector<std::pair<std::string, std::string>> receive(WsClientHub& hub, int c, size_t n, int timeout_ms = 5000) {
    std::vector<std::pair<std::string, std::string>> got;
    for (std::string m; got.size() < n && (m = next_of(hub, c, "new_message", timeout_ms)) != "";)
        got.emplace_back(jfield(m, "message_id"), jfield(m, "data.content"));
    return got;
}

// A group's history as (id, content), oldest first, read from the master
// that serves its slot now.
std::vector<std::pair<std::string, std::string>> history(RedisClusterProcess& cluster, const std::string& group) {
    const std::string key = kKeys.group(group);
    std::vector<std::pair<std::string, std::string>> h;
    RespValue r = cluster.command(cluster.master_of(pushd::key_slot(key)), {"XRANGE", key, "-", "+"});
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

// A command on the master serving `key`.
RespValue on_master_of(RedisClusterProcess& cluster, const std::string& key, const std::vector<std::string>& args) {
    return cluster.command(cluster.master_of(pushd::key_slot(key)), args);
}

// Sends `content` to `group` from `c` with message id `content` until it
// is acked (503s retried every 100 ms); its server id, "" when `deadline`
// passed first.
std::string send_until_acked(WsClientHub& hub, int c, const std::string& group, const std::string& content,
                             std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
        hub.send_text(c, send(group, content, content));
        const std::string ack = next_of(hub, c, "ack");
        if (jfield(ack, "data.success") == "true") return jfield(ack, "data.server_message_id");
        CHECK(jfield(ack, "data.code") == "503");
        wait_until([] { return false; }, 100, 100);  // pace the retries
    }
    return "";
}

// Stream ids in order ("<ms>-<seq>").
bool id_less(const std::string& x, const std::string& y) {
    auto parts = [](const std::string& id) {
        const size_t dash = id.find('-');
        return std::make_pair(std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1)));
    };
    return parts(x) < parts(y);
}

// `stored` (a group's history) holds each message once and every acked
// one; each of `subscribers` received exactly `stored`, in order.
void check_nothing_lost(WsClientHub& hub, const std::vector<std::pair<std::string, std::string>>& stored,
                        const std::map<std::string, std::string>& acked, const int (&subscribers)[2]) {
    std::set<std::string> ids, contents;
    for (const auto& [id, content] : stored) {
        ids.insert(id);
        CHECK(contents.insert(content).second);
    }
    for (const auto& [content, id] : acked) {
        INFO(content << " acked as " << id);
        CHECK(ids.count(id) == 1);
    }
    for (int sub : subscribers) CHECK(receive(hub, sub, stored.size(), 10000) == stored);
}

HttpResponse api(uint16_t port, const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.headers.push_back({"Authorization", std::string("apikey ") + kApiKey});
    return pushd::http_request("127.0.0.1", port, req, 5000);
}

}  // namespace

TEST_CASE("cluster mode: messages, replays, notifications, AutoJoin, the API and pushctl across shards",
          "[redis][redis-cluster]") {
    RedisClusterProcess cluster(3, 1);
    REQUIRE(cluster.start());
    const uint16_t api_port = free_port();
    PushdProcess a, b;
    start_on(a, cluster,
             {{"Api.Listen", "\"127.0.0.1:" + std::to_string(api_port) + "\""},
              {"Api.Keys", std::string("[\"") + kApiKey + "\"]"}});
    start_on(b, cluster);

    // Six groups whose histories live on more than one master.
    const std::vector<std::string> groups = {"g0", "g1", "g2", "g3", "g4", "g5"};
    std::set<std::string> masters;
    for (const std::string& g : groups) masters.insert(cluster.master_of(pushd::key_slot(kKeys.group(g))));
    CHECK(masters.size() >= 2);

    WsClientHub hub;
    const int alice = open_user(hub, a, "alice", groups);
    const int bob = open_user(hub, b, "bob");
    for (const std::string& g : groups) {
        hub.send_text(bob, send(g, "m-" + g, "hello " + g));
        REQUIRE(jfield(next_of(hub, bob, "ack"), "data.success") == "true");
        const auto got = receive(hub, alice, 1);
        REQUIRE(got.size() == 1);
        CHECK(got[0].second == "hello " + g);
        CHECK(history(cluster, g) == got);  // stored in its shard's slot, delivered from there
    }

    // A replay from the start of a group's history, on the other instance.
    const int carol = open_user(hub, b, "carol");
    hub.send_text(carol, join("g3", "0"));
    CHECK(receive(hub, carol, 1) == history(cluster, "g3"));
    CHECK(jfield(next_of(hub, carol, "ack"), "data.replayed") == "1");

    // A notification added as business services do, to pushd:{notify}.
    const std::string notify = kKeys.notify();
    REQUIRE(notify == "pushd:{notify}");
    const RespValue nid =
        on_master_of(cluster, notify, {"XADD", notify, "*", "target", "user:alice", "data", R"({"n":1})"});
    REQUIRE(!nid.str.empty());
    CHECK(jfield(next_of(hub, alice, "notification"), "message_id") == nid.str);
    // ... stored in alice's inbox (pushd:inbox:{alice}), replayed with since.
    const int alice2 = hub.connect(a.ws_options());
    REQUIRE(hub.wait_open(alice2, 5000));
    hub.send_text(alice2, auth("alice", "0"));
    const std::string replayed = next_of(hub, alice2, "notification");
    CHECK(jfield(replayed, "message_id") == nid.str);
    CHECK(jfield(replayed, "data.replay") == "true");

    // AutoJoin from pushd:user:{erin}:groups.
    const std::string erin_groups = kKeys.user_groups("erin");
    REQUIRE(erin_groups == "pushd:user:{erin}:groups");
    REQUIRE(on_master_of(cluster, erin_groups, {"SADD", erin_groups, "g1"}).integer == 1);
    const int erin = open_user(hub, b, "erin");
    wait_until([] { return false; }, 300, 300);  // let the AutoJoin's reply land before the send
    hub.send_text(bob, send("g1", "m-auto", "for erin"));
    REQUIRE(jfield(next_of(hub, bob, "ack"), "data.success") == "true");
    CHECK(jfield(next_of(hub, erin, "new_message"), "data.content") == "for erin");
    CHECK(jfield(next_of(hub, alice, "new_message"), "data.content") == "for erin");  // alice is in g1 too

    // The HTTP API: publish and history.
    const HttpResponse pub =
        api(api_port, "POST", "/api/publish", R"({"group_id":"g2","sender_id":"ops","content":"from the api"})");
    REQUIRE(pub.status == 200);
    CHECK(jfield(next_of(hub, alice, "new_message"), "data.content") == "from the api");
    const HttpResponse hist = api(api_port, "GET", "/api/history?group=g2");
    REQUIRE(hist.status == 200);
    CHECK(jfield(hist.body, "messages.1.content") == "from the api");

    // Presence (its keys under {presence}), disconnect (a control entry on
    // bus shard 0) and revoke (`revoked` with it, one script), across both
    // instances.
    REQUIRE(wait_until(
        [&] { return jfield(api(api_port, "GET", "/api/presence?user=alice").body, "connections") == "2"; }, 5000, 50));
    REQUIRE(api(api_port, "POST", "/api/disconnect", R"({"user_id":"carol","reason":"maintenance"})").status == 200);
    REQUIRE(hub.wait_closed(carol, 2000));
    CHECK(hub.close_code(carol) == 4010);
    const int mallory = open_user(hub, b, "mallory");
    REQUIRE(api(api_port, "POST", "/api/revoke", R"({"user_id":"mallory","seconds":60})").status == 200);
    REQUIRE(hub.wait_closed(mallory, 2000));
    CHECK(hub.close_code(mallory) == 4001);
    CHECK(on_master_of(cluster, kKeys.revoked(), {"HEXISTS", kKeys.revoked(), "mallory"}).integer == 1);

    // pushctl on the same configuration: group add, publish, stats --cluster.
    const std::string cfg = a.config_path();
    RunResult add = run_pushctl({"-f", cfg, "group", "add", "g4", "frank"});
    REQUIRE(add.exit.ok());
    CHECK(on_master_of(cluster, kKeys.members("g4"), {"SISMEMBER", kKeys.members("g4"), "frank"}).integer == 1);
    CHECK(on_master_of(cluster, kKeys.user_groups("frank"), {"SISMEMBER", kKeys.user_groups("frank"), "g4"}).integer ==
          1);
    RunResult members = run_pushctl({"-f", cfg, "group", "members", "g4"});
    CHECK(members.exit.ok());
    CHECK(members.output == "frank\n");
    RunResult pub2 = run_pushctl({"-f", cfg, "publish", "--group", "g5", "--from", "ops", "via pushctl"});
    REQUIRE(pub2.exit.ok());
    CHECK(jfield(next_of(hub, alice, "new_message"), "data.content") == "via pushctl");
    REQUIRE(wait_until(
        [&] {
            RunResult st = run_pushctl({"-f", cfg, "stats", "--cluster", "--json"});
            return st.exit.ok() && jfield(st.output, "total.redis_up") == "2";
        },
        10000, 200));

    // /stats names the three masters; /metrics counts redirects.
    const std::string stats = a.get("/stats").body;
    for (const std::string& m : cluster.masters()) CHECK(stats.find(m) != std::string::npos);
    CHECK(a.metric("pushd_redis_redirects_total{kind=\"moved\"}") >= 0);
}

TEST_CASE("cluster mode: a slot with live traffic moves to another master (ASK while it migrates); nothing is lost",
          "[redis][redis-cluster][reshard]") {
    RedisClusterProcess cluster(3, 1);
    REQUIRE(cluster.start());
    PushdProcess a, b;
    start_on(a, cluster, {{"Redis.WaitReplicas", "1"}});
    start_on(b, cluster, {{"Redis.WaitReplicas", "1"}});
    const uint16_t slot = pushd::key_slot(kKeys.group("room"));
    const std::string from = cluster.master_of(slot);
    std::string to;
    for (const std::string& m : cluster.masters())
        if (m != from) to = m;
    REQUIRE(!to.empty());

    WsClientHub hub;
    const int senders[2] = {open_user(hub, a, "alice"), open_user(hub, b, "bob")};
    const int subscribers[2] = {open_user(hub, a, "carol", {"room"}), open_user(hub, b, "dave", {"room"})};
    std::map<std::string, std::string> acked;  // content -> server id
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto round_of_sends = [&](int round) {
        for (int s = 0; s < 2; s++) {
            const std::string content = std::string(s ? "b-" : "a-") + std::to_string(round);
            const std::string id = send_until_acked(hub, senders[s], "room", content, deadline);
            REQUIRE(!id.empty());
            acked[content] = id;
        }
    };
    for (int round = 0; round < 3; round++) round_of_sends(round);

    // While the slot migrates, the send script (three keys, its dedup key
    // always new) cannot run on either side: `from` answers ASK, `to`
    // TRYAGAIN. Sends are 503 and store nothing; the sender retries.
    REQUIRE(cluster.begin_move(slot, from, to));
    hub.send_text(senders[0], send("room", "during", "during"));
    CHECK(jfield(next_of(hub, senders[0], "ack"), "data.code") == "503");
    REQUIRE(cluster.migrate_keys(slot, from, to));
    // The history is on `to` now and `from` still serves the slot: a
    // replay (one key) is answered ASK and read from `to`.
    const double asks = a.metric("pushd_redis_redirects_total{kind=\"ask\"}");
    const int late = open_user(hub, a, "erin");
    hub.send_text(late, join("room", "0"));
    CHECK(receive(hub, late, 6).size() == 6);
    CHECK(jfield(next_of(hub, late, "ack"), "data.replayed") == "6");
    CHECK(a.metric("pushd_redis_redirects_total{kind=\"ask\"}") > asks);
    REQUIRE(cluster.finish_move(slot, from, to));

    // `to` serves it for good: the first commands there are MOVED, the map
    // follows, sends resume (the 503 above retried first).
    acked["during"] = send_until_acked(hub, senders[0], "room", "during", deadline);
    REQUIRE(!acked["during"].empty());
    for (int round = 3; round < 8; round++) round_of_sends(round);
    CHECK(cluster.master_of(slot) == to);
    // Both instances follow the move: by a MOVED answer, or by the periodic
    // map refresh when it comes first (which of the two is timing).
    for (PushdProcess* p : {&a, &b}) CHECK(p->metric("pushd_redis_failovers_total") > 0);

    // Every acked message is in the history on the new master, once; each
    // subscriber saw exactly that history, in order.
    const auto stored = history(cluster, "room");
    check_nothing_lost(hub, stored, acked, subscribers);
}

TEST_CASE("cluster mode, WaitReplicas 1: a master killed under traffic; nothing acked is lost",
          "[redis][redis-cluster][wait]") {
    RedisClusterProcess cluster(3, 1);
    REQUIRE(cluster.start());
    PushdProcess a, b;
    start_on(a, cluster, {{"Redis.WaitReplicas", "1"}});
    start_on(b, cluster, {{"Redis.WaitReplicas", "1"}});
    // "room" on the master that dies; "calm" on another one.
    const std::string victim = cluster.master_of(pushd::key_slot(kKeys.group("room")));
    std::string calm;
    for (int i = 0; calm.empty(); i++) {
        const std::string g = "calm" + std::to_string(i);
        if (cluster.master_of(pushd::key_slot(kKeys.group(g))) != victim) calm = g;
    }

    WsClientHub hub;
    const int senders[2] = {open_user(hub, a, "alice"), open_user(hub, b, "bob")};
    const int subscribers[2] = {open_user(hub, a, "carol", {"room"}), open_user(hub, b, "dave", {"room"})};
    std::map<std::string, std::string> acked;
    std::string last_before_kill;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int round = 0; round < 12; round++) {
        if (round == 5) {
            last_before_kill = id_less(acked["b-4"], acked["a-4"]) ? acked["a-4"] : acked["b-4"];
            REQUIRE(cluster.kill(victim));
            // Some slots have no reachable master (then no replica to wait for): degraded.
            CHECK(wait_until([&] { return a.get("/health", 1000).status == 503; }, 5000, 20));
            // Its replica is promoted (node timeout 1 s); it has no replica
            // of its own, so WaitReplicas holds sends to its slots until the
            // old master comes back as the new one's replica.
            REQUIRE(wait_until(
                [&] {
                    return !cluster.master_of(pushd::key_slot(kKeys.group("room"))).empty() &&
                           cluster.master_of(pushd::key_slot(kKeys.group("room"))) != victim;
                },
                15000, 100));
            // Groups on other masters are served meanwhile.
            CHECK(!send_until_acked(hub, senders[0], calm, "calm", deadline).empty());
            REQUIRE(cluster.node(victim)->start());
        }
        for (int s = 0; s < 2; s++) {
            const std::string content = std::string(s ? "b-" : "a-") + std::to_string(round);
            const std::string id = send_until_acked(hub, senders[s], "room", content, deadline);
            REQUIRE(!id.empty());
            acked[content] = id;
        }
    }
    const auto stored = history(cluster, "room");
    check_nothing_lost(hub, stored, acked, subscribers);
    CHECK(wait_until([&] { return a.get("/health", 1000).status == 200; }, 10000, 50));
    CHECK(a.metric("pushd_redis_failovers_total") > 0);
    // A subscriber recovering with since gets the rest, on either instance.
    for (PushdProcess* p : {&a, &b}) {
        const int late = open_user(hub, *p, "erin");
        hub.send_text(late, join("room", last_before_kill));
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& e : stored)
            if (id_less(last_before_kill, e.first)) expected.push_back(e);
        CHECK(receive(hub, late, expected.size()) == expected);
    }
}
