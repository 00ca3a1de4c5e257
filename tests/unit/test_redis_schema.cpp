#include "core/redis_schema.hpp"

#include "core/cluster_slots.hpp"
#include "core/config.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pushd;

TEST_CASE("append script arguments are in the order the script reads them", "[redis_schema]") {
    RedisKeys keys("p:");
    AppendRequest req;
    req.group_id = "g1";
    req.client_message_id = "m:1";
    req.sender_id = "ops";
    req.msg_type = 7;
    req.content = "hello";
    ScriptArgs a = append_script_args(keys, req, 300, 1000);
    // KEYS[1] dedup, KEYS[2] group history, KEYS[3] bus.
    CHECK(a.keys == std::vector<std::string>{"p:dedup:3:ops:2:g1:m:1", "p:group:g1", "p:bus"});
    // ARGV: window, history cap, bus cap, group, client id, sender, type, content.
    CHECK(a.args ==
          std::vector<std::string>{"300", "1000", std::to_string(kBusMaxLen), "g1", "m:1", "ops", "7", "hello"});
    // The script reads exactly ARGV[1..8].
    const std::string script = kAppendScript;
    CHECK(script.find("ARGV[8]") != std::string::npos);
    CHECK(script.find("ARGV[9]") == std::string::npos);
}

TEST_CASE("the bus starts at the instance's start in Redis's clock, less the margin", "[redis_schema]") {
    // Started at local 1000, Redis reached at local 61000 (a minute-long
    // outage) when Redis's clock read 500000: the start is 440000 - margin.
    CHECK(bus_start_id(500000, 61000, 1000) == std::to_string(440000 - kBusStartMarginMs) + "-0");
    // Redis's clock far behind the instance's: the same translation.
    CHECK(bus_start_id(5000, 3000, 1000) == std::to_string(3000 - kBusStartMarginMs) + "-0");
    // A local clock stepped back since the start counts as no time elapsed.
    CHECK(bus_start_id(500000, 900, 1000) == std::to_string(500000 - kBusStartMarginMs) + "-0");
    CHECK(bus_start_id(10, 5000, 1000) == "0-0");
}

TEST_CASE("cluster layout: a script's keys share one slot, business keys keep their names", "[redis_schema]") {
    RedisKeys keys("p:", 12);
    REQUIRE(keys.clustered());
    REQUIRE(keys.bus_shards() == 12);
    AppendRequest req;
    req.group_id = "room:42";
    req.client_message_id = "m1";
    req.sender_id = "u{1}";  // braces in ids must not move the slot
    ScriptArgs a = append_script_args(keys, req, 300, 1000);
    REQUIRE(a.keys.size() == 3);
    const uint16_t slot = key_slot(a.keys[1]);
    CHECK(key_slot(a.keys[0]) == slot);
    CHECK(key_slot(a.keys[2]) == slot);
    CHECK(a.keys[2] == keys.bus_of_group("room:42"));
    // Each group lands on the shard its id hashes to, whoever computes it.
    const size_t shard = bus_shard_of("room:42", 12);
    CHECK(keys.bus_of_group("room:42") == keys.bus_shard(shard));
    CHECK(keys.group("room:42") == "p:{" + bus_shard_tag(shard, 12) + "}:group:room:42");
    // The shards' slots are distinct and spread over the slot space.
    for (size_t i = 0; i < 12; ++i) {
        const uint16_t s = key_slot(keys.bus_shard(i));
        CHECK(s >= i * kClusterSlots / 12);
        CHECK(s < (i + 1) * kClusterSlots / 12);
    }
    // revoked travels with the control entries on shard 0 (one script).
    CHECK(key_slot(keys.revoked()) == key_slot(keys.bus()));
    CHECK(keys.bus() == keys.bus_shard(0));
    // What business services write and read: the id in braces.
    CHECK(keys.notify() == "p:{notify}");
    CHECK(keys.notify_inboxed() == "p:{notify}:inboxed");
    CHECK(keys.members("g") == "p:members:{g}");
    CHECK(keys.user_groups("u") == "p:user:{u}:groups");
    CHECK(keys.inbox("u") == "p:inbox:{u}");
    CHECK(keys.read("u") == "p:read:{u}");
    CHECK(key_slot(keys.inbox("u")) == key_slot("u"));
    // The cluster view: one slot, so one node's SCAN finds every instance.
    CHECK(keys.instance("a", "h", 1) == "p:{instances}:instance:a:h:1");
    CHECK(key_slot(keys.instance_pattern()) == key_slot(keys.instance("b", "h", 2)));
    // Presence keys (the scripts build them from this prefix) share a slot.
    CHECK(keys.presence_prefix() == "p:{presence}:");
    CHECK(key_slot(keys.presence_prefix() + "events") == key_slot(keys.presence_prefix() + "presence:user:x"));
}

TEST_CASE("single layout: no hash tags, one bus", "[redis_schema]") {
    RedisKeys keys("p:");
    CHECK_FALSE(keys.clustered());
    CHECK(keys.bus_shards() == 1);
    CHECK(keys.bus_of_group("any") == "p:bus");
    CHECK(keys.revoked() == "p:revoked");
    CHECK(keys.presence_prefix() == "p:");
    CHECK(keys.notify() == "p:notify");
    CHECK(keys.members("g") == "p:members:g");
    CHECK(keys.instance("a", "h", 1) == "p:instance:a:h:1");
    Config c;
    CHECK_FALSE(redis_keys(c.redis).clustered());
    c.redis.mode = "cluster";
    c.redis.bus_shards = 3;
    CHECK(redis_keys(c.redis).bus_shards() == 3);
}
