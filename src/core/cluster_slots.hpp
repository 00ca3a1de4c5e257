// Redis Cluster's key space, pure: which slot a key hashes to (CRC16 with
// the hash-tag rule), which master serves each slot (the map CLUSTER SLOTS
// answers, patched by MOVED redirects), how a MOVED/ASK error reads, which
// key a command routes by, and the hash tags of the bus shards.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

inline constexpr size_t kClusterSlots = 16384;

/* The slot of `key`: CRC16 (XMODEM) of the key, or of the part between the
 * first '{' and the next '}' when that part is not empty, mod 16384. */
uint16_t key_slot(std::string_view key);

// One range of CLUSTER SLOTS's answer: slots first..last served by master.
struct SlotRange {
    uint16_t first = 0;
    uint16_t last = 0;
    std::string master;  // "host:port"
    std::vector<std::string> replicas;
};

// A MOVED or ASK error reply ("MOVED 3999 127.0.0.1:6381").
struct Redirect {
    bool ask = false;  // ASK: this command only; MOVED: the slot moved for good
    uint16_t slot = 0;
    std::string address;  // "host:port"
};
std::optional<Redirect> parse_redirect(std::string_view error);

/* The key a command is routed by: for EVAL/EVALSHA the first key (none when
 * numkeys is 0), for XREAD/XREADGROUP the first stream after STREAMS,
 * for commands without keys (PING, INFO, TIME, SCRIPT, WAIT, CLUSTER,
 * ROLE, and the others cluster_slots.cpp lists: PUBLISH, SCAN, DBSIZE...)
 * none, otherwise argv[1]. nullopt: no key, any master will do. */
std::optional<std::string_view> command_key(const std::vector<std::string_view>& argv);

// Slot -> master address; interned addresses so a map is 32 KiB + masters.
class SlotMap {
public:
    SlotMap() { owner_.fill(kNone); }
    // Replaces the whole map with CLUSTER SLOTS's ranges.
    void assign(const std::vector<SlotRange>& ranges);
    // One slot moved (MOVED).
    void set(uint16_t slot, const std::string& address);
    // "" when no master is known for the slot.
    const std::string& master_of(uint16_t slot) const;
    // Every slot has a master.
    bool complete() const;
    // The distinct masters named, in first-seen order.
    const std::vector<std::string>& masters() const { return addresses_; }
    bool operator==(const SlotMap& o) const;

private:
    static constexpr uint16_t kNone = 0xffff;
    uint16_t intern(const std::string& address);
    std::array<uint16_t, kClusterSlots> owner_{};
    std::vector<std::string> addresses_;
};

/* The hash tag (without braces) of bus shard `shard` of `shards`:
 * "b<shard>.<k>" for the smallest k >= 0 whose slot lies in
 * [shard * 16384 / shards, (shard + 1) * 16384 / shards), so the shards'
 * slots are spread evenly over the slot space (and so over masters that
 * hold even ranges, as `redis-cli --cluster create` makes them). */
std::string bus_shard_tag(size_t shard, size_t shards);

/* A hash tag that hashes to `slot`: "w<k>" for the smallest such k (a key
 * for a write that must land on whichever node serves the slot). */
std::string slot_tag(uint16_t slot);

/* The bus shard a group's messages go to: key_slot(group_id) * shards / 16384
 * (so equal groups always land on the same shard, whatever instance or
 * pushctl computes it). */
size_t bus_shard_of(std::string_view group_id, size_t shards);

}  // namespace pushd
