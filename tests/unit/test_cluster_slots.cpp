#include "core/cluster_slots.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace pushd;

TEST_CASE("key slots are CRC16-XMODEM mod 16384", "[cluster_slots]") {
    CHECK(key_slot("foo") == 12182);
    CHECK(key_slot("123456789") == 0x31C3);  // the CRC16-XMODEM check value
    CHECK(key_slot("") == 0);
    CHECK(key_slot(std::string_view("\0\xff", 2)) < kClusterSlots);
}

TEST_CASE("key slots follow the hash tag rule", "[cluster_slots]") {
    CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
    CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
    CHECK(key_slot("a{foo}b") == key_slot("foo"));
    // An empty tag: the whole key is hashed.
    CHECK(key_slot("foo{}{bar}") != key_slot("bar"));
    CHECK(key_slot("foo{}{bar}") == 8363);  // values from CLUSTER KEYSLOT (Redis 7.0)
    CHECK(key_slot("{}") == 15257);
    // The tag ends at the first '}' after the first '{'.
    CHECK(key_slot("foo{{bar}}zap") == key_slot("{bar"));
    CHECK(key_slot("foo{{bar}}zap") == 4015);
    CHECK(key_slot("foo{bar}{zap}") == key_slot("bar"));
    // No closing brace: the whole key.
    CHECK(key_slot("foo{bar") != key_slot("bar"));
    CHECK(key_slot("foo{bar") == 15278);
    CHECK(key_slot("{user1000}.following") == 3443);
}

TEST_CASE("redirects read MOVED and ASK", "[cluster_slots]") {
    auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
    REQUIRE(moved);
    CHECK_FALSE(moved->ask);
    CHECK(moved->slot == 3999);
    CHECK(moved->address == "127.0.0.1:6381");
    auto ask = parse_redirect("ASK 16383 10.0.0.2:7000");
    REQUIRE(ask);
    CHECK(ask->ask);
    CHECK(ask->slot == 16383);
    CHECK(ask->address == "10.0.0.2:7000");
    auto v6 = parse_redirect("MOVED 1 ::1:7000");
    REQUIRE(v6);
    CHECK(v6->address == "::1:7000");
    for (const char* other :
         {"ERR unknown command", "MOVED", "MOVED 3999", "MOVED 16384 127.0.0.1:1", "MOVED x 127.0.0.1:1",
          "ASK 1 127.0.0.1", "ASK 1 127.0.0.1:0", "ASK 1 127.0.0.1:65536", "moved 1 127.0.0.1:1",
          "CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys", "MOVED 1 127.0.0.1:1 extra", ""}) {
        INFO(other);
        CHECK_FALSE(parse_redirect(other));
    }
}

TEST_CASE("commands route by their key", "[cluster_slots]") {
    using V = std::vector<std::string_view>;
    CHECK(command_key(V{"GET", "k"}) == "k");
    CHECK(command_key(V{"sadd", "members", "a"}) == "members");
    CHECK(command_key(V{"XADD", "s", "*", "f", "v"}) == "s");
    CHECK(command_key(V{"EVALSHA", "sha", "2", "k1", "k2", "a"}) == "k1");
    CHECK(command_key(V{"eval", "return 1", "1", "k1"}) == "k1");
    CHECK_FALSE(command_key(V{"EVAL", "return 1", "0"}));
    CHECK_FALSE(command_key(V{"EVAL", "return 1", "0", "arg"}));
    CHECK_FALSE(command_key(V{"EVAL", "return 1", "x", "k"}));
    CHECK(command_key(V{"XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", "a", "b", "0", "0"}) == "a");
    CHECK(command_key(V{"XREADGROUP", "GROUP", "g", "c", "streams", "s", ">"}) == "s");
    CHECK_FALSE(command_key(V{"XREAD", "STREAMS"}));
    for (const char* name : {"PING", "INFO", "TIME", "SCRIPT", "WAIT", "CLUSTER", "ROLE", "ping"}) {
        INFO(name);
        CHECK_FALSE(command_key(V{name, "x"}));
    }
    CHECK_FALSE(command_key(V{}));
    CHECK_FALSE(command_key(V{"GET"}));
}

TEST_CASE("the slot map assigns, patches and compares", "[cluster_slots]") {
    SlotMap map;
    CHECK_FALSE(map.complete());
    CHECK(map.master_of(0) == "");
    map.assign({{0, 5460, "a:1", {"d:1"}}, {5461, 10922, "b:1", {}}, {10923, 16383, "c:1", {}}});
    CHECK(map.complete());
    CHECK(map.master_of(0) == "a:1");
    CHECK(map.master_of(5460) == "a:1");
    CHECK(map.master_of(5461) == "b:1");
    CHECK(map.master_of(16383) == "c:1");
    CHECK(map.masters() == std::vector<std::string>{"a:1", "b:1", "c:1"});

    SlotMap same;
    same.assign({{10923, 16383, "c:1", {}}, {0, 5460, "a:1", {}}, {5461, 10922, "b:1", {}}});
    CHECK(same == map);  // interned in another order, same owners

    map.set(100, "c:1");
    CHECK(map.master_of(100) == "c:1");
    CHECK_FALSE(same == map);
    map.set(100, "e:1");
    CHECK(map.master_of(100) == "e:1");
    CHECK(map.masters().back() == "e:1");

    SlotMap partial;
    partial.assign({{0, 100, "a:1", {}}, {200, 100, "bad:1", {}}, {0, 20000, "bad:2", {}}});
    CHECK_FALSE(partial.complete());
    CHECK(partial.master_of(101) == "");
    CHECK(partial.masters() == std::vector<std::string>{"a:1"});
}

TEST_CASE("bus shard tags land in their ranges, distinct", "[cluster_slots]") {
    for (size_t shards : {1, 3, 4, 16, 1024}) {
        std::set<std::string> tags;
        for (size_t s = 0; s < shards; s++) {
            const std::string tag = bus_shard_tag(s, shards);
            INFO(shards << " shards, shard " << s << ": " << tag);
            REQUIRE_FALSE(tag.empty());
            const size_t slot = key_slot("{" + tag + "}:bus");
            CHECK(slot >= s * kClusterSlots / shards);
            CHECK(slot < (s + 1) * kClusterSlots / shards);
            CHECK(bus_shard_of(tag, shards) == s);
            tags.insert(tag);
        }
        CHECK(tags.size() == shards);
    }
    CHECK(bus_shard_tag(0, 1) == "b0.0");
    CHECK(bus_shard_tag(3, 3) == "");
    CHECK(bus_shard_tag(0, 0) == "");
}

TEST_CASE("groups map to bus shards by their slot", "[cluster_slots]") {
    CHECK(bus_shard_of("room", 1) == 0);
    CHECK(bus_shard_of("room", 0) == 0);
    CHECK(bus_shard_of("foo", 3) == 12182 * 3 / 16384);
    size_t seen[4] = {};
    for (int i = 0; i < 400; i++) seen[bus_shard_of("g" + std::to_string(i), 4)]++;
    for (size_t n : seen) CHECK(n > 50);
}
