#include "io/redis_store.hpp"

#include "core/bus_entry.hpp"
#include "core/cluster_slots.hpp"
#include "core/stream_id.hpp"
#include "io/history_reply.hpp"
#include "io/log.hpp"
#include "io/redis_wait.hpp"

#include <hiredis/hiredis.h>

#include <memory>

namespace pushd {
namespace {

// The arguments of one script run, kept for a NOSCRIPT retry.
struct ScriptCall {
    std::vector<std::string> keys;
    std::vector<std::string> args;
};

bool is_string(const redisReply* r) { return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS); }

constexpr StreamId kMaxStreamId{UINT64_MAX, UINT64_MAX};

}  // namespace

RedisStore::RedisStore(const Config* config, RedisCommands* link) :
    config_(config),
    link_(link),
    keys_(redis_keys(config->redis)) {
    const int64_t n = config->redis.wait_replicas;
    if (n > 0 && link->link())
        wait_ = std::make_unique<WaitBatch>(n, redis_wait_issue(link->link(), keys_.wait_channel(), n));
}

void RedisStore::poll_replicas() {
    if (config_->redis.wait_replicas <= 0 || !link_->up()) return;
    std::vector<RedisLink*> links =
        link_->cluster() ? link_->cluster()->links() : std::vector<RedisLink*>{link_->link()};
    // Cluster mode: each master has its own replicas; the gauge shows the
    // fewest behind any of them.
    auto counts = std::make_shared<std::unordered_map<RedisLink*, int64_t>>();
    auto left = std::make_shared<size_t>(links.size());
    for (RedisLink* l : links) {
        redis_count_replicas(l, [this, l, counts, left](int64_t online) {
            (*counts)[l] = online;
            if (--*left > 0) return;
            int64_t least = counts->empty() ? -1 : INT64_MAX;
            for (const auto& [link, n] : *counts) least = std::min(least, n);
            if (least != replicas_online_)
                LOG_INFO("redis: %lld replica(s) online, WaitReplicas %lld", static_cast<long long>(least),
                         static_cast<long long>(config_->redis.wait_replicas));
            replicas_online_ = least;
            node_replicas_ = std::move(*counts);
        });
    }
}

namespace {

// "" when `online` replicas are enough for `n`, else why sends are refused.
std::string shortage(int64_t online, int64_t n) {
    if (n <= 0 || online >= n) return "";
    return "waiting for replicas (" + (online < 0 ? std::string("?") : std::to_string(online)) + " of " +
           std::to_string(n) + " online)";
}

}  // namespace

std::string RedisStore::replica_shortage() const { return shortage(replicas_online_, config_->redis.wait_replicas); }

// The shortage that refuses a send to `key`: cluster mode asks only of the
// master serving its slot, so sends to other masters go on.
std::string RedisStore::replica_shortage_for(const std::string& key) const {
    if (!link_->cluster() || config_->redis.wait_replicas <= 0) return replica_shortage();
    auto it = node_replicas_.find(link_->cluster()->link_for(key_slot(key)));
    return shortage(it == node_replicas_.end() ? -1 : it->second, config_->redis.wait_replicas);
}

// Cluster mode: the WAITs of the node link that answered, made on first
// use. Its marker write goes to a key of a slot that node serves, since
// a cluster's PUBLISH is not replicated (see wait_marker_key).
WaitBatch* RedisStore::waits_of(RedisLink* via) {
    if (wait_) return wait_.get();
    if (!via || !link_->cluster()) return nullptr;
    std::unique_ptr<WaitBatch>& w = node_waits_[via];
    if (!w) {
        const int64_t n = config_->redis.wait_replicas;
        RedisCluster* cluster = link_->cluster();
        w = std::make_unique<WaitBatch>(n, redis_cluster_wait_issue(via, cluster, keys_.prefix(), n));
    }
    return w.get();
}

