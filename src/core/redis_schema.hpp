// What pushd keeps in Redis: key names (every one under Redis.KeyPrefix)
// and the server-side scripts, in one place so that pushd and pushctl write
// the same layout. Pure: strings only. The public keys are PROTOCOL.md
// section 6; `bus`, `dedup:*` and `instance:*` are private to pushd.
//
// The append script (kAppendScript) is the only writer of group histories
// and of the bus:
//   KEYS[1] dedup key   KEYS[2] group:<gid>   KEYS[3] bus
//   ARGV    DedupWindow (s), HistorySize, kBusMaxLen, group_id,
//           client_message_id, sender_id, msg_type, content
//   returns {id, 0} for a new message (id: its group:<gid> entry id) or
//   {original id, 1} when (sender, group, client_message_id) was stored within
//   DedupWindow. One script, so a message is either stored in the history,
//   on the bus and in the dedup key, or nowhere.
//
// The replay script (kReplayScript) reads a group's history newer than an
// id and says whether entries were ever trimmed from that stream:
//   KEYS[1] group:<gid>   ARGV since (exclusive, "<ms>-<seq>"), count
//   returns {removed (0|1), first retained id or "", entries}
// `removed` is 1 when XINFO STREAM's entries-added exceeds its length
// (Redis >= 7.0; without entries-added it is 1 whenever the stream exists).
#pragma once

#include "core/store.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

// The bus stream is capped near this many entries (XADD MAXLEN ~). It only
// has to cover what instances have not read yet: an instance away from
// Redis longer than this many messages misses the oldest (clients recover
// them with join_group since).
inline constexpr size_t kBusMaxLen = 100000;

// The bus reader starts this long before the instance's start (in Redis's
// clock): covers the error of translating the instance's clock into
// Redis's (one round trip) and any clock step between the two readings.
inline constexpr int64_t kBusStartMarginMs = 1000;

/* Where an instance's bus reader starts (exclusive), in the bus's and the
 * notify stream's id space: the instance's start time translated into
 * Redis's clock (`redis_now_ms` read by TIME at `local_now_ms`; the
 * instance started at `local_start_ms`), less kBusStartMarginMs. Entries
 * stored after the instance started have larger ids (XADD * ids are Redis
 * milliseconds), so whatever the instance asks of Redis later (a replay's
 * read) is covered by the bus from here on. Never below 0-0. */
std::string bus_start_id(int64_t redis_now_ms, int64_t local_now_ms, int64_t local_start_ms);

// Seconds an instance's cluster-view entry lives without a refresh.
inline constexpr int kInstanceTtlSeconds = 15;

extern const char* const kAppendScript;
extern const char* const kReplayScript;
// KEYS[1] group:<gid>, ARGV[1] count: {removed (0|1), entries newest first}
// (the HTTP API's history without `since`).
extern const char* const kNewestScript;
// KEYS[1] revoked, KEYS[2] bus; ARGV user_id, until_ms, iat_bound_s,
// kBusMaxLen: records the revocation (merged with one in effect) and puts
// its control entry on the bus; returns the revocation text recorded.
extern const char* const kRevokeScript;
// KEYS[1] notify:inboxed, ARGV[1] a notify id: stores it unless the key
// already holds a newer (or the same) id. Returns 1 when stored.
extern const char* const kInboxedScript;

// Key names under one prefix. With Redis.Mode cluster (bus_shards > 0)
// every key carries a hash tag (PROTOCOL.md section 6), so that the keys
// one script touches share a slot: a group's history, its dedup keys and
// its bus shard carry the shard's tag ("<prefix>{<tag>}:group:<gid>",
// core/cluster_slots.hpp); `revoked` carries shard 0's (it goes with the
// control entries on that shard); the presence keys, `events` included,
// carry "{presence}"; the keys of one user or group carry its id
// ("<prefix>members:{<gid>}"), so they spread over the masters; notify
// carries "{notify}". docs/PROTOCOL.md section 6 lists the layout.
class RedisKeys {
public:
    explicit RedisKeys(std::string prefix, size_t bus_shards = 0);

