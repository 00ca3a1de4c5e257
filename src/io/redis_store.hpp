// The storage seam (core/store.hpp) on Redis, over the commands link: the
// append script for send_message, the replay script for join_group with
// since, SISMEMBER for membership, HSET for read positions, SMEMBERS for
// AutoJoin, XRANGE/XADD on inbox:<uid> for notifications, and the
// instance's entry in the cluster view. Key names and scripts are in
// core/redis_schema.hpp; every key carries Redis.KeyPrefix.
//
// Scripts are loaded (SCRIPT LOAD) each time the link comes up and run with
// EVALSHA; a NOSCRIPT answer (Redis restarted, SCRIPT FLUSH) is retried once
// with EVAL, which loads the script again.
//
// Every failure maps to StoreStatus::unavailable: Redis unreachable, no
// answer in time, or an error answer (logged once per distinct message).
//
// With Redis.WaitReplicas N (core/replica_wait.hpp): an append (new or
// duplicate) and a group replay are answered only once N replicas confirm
// what they wrote or read (one WAIT for all those answered meanwhile);
// unconfirmed, they are unavailable (503). While fewer than N replicas are
// online (INFO replication, polled by the caller about every second), an
// append is unavailable at once, before anything is stored.
#pragma once

#include "core/config.hpp"
#include "core/control_entry.hpp"
#include "core/redis_schema.hpp"
#include "core/replica_wait.hpp"
#include "core/status.hpp"
#include "core/store.hpp"
#include "io/redis_commands.hpp"
#include "io/redis_link.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace pushd {

// How an inbox write ended, with the detail the bus's retry needs.
enum class InboxWrite {
    stored,   // this call stored it
    already,  // an entry with this id or a newer one was there (another instance)
    retry,    // not answered (link down or lost): try again later
    refused,  // Redis answered another error: retrying will not help
};

class RedisStore {
public:
    // `config` and `link` must outlive the store; call on_link_up() from
    // the link's on_up.
    RedisStore(const Config* config, RedisCommands* link);
    RedisStore(const RedisStore&) = delete;
    RedisStore& operator=(const RedisStore&) = delete;

    // The seam, bound to this store (which must outlive the ops).
    StoreOps ops();

    // Loads the scripts (their SHA1s replace EVAL by EVALSHA); with
    // WaitReplicas, counts the replicas.
    void on_link_up();
    // Cluster mode: a node's link came up; loads the scripts on it.
    void load_scripts(RedisLink& on);
    // Cluster mode: a node's link was retired; its WAITs and counts go.
    void forget_link(RedisLink& link) {
        node_waits_.erase(&link);
        node_replicas_.erase(&link);
    }
    // The link went down: the replica count is unknown until it is back.
    void on_link_down() {
        replicas_online_ = -1;
        node_replicas_.clear();
    }
    // With WaitReplicas: counts the online replicas again (INFO replication).
    void poll_replicas();
    // With WaitReplicas and fewer replicas online than it asks for (or not
    // known): why sends are refused ("waiting for replicas (0 of 1
    // online)"); "" otherwise.
    std::string replica_shortage() const;
    // The same for a send that writes `key` (cluster mode: that key's master).
    std::string replica_shortage_for(const std::string& key) const;
    // Online replicas last counted (-1: not known, or WaitReplicas 0).
    int64_t replicas_online() const { return replicas_online_; }
    // The WAITs of this link (nullptr with WaitReplicas 0).
    std::vector<const WaitBatch*> waits() const;

    // XADD inbox:<uid> MAXLEN ~ HistorySize <n.id> data .. timestamp ..
    void write_inbox(const std::string& user_id, const StoredNotification& n, std::function<void(InboxWrite)> done);

    // SET <instance key> <json> EX kInstanceTtlSeconds (cluster view);
    // `done` (may be empty) gets whether it was stored.
    void publish_instance(const std::string& key, const std::string& json, std::function<void(bool)> done = {});

    // The HTTP API's history without `since`: the newest `limit` messages
    // of the group, oldest first; truncated when fewer than `limit` are
    // left and some were trimmed.
    void history_newest(const std::string& group_id, size_t limit, std::function<void(ReplayResult)> done);

    // XADD notify * target .. data .. (what pushctl notify and business
    // services write); `done` gets the notification id, or why not.
    void add_notification(const std::string& target, const std::string& data,
                          std::function<void(Result<std::string>)> done);

    // The HTTP API's disconnect: its control entry on the bus.
    void disconnect_user(const ControlEntry& entry, std::function<void(Status)> done);

    // The HTTP API's revoke: kRevokeScript (recorded, then on the bus).
    void revoke_user(const std::string& user_id, const Revocation& r, std::function<void(Status)> done);

    // The revocations recorded in Redis and still in effect at `now_ms`
    // (the ones over are deleted on the way).
    void load_revocations(int64_t now_ms, std::function<void(std::vector<std::pair<std::string, Revocation>>)> done);

    // DEL <instance key>, at shutdown.
    void forget_instance(const std::string& key);

    // The key names under Redis.KeyPrefix.
    const RedisKeys& keys() const { return keys_; }

    // A server-side script and its SHA1 once loaded.
    struct Script {
        const char* body;
        std::string sha;  // "" until SCRIPT LOAD answered
    };

    // SCRIPT LOAD `script` on `on` (its SHA1 replaces EVAL by EVALSHA);
    // `script` must outlive the link's answer. Each time a link comes up.
    void load_script(Script& script, RedisLink& on);
    // EVALSHA (or EVAL) `script` with keys and args; on NOSCRIPT retries
    // once with EVAL. Also io/redis_presence's scripts. Cluster mode routes
    // by the first key, or by `route_key` for a script without keys.
    void run_script(Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                    RedisLink::Callback done, std::string route_key = {});
    // The same, with the link that answered.
    void run_script_via(Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                        RedisCluster::Callback done, std::string route_key = {});

private:
    void append(const AppendRequest& req, std::function<void(AppendResult)> done);
    void replay(const std::string& group_id, const std::string& since, size_t limit,
                std::function<void(ReplayResult)> done);
    void replay_inbox(const std::string& user_id, const std::string& since, size_t limit,
                      std::function<void(InboxResult)> done);
    void note_error(std::string_view what, std::string_view error);
    // A history script's answer as read (io/history_reply), its skipped
    // entries and a refused answer logged; unavailable when not read.
    ReplayResult history_result(std::optional<ReplayResult> read, const std::vector<std::string>& skipped,
                                const redisReply* r, const std::string& group_id, std::string_view script);
    // With WaitReplicas: runs `done` once the replicas of `via` (the link
    // that answered) confirm, else at once; unconfirmed, `res` becomes
    // unavailable.
    template <class R>
    void confirmed(R res, std::function<void(R)> done, RedisLink* via);
    WaitBatch* waits_of(RedisLink* via);

    const Config* config_;
    RedisCommands* link_;
    RedisKeys keys_;
    Script append_{kAppendScript, {}};
    Script replay_{kReplayScript, {}};
    Script newest_{kNewestScript, {}};
    Script revoke_{kRevokeScript, {}};
    std::string last_error_logged_;
    std::unique_ptr<WaitBatch> wait_;  // WaitReplicas > 0, single and sentinel mode
    std::unordered_map<RedisLink*, std::unique_ptr<WaitBatch>> node_waits_;  // ... cluster mode, per node link
    int64_t replicas_online_ = -1;
    std::unordered_map<RedisLink*, int64_t> node_replicas_;  // per link, last counted
};

}  // namespace pushd