std::vector<const WaitBatch*> RedisStore::waits() const {
    std::vector<const WaitBatch*> all;
    if (wait_) all.push_back(wait_.get());
    for (const auto& [link, w] : node_waits_) all.push_back(w.get());
    return all;
}

template <class R>
void RedisStore::confirmed(R res, std::function<void(R)> done, RedisLink* via) {
    if (config_->redis.wait_replicas <= 0 || res.status == StoreStatus::unavailable) {
        done(std::move(res));
        return;
    }
    WaitBatch* waits = waits_of(via);
    auto held = std::make_shared<R>(std::move(res));
    auto answer = [this, held, done = std::move(done)](bool ok) {
        if (!ok) {
            held->status = StoreStatus::unavailable;
            if constexpr (requires(R & x) { x.error; }) {
                held->error = "not confirmed by " + std::to_string(config_->redis.wait_replicas) +
                              " replica(s) within " + std::to_string(kWaitTimeoutMs) + " ms";
            }
        }
        done(std::move(*held));
    };
    if (!waits) return answer(false);
    waits->after(std::move(answer));
}

void RedisStore::note_error(std::string_view what, std::string_view error) {
    std::string line = std::string(what) + ": " + std::string(error);
    if (line == last_error_logged_) return;
    last_error_logged_ = line;
    LOG_WARN("redis: %s", line.c_str());
}

void RedisStore::on_link_up() {
    poll_replicas();
    if (link_->link()) load_scripts(*link_->link());
}

void RedisStore::load_scripts(RedisLink& on) {
    for (Script* s : {&append_, &replay_, &newest_, &revoke_}) load_script(*s, on);
}

void RedisStore::load_script(Script& script, RedisLink& on) {
    on.command({"SCRIPT", "LOAD", script.body}, [this, s = &script](const redisReply* r, std::string_view err) {
        if (is_string(r))
            s->sha.assign(r->str, r->len);
        else if (r)
            note_error("SCRIPT LOAD", redis_reply_text(r));
    });
}

void RedisStore::run_script(Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                            RedisLink::Callback done, std::string route_key) {
    run_script_via(
        script, std::move(keys), std::move(args),
        [done = std::move(done)](const redisReply* r, std::string_view err, RedisLink*) { done(r, err); },
        std::move(route_key));
}

// A NOSCRIPT answer (Redis restarted, SCRIPT FLUSH, a cluster node that
// has not loaded it yet) is retried once with EVAL, which also caches the
// script on that server: the SHA1 stays right for the next EVALSHA.
void RedisStore::run_script_via(Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                                RedisCluster::Callback done, std::string route_key) {
    auto call = std::make_shared<ScriptCall>(ScriptCall{std::move(keys), std::move(args)});
    auto issue = [this, route_key = std::move(route_key)](Script& s, const ScriptCall& c, bool by_sha,
                                                          RedisCluster::Callback cb) {
        const std::string nkeys = std::to_string(c.keys.size());
        std::vector<std::string_view> argv;
        argv.reserve(3 + c.keys.size() + c.args.size());
        argv.push_back(by_sha ? "EVALSHA" : "EVAL");
        argv.push_back(by_sha ? std::string_view(s.sha) : std::string_view(s.body));
        argv.push_back(nkeys);
        for (const std::string& k : c.keys) argv.push_back(k);
        for (const std::string& a : c.args) argv.push_back(a);
        link_->command_via(argv, std::move(cb), route_key);
    };
    const bool by_sha = !script.sha.empty();
    issue(script, *call, by_sha,
          [&script, call, by_sha, issue, done = std::move(done)](const redisReply* r, std::string_view err,
                                                                 RedisLink* via) {
              if (by_sha && redis_reply_is_error(r) && redis_reply_text(r).starts_with("NOSCRIPT")) {
                  issue(script, *call, false, done);
                  return;
              }
              done(r, err, via);
          });
}

