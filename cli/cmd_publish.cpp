// pushctl publish: store and push a group message as a user, through the
// append script pushd runs for send_message (core/redis_schema), so the
// dedup key, the group's history and the bus are written exactly as pushd
// writes them, and every pushd instance delivers it as new_message.
//
// The script is sent with EVAL: a one-shot process has no loaded script to
// name by SHA (EVALSHA would need a SCRIPT LOAD first, one more round trip
// for the same effect), and Redis caches what EVAL ran.
#include "context.hpp"
#include "core/auth.hpp"
#include "core/json_check.hpp"
#include "core/json_writer.hpp"
#include "core/protocol.hpp"
#include "core/redis_schema.hpp"
#include "core/replica_wait.hpp"
#include "redis_sync.hpp"

#include <cstdio>
#include <memory>
#include <optional>
#include <random>

namespace pushctl {
namespace {

// Longest client message id (as for a request's message_id).
constexpr size_t kMaxClientMessageIdBytes = 128;

struct PublishOptions {
    std::string group;
    std::string from;
    int64_t msg_type = 1;
    std::string content;
    std::optional<std::string> message_id;  // nullopt -> a fresh "pushctl-<random>"
    bool json = false;
};

// "pushctl-" and 16 random hex digits.
std::string fresh_message_id() {
    std::random_device rd;
    const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    char buf[32];
    std::snprintf(buf, sizeof buf, "pushctl-%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// The usage error for the options, or "" when they can be published.
std::string check_options(const PublishOptions& o, size_t max_content) {
    if (!pushd::valid_group_id(o.group) || !pushd::utf8_valid(o.group))
        return "--group: a group id is 1..128 bytes of UTF-8 without control characters";
    if (!pushd::valid_user_id(o.from)) return "--from: a user id is 1..128 bytes of UTF-8 without control characters";
    if (o.message_id &&
        (o.message_id->empty() || o.message_id->size() > kMaxClientMessageIdBytes || !pushd::utf8_valid(*o.message_id)))
        return "--message-id: 1..128 bytes of UTF-8";
    if (!pushd::utf8_valid(o.content)) return "content: not valid UTF-8";
    if (o.content.size() > max_content)
        return "content: " + std::to_string(o.content.size()) + " bytes, over Limits.MaxMessageBytes (" +
               std::to_string(max_content) + ")";
    return "";
}

// Redis.WaitReplicas: the message is acknowledged only once the replicas
// hold it (core/replica_wait.hpp: PUBLISH then WAIT on this connection).
// "" when confirmed or not asked for; else why not.
std::string confirm_replicas(RedisSync& redis, const pushd::Config& cfg, const std::string& message_id) {
    const int64_t n = cfg.redis.wait_replicas;
    if (n <= 0) return "";
    pushd::RedisKeys keys = pushd::redis_keys(cfg.redis);
    Reply touch = redis.command({"PUBLISH", keys.wait_channel(), ""});
    Reply w = touch ? redis.command({"WAIT", std::to_string(n), std::to_string(pushd::kWaitTimeoutMs)}) : nullptr;
    if (!w) return redis.error();
    if (w->type == REDIS_REPLY_INTEGER && w->integer >= n) return "";
    return "not confirmed by " + std::to_string(n) + " replica(s) within " + std::to_string(pushd::kWaitTimeoutMs) +
           " ms (Redis.WaitReplicas); retry with --message-id " + message_id + ": it is not stored twice";
}

// Redis.WaitReplicas: fewer replicas online than it asks for refuses the
// send before anything is stored, as pushd does. "" when enough.
std::string replicas_short(RedisSync& redis, const pushd::Config& cfg) {
    const int64_t n = cfg.redis.wait_replicas;
    if (n <= 0) return "";
    Reply info = redis.command({"INFO", "replication"});
    if (!info) return redis.error();
    std::optional<int64_t> online;
    if (info->type == REDIS_REPLY_STRING) online = pushd::online_replicas(std::string_view(info->str, info->len));
    if (online && *online >= n) return "";
    return "waiting for replicas (" + (online ? std::to_string(*online) : std::string("?")) + " of " +
           std::to_string(n) + " online, Redis.WaitReplicas): nothing was stored";
}

int run_publish(Context& c, PublishOptions o) {
    const pushd::Config* cfg = c.config();
    if (!cfg) return kUsage;
    if (std::string why = check_options(o, static_cast<size_t>(cfg->limits.max_message_bytes)); !why.empty())
        return c.fail(kUsage, why);
    if (!o.message_id) o.message_id = fresh_message_id();
    auto redis = open_redis(c);
    if (!redis) return c.error->status;
    pushd::RedisKeys keys = pushd::redis_keys(cfg->redis);
    if (cfg->groups.require_membership) {  // as pushd checks send_message
        Reply m = redis->command({"SISMEMBER", keys.members(o.group), o.from});
        if (!m) return c.fail(kFailed, redis->error());
        if (m->type != REDIS_REPLY_INTEGER)
            return c.fail(kFailed, std::string("SISMEMBER refused: ") +
                                       (m->type == REDIS_REPLY_ERROR ? m->str : "unexpected reply"));
        if (m->integer != 1)
            return c.fail(kFailed,
                          "'" + o.from + "' is not a member of group '" + o.group + "' (Groups.RequireMembership)");
    }
    if (std::string why = replicas_short(*redis, *cfg); !why.empty()) return c.fail(kFailed, why);
    pushd::AppendRequest req;
    req.group_id = o.group;
    req.client_message_id = *o.message_id;
    req.sender_id = o.from;
    req.msg_type = o.msg_type;
    req.content = o.content;
    pushd::ScriptArgs a = pushd::append_script_args(keys, req, cfg->groups.dedup_window, cfg->groups.history_size);
    std::vector<std::string> cmd{"EVAL", pushd::kAppendScript, std::to_string(a.keys.size())};
    cmd.insert(cmd.end(), a.keys.begin(), a.keys.end());
    cmd.insert(cmd.end(), a.args.begin(), a.args.end());
    Reply r = redis->command(cmd);
    if (!r) return c.fail(kFailed, redis->error());
    if (r->type == REDIS_REPLY_ERROR) return c.fail(kFailed, std::string("the append script failed: ") + r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_INTEGER)
        return c.fail(kFailed, "the append script gave an unexpected reply");
    const std::string id(r->element[0]->str, r->element[0]->len);
    const bool duplicate = r->element[1]->integer != 0;
    if (std::string why = confirm_replicas(*redis, *cfg, *o.message_id); !why.empty()) return c.fail(kFailed, why);
    if (o.json) {
        pushd::JsonWriter w;
        w.begin_object()
            .field_str("message_id", id)
            .field_str("client_message_id", *o.message_id)
            .field_bool("duplicate", duplicate)
            .end_object();
        std::printf("%s\n", w.str().c_str());
    } else {
        std::printf("%s\n", id.c_str());
    }
    return kOk;
}

}  // namespace

void set_publish_command(CLI::App* app, Context& ctx) {
    auto o = std::make_shared<PublishOptions>();
    CLI::App* cmd = app->add_subcommand("publish", "store and push a group message as a user; prints its message_id");
    cmd->add_option("--group", o->group, "group id")->required();
    cmd->add_option("--from", o->from, "the sender's user id")->required();
    cmd->add_option("--msg-type", o->msg_type, "msg_type (default 1)")
        ->check(CLI::Range(int64_t{0}, int64_t{2147483647}));
    cmd->add_option("--message-id", o->message_id,
                    "client message id (default pushctl-<random>); a retry with the same id within "
                    "Groups.DedupWindow is not stored again and prints the first message_id");
    cmd->add_flag("--json", o->json, "print {\"message_id\", \"client_message_id\", \"duplicate\"}");
    cmd->add_option("content", o->content, "the message text")->required();
    cmd->callback([&ctx, o] { ctx.run = [o](Context& c) -> int { return run_publish(c, *o); }; });
}

}  // namespace pushctl