    std::string group(std::string_view gid) const { return tagged(shard_of(gid)) + "group:" + std::string(gid); }
    // The bus stream a group's messages go to (the only one without shards).
    std::string bus_of_group(std::string_view gid) const { return bus_shard(shard_of(gid)); }
    // Bus shard `i` (0 <= i < bus_shards()); shard 0 carries control entries.
    std::string bus_shard(size_t i) const { return tagged(i) + "bus"; }
    std::string bus() const { return bus_shard(0); }
    // 1 without shards.
    size_t bus_shards() const { return tags_.empty() ? 1 : tags_.size(); }
    bool clustered() const { return !tags_.empty(); }
    std::string notify() const { return p_ + (clustered() ? "{notify}" : "notify"); }
    // The pub/sub channel of the PUBLISH that goes before each WAIT
    // (core/replica_wait.hpp); nobody subscribes to it.
    std::string wait_channel() const { return p_ + "wait"; }
    // The newest notify id whose inbox writes some instance has all done
    // (kInboxedScript): where a starting instance begins its inbox duty.
    std::string notify_inboxed() const { return notify() + ":inboxed"; }
    std::string inbox(std::string_view uid) const { return p_ + "inbox:" + id(uid); }
    std::string members(std::string_view gid) const { return p_ + "members:" + id(gid); }
    std::string user_groups(std::string_view uid) const { return p_ + "user:" + id(uid) + ":groups"; }
    std::string read(std::string_view uid) const { return p_ + "read:" + id(uid); }
    // user id -> "<until_ms>:<iat_bound_s>" (core/revocations): revocations
    // in effect, read by every instance at start.
    std::string revoked() const { return tagged(0) + "revoked"; }
    // "dedup:<sender length>:<sender>:<group length>:<group>:<client message
    // id>": a retry is the same user, group and message_id (contract v1.1);
    // the lengths keep the triple unambiguous whatever characters it holds.
    std::string dedup(std::string_view sender, std::string_view group_id, std::string_view client_message_id) const;
    // "instance:<name>:<host>:<port>", the cluster view (pushctl stats
    // --cluster); in cluster mode all under "{instances}", one slot.
    std::string instance(std::string_view name, std::string_view host, long long port) const;
    // The pattern matching every instance key (for SCAN; in cluster mode on
    // the master of the "{instances}" slot).
    std::string instance_pattern() const { return instances() + "instance:*"; }
    // What the presence scripts (core/presence_schema.hpp) put before their
    // key names: the prefix, and in cluster mode the "{presence}" tag.
    std::string presence_prefix() const { return clustered() ? p_ + "{presence}:" : p_; }

    const std::string& prefix() const { return p_; }

private:
    size_t shard_of(std::string_view gid) const;
    // An id as it goes in a key: in braces in cluster mode.
    std::string id(std::string_view v) const { return clustered() ? "{" + std::string(v) + "}" : std::string(v); }
    std::string instances() const { return clustered() ? p_ + "{instances}:" : p_; }
    // The prefix, then shard i's hash tag in cluster mode.
    std::string tagged(size_t i) const { return tags_.empty() ? p_ : p_ + "{" + tags_[i] + "}:"; }
    std::string p_;
    std::vector<std::string> tags_;  // per bus shard; empty without shards
};

struct RedisConfig;
/* The key layout `redis` asks for: shards only with Mode cluster. */
RedisKeys redis_keys(const RedisConfig& redis);

// The KEYS and ARGV of one script run.
struct ScriptArgs {
    std::vector<std::string> keys;
    std::vector<std::string> args;
};

/* The KEYS and ARGV of kAppendScript storing `req` (its now_ms is not
 * used: the script takes Redis's TIME), in the order the script reads
 * them. pushd's send_message and pushctl publish both build their call
 * here, so the two cannot drift apart. */
ScriptArgs append_script_args(const RedisKeys& keys, const AppendRequest& req, int64_t dedup_window_s,
                              int64_t history_size);

}  // namespace pushd