// One short adapter per StoreOps member (long: kept as one table so the
// whole storage seam reads in one place).
StoreOps RedisStore::ops() {
    StoreOps ops;
    ops.append = [this](const AppendRequest& r, std::function<void(AppendResult)> done) { append(r, std::move(done)); };
    ops.replay_group = [this](const std::string& g, const std::string& since, size_t limit,
                              std::function<void(ReplayResult)> done) { replay(g, since, limit, std::move(done)); };
    ops.check_member = [this](const std::string& g, const std::string& u, std::function<void(MembershipResult)> done) {
        link_->command({"SISMEMBER", keys_.members(g), u},
                       [this, done = std::move(done)](const redisReply* r, std::string_view) {
                           MembershipResult m;
                           if (r && r->type == REDIS_REPLY_INTEGER) {
                               m.status = StoreStatus::ok;
                               m.member = r->integer == 1;
                           } else if (r) {
                               note_error("SISMEMBER", redis_reply_text(r));
                           }
                           done(m);
                       });
    };
    ops.mark_read = [this](const std::string& u, const std::string& g, const std::string& id,
                           std::function<void(StoreStatus)> done) {
        link_->command({"HSET", keys_.read(u), g, id},
                       [this, done = std::move(done)](const redisReply* r, std::string_view) {
                           if (r && r->type == REDIS_REPLY_INTEGER) {
                               done(StoreStatus::ok);
                               return;
                           }
                           if (r) note_error("HSET", redis_reply_text(r));
                           done(StoreStatus::unavailable);
                       });
    };
    ops.user_groups = [this](const std::string& u, size_t limit, std::function<void(GroupsResult)> done) {
        link_->command({"SMEMBERS", keys_.user_groups(u)},
                       [this, limit, done = std::move(done)](const redisReply* r, std::string_view) {
                           GroupsResult g;
                           if (r && r->type == REDIS_REPLY_ARRAY) {
                               g.status = StoreStatus::ok;
                               for (size_t i = 0; i < r->elements && g.groups.size() < limit; i++) {
                                   if (is_string(r->element[i]))
                                       g.groups.emplace_back(r->element[i]->str, r->element[i]->len);
                               }
                           } else if (r) {
                               note_error("SMEMBERS", redis_reply_text(r));
                           }
                           done(std::move(g));
                       });
    };
    ops.replay_inbox = [this](const std::string& u, const std::string& since, size_t limit,
                              std::function<void(InboxResult)> done) {
        replay_inbox(u, since, limit, std::move(done));
    };
    ops.store_inbox = [this](const std::string& u, const StoredNotification& n, std::function<void(StoreStatus)> done) {
        write_inbox(u, n, [done = std::move(done)](InboxWrite w) {
            done(w == InboxWrite::stored    ? StoreStatus::ok
                 : w == InboxWrite::already ? StoreStatus::duplicate
                                            : StoreStatus::unavailable);
        });
    };
    return ops;
}

void RedisStore::append(const AppendRequest& req, std::function<void(AppendResult)> done) {
    ScriptArgs a = append_script_args(keys_, req, config_->groups.dedup_window, config_->groups.history_size);
    if (std::string why = replica_shortage_for(a.keys[1]); !why.empty()) {  // nothing stored
        AppendResult res;
        res.error = std::move(why);
        done(std::move(res));
        return;
    }
    run_script_via(append_, std::move(a.keys), std::move(a.args),
                   [this, done = std::move(done)](const redisReply* r, std::string_view err, RedisLink* via) {
                       AppendResult res;
                       if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && is_string(r->element[0]) &&
                           r->element[1]->type == REDIS_REPLY_INTEGER) {
                           res.status = r->element[1]->integer ? StoreStatus::duplicate : StoreStatus::ok;
                           res.server_message_id.assign(r->element[0]->str, r->element[0]->len);
                       } else if (r) {
                           res.error = redis_reply_is_error(r) ? std::string(redis_reply_text(r)) : "unexpected reply";
                           note_error("append script", res.error);
                       } else {
                           res.error = err;
                       }
                       confirmed(std::move(res), std::move(done), via);
                   });
}

