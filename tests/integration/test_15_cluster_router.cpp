// Redis.Mode cluster (issue 15): io/redis_cluster's router on a uv loop in
// this process, against a real cluster of 3 masters and 3 replicas:
// commands reach the master of their key's slot, a migrating slot's ASK
// and a moved slot's MOVED are followed, a master's crash is survived once
// its replica takes over.
#include "harness.hpp"
#include "redis_cluster_process.hpp"

#include "cli/redis_cluster_sync.hpp"
#include "core/redis_schema.hpp"
#include "io/redis_cluster.hpp"

#include <hiredis/hiredis.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

using namespace pushd::test;
using pushd::key_slot;
using pushd::RedisCluster;
using pushd::RedisLink;

namespace {

// A uv loop for the router, closed after every handle on it.
struct Loop {
    uv_loop_t loop{};
    uv_timer_t poke{};
    Loop() {
        uv_loop_init(&loop);
        uv_timer_init(&loop, &poke);
    }
    ~Loop() {
        uv_close(reinterpret_cast<uv_handle_t*>(&poke), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    // Runs the loop until `condition` holds (true) or `timeout_ms` passed.
    bool run_until(const std::function<bool()>& condition, int timeout_ms) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        bool ok = condition();
        while (!ok && std::chrono::steady_clock::now() < end) {
            uv_timer_start(
                &poke, [](uv_timer_t*) {}, 5, 5);  // wakes the loop to check
            uv_run(&loop, UV_RUN_ONCE);
            ok = condition();
        }
        uv_timer_stop(&poke);
        return ok;
    }
};

// A router on its own loop; stopped and its handles closed on the way out,
// whether the test passed or not.
struct Router {
    Loop loop;
    pushd::RedisCounters counters;
    RedisCluster cluster;
    int node_ups = 0, maps_seen = 0;  // on_node_up and on_map_changed calls
    explicit Router(std::vector<std::string> seeds) : cluster(&loop.loop, options(), std::move(seeds), &counters) {
        cluster.on_node_up = [this](RedisLink& link) {
            CHECK(link.up());
            node_ups++;
        };
        cluster.on_map_changed = [this] { maps_seen++; };
        cluster.start();
    }
    ~Router() {
        cluster.stop();
        loop.run_until([] { return false; }, 50);
    }
    static pushd::RedisLinkOptions options() {
        pushd::RedisLinkOptions o;
        o.connect_timeout_ms = 500;
        o.backoff_max_ms = 500;
        return o;
    }
};

// What a command through the router answered.
struct Answer {
    bool done = false;
    bool failed = false;  // no reply: `error` says why
    int type = 0;
    std::string text;  // string, status or error text
    std::string error;
    RedisLink* via = nullptr;
};

Answer run(Router& r, const std::vector<std::string>& args, int timeout_ms = 3000) {
    Answer a;
    std::vector<std::string_view> argv(args.begin(), args.end());
    r.cluster.command(argv, [&a](const redisReply* reply, std::string_view error, RedisLink* via) {
        a.done = true;
        a.failed = reply == nullptr;
        a.error = std::string(error);
        a.via = via;
        if (!reply) return;
        a.type = reply->type;
        a.text = std::string(pushd::redis_reply_text(reply));
    });
    r.loop.run_until([&] { return a.done; }, timeout_ms);
    return a;
}

void start(RedisClusterProcess& cluster) {
    const bool started = cluster.start();
    INFO(cluster.error());
    REQUIRE(started);
}

// A key "{t<n>}<suffix>" whose slot `cluster` says `master` serves.
std::string key_on(RedisClusterProcess& cluster, const std::string& master, const std::string& suffix = "") {
    for (int n = 0; n < 100000; n++) {
        const std::string tag = "{t" + std::to_string(n) + "}";
        if (cluster.master_of(key_slot(tag)) == master) return tag + suffix;
    }
    return "";
}

}  // namespace

TEST_CASE("the cluster router routes by slot and follows ASK and MOVED", "[redis-cluster]") {
    RedisClusterProcess cluster;
    start(cluster);
    Router r(cluster.addresses());
    REQUIRE(r.loop.run_until([&] { return r.cluster.up(); }, 5000));
    CHECK(r.cluster.reason() == "");
    const std::vector<std::string> masters = cluster.masters();
    REQUIRE(masters.size() == 3);
    CHECK(r.node_ups == 3);
    CHECK(r.maps_seen == 1);
    CHECK(r.cluster.links().size() == 3);
    CHECK(r.cluster.map_changes() == 0);  // the first map is no change

    // Every master's range: written through the router, read on that master.
    for (const std::string& m : masters) {
        const std::string key = key_on(cluster, m, "k");
        INFO(m << " " << key);
        CHECK(r.cluster.master_of(key_slot(key)) == m);
        Answer set = run(r, {"SET", key, "v-" + m});
        CHECK(set.text == "OK");
        CHECK(set.via == r.cluster.link_for(key_slot(key)));
        CHECK(cluster.command(m, {"GET", key}).text() == "v-" + m);
    }
    CHECK(run(r, {"PING"}).text == "PONG");
    CHECK(r.cluster.moved() == 0);

    // Many commands in flight at once, over every slot's master.
    const int kMany = 3000;
    int answered = 0, ok = 0;
    for (int i = 0; i < kMany; i++) {
        const std::string k = "bulk:" + std::to_string(i);
        r.cluster.command({"SET", k, std::to_string(i)},
                          [&](const redisReply* reply, std::string_view, RedisLink* via) {
                              answered++;
                              if (via && pushd::redis_reply_text(reply) == "OK") ok++;
                          });
    }
    REQUIRE(r.loop.run_until([&] { return answered == kMany; }, 10000));
    CHECK(ok == kMany);
    for (int i = 0; i < kMany; i += 97) {
        const std::string k = "bulk:" + std::to_string(i);
        CHECK(cluster.command(cluster.master_of(key_slot(k)), {"GET", k}).text() == std::to_string(i));
    }
    CHECK(r.cluster.moved() == 0);

    // pushctl's blocking client routes the same way.
    pushctl::ClusterSync sync(cluster.addresses(), "", 2000);
    REQUIRE(sync.connect());
    CHECK(sync.masters().size() == 3);
    for (const std::string& m : masters) {
        const std::string key = key_on(cluster, m, "set");
        pushctl::Reply added = sync.command({"SADD", key, "u1"});
        REQUIRE(added);
        CHECK(added->integer == 1);
        CHECK(sync.last_node() == m);
        CHECK(cluster.command(m, {"SISMEMBER", key, "u1"}).integer == 1);
        pushctl::Reply on = sync.command_on(m, {"DBSIZE"});
        REQUIRE(on);
        CHECK(on->integer >= 2);
    }
    // WAIT goes where the write went (a replica confirms it).
    REQUIRE(sync.command({"SET", key_on(cluster, masters[2], "w"), "1"}));
    pushctl::Reply waited = sync.command({"WAIT", "1", "2000"});
    REQUIRE(waited);
    CHECK(waited->integer == 1);
    CHECK(sync.last_node() == masters[2]);
    // A transaction runs on the master of its first key; over two masters
    // Redis refuses it.
    const std::string tx1 = key_on(cluster, masters[1], "a"), tx2 = tx1.substr(0, tx1.find('}') + 1) + "b";
    for (const auto& cmd : std::vector<std::vector<std::string>>{{"MULTI"}, {"SET", tx1, "1"}, {"SET", tx2, "2"}}) {
        pushctl::Reply q = sync.command(cmd);
        REQUIRE(q);
        CHECK(q->type == REDIS_REPLY_STATUS);
    }
    pushctl::Reply exec = sync.command({"EXEC"});
    REQUIRE(exec);
    CHECK(exec->type == REDIS_REPLY_ARRAY);
    CHECK(cluster.command(masters[1], {"GET", tx2}).text() == "2");
    REQUIRE(sync.command({"MULTI"}));
    REQUIRE(sync.command({"SET", key_on(cluster, masters[0], "x"), "1"}));
    pushctl::Reply foreign = sync.command({"SET", key_on(cluster, masters[1], "x"), "1"});
    REQUIRE(foreign);
    CHECK(foreign->type == REDIS_REPLY_ERROR);
    pushctl::Reply aborted = sync.command({"EXEC"});
    REQUIRE(aborted);
    CHECK(std::string(aborted->str, aborted->len).rfind("EXECABORT", 0) == 0);

    // A slot held migrating from A to B, its key already on B: A answers ASK.
    const std::string a = masters[0], b = masters[1];
    const std::string key = key_on(cluster, a, "moving"), other = key.substr(0, key.find('}') + 1) + "new";
    const uint16_t slot = key_slot(key);
    REQUIRE(run(r, {"SET", key, "before"}).text == "OK");
    REQUIRE(cluster.begin_move(slot, a, b));
    REQUIRE(cluster.migrate_keys(slot, a, b));
    CHECK(cluster.command(a, {"GET", key}).str.rfind("ASK ", 0) == 0);
    Answer asked = run(r, {"GET", key});
    CHECK(asked.text == "before");
    CHECK(asked.via != nullptr);
    CHECK(asked.via != r.cluster.link_for(slot));  // B's link answered, not A's
    CHECK(r.cluster.asks() == 1);
    CHECK(r.cluster.master_of(slot) == a);  // an ASK keeps the map
    // A new key of the migrating slot goes to B too (A has it not).
    CHECK(run(r, {"SET", other, "new"}).text == "OK");
    CHECK(r.cluster.asks() == 2);
    pushctl::Reply sync_asked = sync.command({"GET", key});
    REQUIRE(sync_asked);
    CHECK(std::string(sync_asked->str, sync_asked->len) == "before");
    CHECK(sync.last_node() == b);

    // The move finished: A answers MOVED, the router patches its map.
    REQUIRE(cluster.finish_move(slot, a, b));
    Answer moved = run(r, {"GET", key});
    CHECK(moved.text == "before");
    CHECK(r.cluster.moved() == 1);
    CHECK(r.cluster.master_of(slot) == b);
    CHECK(r.cluster.map_changes() >= 1);
    CHECK(run(r, {"GET", other}).text == "new");
    CHECK(r.cluster.moved() == 1);
    pushctl::Reply sync_moved = sync.command({"GET", key});
    REQUIRE(sync_moved);
    CHECK(std::string(sync_moved->str, sync_moved->len) == "before");
    CHECK(sync.last_node() == b);
    CHECK(sync.command({"GET", other})->type == REDIS_REPLY_STRING);
    CHECK(r.maps_seen >= 2);
    CHECK(r.loop.run_until([&] { return r.cluster.up(); }, 2000));

    // stop() fails what is in flight, at once.
    Answer blocked;
    r.cluster.command(
        {"BLPOP", key_on(cluster, a, "empty"), "5"},
        [&](const redisReply* reply, std::string_view error, RedisLink*) {
            blocked.done = true;
            blocked.failed = reply == nullptr;
            blocked.error = std::string(error);
        },
        7000);
    r.loop.run_until([] { return false; }, 100);
    CHECK_FALSE(blocked.done);
    r.cluster.stop();
    CHECK(blocked.done);
    CHECK(blocked.failed);
    CHECK(blocked.error.find("shutting down") != std::string::npos);
    CHECK(run(r, {"GET", key}).error == "shutting down");
}

TEST_CASE("the cluster router fails fast while no node answers", "[redis-cluster]") {
    Router r({"127.0.0.1:" + std::to_string(free_port())});
    r.loop.run_until([] { return false; }, 200);
    CHECK_FALSE(r.cluster.up());
    CHECK(r.cluster.reason().rfind("no slot map yet (", 0) == 0);
    Answer a = run(r, {"GET", "k"});
    CHECK(a.done);
    CHECK(a.failed);
    CHECK(a.error.rfind("no slot map yet", 0) == 0);
    CHECK(r.cluster.link_for(0) == nullptr);
    CHECK(r.cluster.links().empty());
}

TEST_CASE("the cluster router serves a crashed master's slots from its promoted replica", "[redis-cluster]") {
    RedisClusterProcess cluster;
    start(cluster);
    Router r(cluster.addresses());
    REQUIRE(r.loop.run_until([&] { return r.cluster.up(); }, 5000));
    const std::vector<std::string> masters = cluster.masters();
    REQUIRE(masters.size() == 3);

    // A planned failover (CLUSTER FAILOVER on a replica): the old master
    // stays connected and answers MOVED; the command waits for the link to
    // the new master instead of failing.
    const std::string planned = masters[0];
    const std::vector<std::string> replicas = cluster.replicas_of(planned);
    REQUIRE(replicas.size() == 1);
    const std::string planned_key = key_on(cluster, planned, "planned");
    REQUIRE(run(r, {"SET", planned_key, "p"}).text == "OK");
    REQUIRE(cluster.command(replicas[0], {"CLUSTER", "FAILOVER"}).text() == "OK");
    REQUIRE(wait_until([&] { return cluster.master_of(key_slot(planned_key)) == replicas[0]; }, 10000, 20));
    REQUIRE(cluster.wait_ok());
    Answer after = run(r, {"GET", planned_key});
    INFO(after.error);
    CHECK(after.text == "p");
    CHECK(r.cluster.master_of(key_slot(planned_key)) == replicas[0]);
    CHECK(r.loop.run_until([&] { return r.cluster.up(); }, 2000));

    const std::string victim = masters[1];
    const std::string key = key_on(cluster, victim, "survives");
    const uint16_t slot = key_slot(key);
    Answer set = run(r, {"SET", key, "kept"});
    REQUIRE(set.text == "OK");
    REQUIRE(set.via != nullptr);
    // The write is on the replica before the crash.
    bool waited = false;
    set.via->command({"WAIT", "1", "2000"}, [&](const redisReply* reply, std::string_view) {
        waited = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    });
    REQUIRE(r.loop.run_until([&] { return waited; }, 3000));
    const uint64_t changes = r.cluster.map_changes();

    const auto killed_at = std::chrono::steady_clock::now();
    REQUIRE(cluster.kill(victim));
    CHECK(r.loop.run_until([&] { return !r.cluster.up(); }, 2000));
    CHECK(r.cluster.reason().rfind(victim, 0) == 0);
    // Meanwhile its slots fail fast.
    Answer down = run(r, {"GET", key}, 500);
    if (r.cluster.master_of(slot) == victim) {
        CHECK(down.done);
        CHECK(down.failed);
        CHECK(down.error.rfind(victim, 0) == 0);
    }
    std::optional<Answer> served;
    REQUIRE(r.loop.run_until(
        [&] {
            if (!r.cluster.up()) return false;
            served = run(r, {"GET", key});
            return served->text == "kept";
        },
        5000));
    const auto took = std::chrono::steady_clock::now() - killed_at;
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 5000);
    CHECK(r.cluster.master_of(slot) != victim);
    CHECK(r.cluster.map_changes() > changes);
    CHECK(r.maps_seen >= 2);
    CHECK(r.cluster.reason() == "");
    REQUIRE(cluster.wait_ok());
    CHECK(r.cluster.master_of(slot) == cluster.master_of(slot));
}
