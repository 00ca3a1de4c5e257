// Presence in Redis (Groups.Presence): the keys, the scripts that keep them
// and answer the queries, their arguments, and the answers of PROTOCOL.md
// section 9 (GET /api/presence) as structs and JSON. Pure: strings only;
// io/redis_presence runs the scripts for pushd, pushctl presence runs the
// query scripts itself, so both answer alike.
//
// Keys (all under Redis.KeyPrefix, private to pushd except `events`):
//   presence:instances      zset   instance Name -> expiry (Redis ms)
//   presence:user:<uid>     hash   instance Name -> the user's connections there
//   presence:group:<gid>    hash   "<len(Name)>:<Name><uid>" -> connections
//                                  subscribed to the group there
//   presence:instance:<Name> hash  the instance's own entries, for resync and
//                                  reaping: "u<uid>" and "g<len(gid)>:<gid><uid>"
//   events                  stream online / offline (section 6)
//
// One invariant carries the events: an instance has entries only while it
// is in presence:instances (the scripts add both together and the reaper
// removes both together). So a user is online exactly while their user hash
// has a field, and every transition of that, made inside one script, is one
// event: two instances closing a user's last connections at once run two
// scripts one after the other, and only the second finds the hash emptied.
// Queries count only instances whose expiry has not passed; the reaper (run
// by every instance each second) removes expired instances' entries and
// emits their users' `offline`, atomically, so two reapers do not both emit.
//
// Every script takes the key prefix as ARGV[1] and builds key names itself
// (a dead instance's users are not known to the caller): fine on one Redis
// or Sentinel; Redis Cluster would need all presence keys under one hash tag.
#pragma once

#include "core/presence_tracker.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pushd {

// An instance not heard from for this long is dead: its entries stop
// counting in queries, and the next reaper run (each second) removes them.
inline constexpr int64_t kPresenceTtlMs = 10000;
// Dead instances one reaper run removes at the most.
inline constexpr int kPresenceReapLimit = 16;

// ARGV: prefix, Name, ttl ms, user count U, U x (uid, connections),
// then (gid, uid, connections) triples. Sets the instance's counts (0
// removes) and refreshes its expiry; with no counts it is the heartbeat.
// Returns 0 and changes nothing when the instance is not registered (never
// was, or was reaped): the caller resyncs.
extern const std::string kPresenceApplyScript;
// ARGV: prefix, Name, ttl ms, register ("1"/"0"), then as the apply script:
// the instance's whole state. Entries of the instance that the state does
// not hold are removed (their users' offline where due), the state is set,
// and the instance registered ("1") or removed ("0", at shutdown). Returns 1.
extern const std::string kPresenceSyncScript;
// ARGV: prefix, kPresenceReapLimit. Removes expired instances and their
// entries; returns how many.
extern const std::string kPresenceReapScript;
// ARGV: prefix, gid. Returns [uid, connections, ...] over live instances,
// sorted by uid.
extern const std::string kPresenceGroupScript;
// ARGV: prefix, uid. Returns [connections, Name, ...] over live instances,
// names sorted.
extern const std::string kPresenceUserScript;

// The pattern of every presence key but `events` (tests, SCAN).
std::string presence_key_pattern(const std::string& prefix);

// The arguments of kPresenceApplyScript / kPresenceSyncScript.
std::vector<std::string> presence_apply_args(const std::string& prefix, const std::string& name,
                                             const PresenceChanges& changes);
std::vector<std::string> presence_sync_args(const std::string& prefix, const std::string& name,
                                            const PresenceChanges& state, bool register_instance);

// Section 9's answers.
struct GroupPresence {
    std::string group_id;
    std::vector<PresenceUserCount> users;  // sorted by user id
};
struct UserPresence {
    std::string user_id;
    bool online = false;
    uint32_t connections = 0;
    std::vector<std::string> instances;  // sorted
};

// The query scripts' answers (their strings, in order) read into the
// structs; nullopt when the answer has another shape.
std::optional<GroupPresence> read_group_presence(const std::string& group_id, const std::vector<std::string>& reply);
std::optional<UserPresence> read_user_presence(const std::string& user_id, const std::vector<std::string>& reply);

// {"group_id","users":[{"user_id","connections"}]} and
// {"user_id","online","connections","instances":[...]}.
std::string group_presence_json(const GroupPresence& p);
std::string user_presence_json(const UserPresence& p);

}  // namespace pushd