void RedisStore::replay(const std::string& group_id, const std::string& since, size_t limit,
                        std::function<void(ReplayResult)> done) {
    auto since_id = parse_stream_id(since);
    if (!since_id || *since_id == kMaxStreamId) {  // nothing can be newer
        ReplayResult r;
        r.status = StoreStatus::ok;
        done(std::move(r));
        return;
    }
    run_script_via(replay_, {keys_.group(group_id)}, {format_stream_id(*since_id), std::to_string(limit)},
                   [this, group_id, since = *since_id, done = std::move(done)](const redisReply* r, std::string_view,
                                                                               RedisLink* via) {
                       std::vector<std::string> skipped;
                       std::optional<ReplayResult> read = read_replay_reply(r, group_id, since, skipped);
                       confirmed(history_result(std::move(read), skipped, r, group_id, "replay script"),
                                 std::move(done), via);
                   });
}

void RedisStore::replay_inbox(const std::string& user_id, const std::string& since, size_t limit,
                              std::function<void(InboxResult)> done) {
    auto since_id = parse_stream_id(since);
    if (!since_id || *since_id == kMaxStreamId) {
        InboxResult r;
        r.status = StoreStatus::ok;
        done(std::move(r));
        return;
    }
    const std::string start = "(" + format_stream_id(*since_id);
    const std::string count = std::to_string(limit);
    link_->command({"XRANGE", keys_.inbox(user_id), start, "+", "COUNT", count},
                   [this, done = std::move(done)](const redisReply* r, std::string_view) {
                       InboxResult res;
                       std::vector<RedisEntry> entries;
                       if (redis_read_entries(r, entries)) {
                           res.status = StoreStatus::ok;
                           for (RedisEntry& e : entries) {
                               std::string why;
                               if (auto n = notification_from_inbox_entry(e.id, e.fields, &why)) {
                                   res.notifications.push_back(std::move(*n));
                               } else {
                                   note_error("inbox entry " + e.id + " skipped", why);
                               }
                           }
                       } else if (r) {
                           note_error("XRANGE inbox",
                                      redis_reply_is_error(r) ? redis_reply_text(r) : "unexpected reply");
                       }
                       done(std::move(res));
                   });
}

void RedisStore::write_inbox(const std::string& user_id, const StoredNotification& n,
                             std::function<void(InboxWrite)> done) {
    const std::string cap = std::to_string(config_->groups.history_size);
    const std::string ts = std::to_string(n.timestamp_ms);
    link_->command({"XADD", keys_.inbox(user_id), "MAXLEN", "~", cap, n.id, "data", n.data, "timestamp", ts},
                   [this, done = std::move(done)](const redisReply* r, std::string_view) {
                       if (is_string(r)) {
                           done(InboxWrite::stored);
                       } else if (!r) {
                           done(InboxWrite::retry);
                       } else if (redis_reply_text(r).find("equal or smaller") != std::string_view::npos) {
                           done(InboxWrite::already);
                       } else {
                           note_error("XADD inbox", redis_reply_text(r));
                           done(InboxWrite::refused);
                       }
                   });
}

void RedisStore::publish_instance(const std::string& key, const std::string& json, std::function<void(bool)> done) {
    const std::string ttl = std::to_string(kInstanceTtlSeconds);
    link_->command({"SET", key, json, "EX", ttl}, [done = std::move(done)](const redisReply* r, std::string_view) {
        if (done) done(is_string(r));
    });
}

void RedisStore::forget_instance(const std::string& key) {
    link_->command({"DEL", key}, [](const redisReply*, std::string_view) {});
}

ReplayResult RedisStore::history_result(std::optional<ReplayResult> read, const std::vector<std::string>& skipped,
                                        const redisReply* r, const std::string& group_id, std::string_view script) {
    for (const std::string& why : skipped) note_error("history entry of group " + group_id + " skipped", why);
    if (!read && r) note_error(script, redis_reply_is_error(r) ? redis_reply_text(r) : "unexpected reply");
    return read ? std::move(*read) : ReplayResult{};
}

// The HTTP API's history: the script's newest-first entries, oldest first.
void RedisStore::history_newest(const std::string& group_id, size_t limit, std::function<void(ReplayResult)> done) {
    run_script(newest_, {keys_.group(group_id)}, {std::to_string(limit)},
               [this, group_id, limit, done = std::move(done)](const redisReply* r, std::string_view) {
                   std::vector<std::string> skipped;
                   std::optional<ReplayResult> read = read_newest_reply(r, group_id, limit, skipped);
                   done(history_result(std::move(read), skipped, r, group_id, "history script"));
               });
}

void RedisStore::add_notification(const std::string& target, const std::string& data,
                                  std::function<void(Result<std::string>)> done) {
    link_->command({"XADD", keys_.notify(), "*", "target", target, "data", data},
                   [this, done = std::move(done)](const redisReply* r, std::string_view err) {
                       if (is_string(r)) return done(std::string(r->str, r->len));
                       const std::string why =
                           r ? std::string(redis_reply_text(r)) : std::string(err.empty() ? "no answer" : err);
                       if (r) note_error("XADD notify", why);
                       done(Status::fail(why));
                   });
}

namespace {

// `done` with success when Redis answered anything but an error.
RedisLink::Callback status_of(std::function<void(Status)> done) {
    return [done = std::move(done)](const redisReply* r, std::string_view err) {
        if (r && !redis_reply_is_error(r)) return done(Status{});
        done(Status::fail(r ? std::string(redis_reply_text(r)) : std::string(err.empty() ? "no answer" : err)));
    };
}

}  // namespace

void RedisStore::disconnect_user(const ControlEntry& entry, std::function<void(Status)> done) {
    std::vector<std::string> argv{"XADD", keys_.bus(), "MAXLEN", "~", std::to_string(kBusMaxLen), "*"};
    for (std::string& f : control_entry_fields(entry)) argv.push_back(std::move(f));
    std::vector<std::string_view> views(argv.begin(), argv.end());
    link_->command(views, status_of(std::move(done)));
}

void RedisStore::revoke_user(const std::string& user_id, const Revocation& r, std::function<void(Status)> done) {
    run_script(revoke_, {keys_.revoked(), keys_.bus()},
               {user_id, std::to_string(r.until_ms), std::to_string(r.iat_bound_s), std::to_string(kBusMaxLen)},
               status_of(std::move(done)));
}

void RedisStore::load_revocations(int64_t now_ms,
                                  std::function<void(std::vector<std::pair<std::string, Revocation>>)> done) {
    link_->command({"HGETALL", keys_.revoked()},
                   [this, now_ms, done = std::move(done)](const redisReply* r, std::string_view) {
                       std::vector<std::pair<std::string, Revocation>> live;
                       std::vector<std::string> over;
                       if (r && r->type == REDIS_REPLY_ARRAY) {
                           for (size_t i = 0; i + 1 < r->elements; i += 2) {
                               std::string user(redis_reply_text(r->element[i]));
                               std::optional<Revocation> rev = parse_revocation(redis_reply_text(r->element[i + 1]));
                               if (rev && rev->until_ms > now_ms)
                                   live.emplace_back(std::move(user), *rev);
                               else
                                   over.push_back(std::move(user));
                           }
                       }
                       if (!over.empty()) {
                           std::vector<std::string> argv{"HDEL", keys_.revoked()};
                           for (std::string& u : over) argv.push_back(std::move(u));
                           std::vector<std::string_view> views(argv.begin(), argv.end());
                           link_->command(views, [](const redisReply*, std::string_view) {});
                       }
                       done(std::move(live));
                   });
}

}  // namespace pushd
