// pushctl kick / revoke / history (PROTOCOL.md section 8): what
// /api/disconnect, /api/revoke and /api/history do, written to and read
// from Redis directly with the same control entries and scripts
// (core/control_entry, core/redis_schema), so that pushctl and the API
// cannot drift apart. --json prints the API's answer.
#include "context.hpp"
#include "core/api_reply.hpp"
#include "core/api_request.hpp"
#include "core/control_entry.hpp"
#include "core/redis_schema.hpp"
#include "core/stream_id.hpp"
#include "io/history_reply.hpp"
#include "redis_sync.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

namespace pushctl {
namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Runs `args` on Redis; the reply, or nullptr after recording the error.
Reply run(Context& c, const std::vector<std::string>& args, const char* what) {
    auto redis = open_redis(c);
    if (!redis) return nullptr;
    Reply r = redis->command(args);
    if (!r) return c.fail(kFailed, redis->error()), nullptr;
    if (r->type == REDIS_REPLY_ERROR) return c.fail(kFailed, std::string(what) + ": " + r->str), nullptr;
    return r;
}

struct KickOptions {
    std::string user;
    std::string reason;
};

int run_kick(Context& c, const KickOptions& o) {
    if (!pushd::valid_user_id(o.user)) return c.fail(kUsage, "kick: --user must be a user id of 1..128 bytes");
    pushd::ControlEntry e{pushd::ControlOp::disconnect, o.user, pushd::close_reason_text(o.reason), {}};
    const pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    std::vector<std::string> args{"XADD", keys.bus(), "MAXLEN", "~", std::to_string(pushd::kBusMaxLen), "*"};
    for (std::string& f : pushd::control_entry_fields(e)) args.push_back(std::move(f));
    if (!run(c, args, "kick")) return c.error->status;
    if (c.json)
        std::printf("%s\n", pushd::api_done().body.c_str());
    else
        std::printf("closing %s's connections on every instance (4010)\n", o.user.c_str());
    return kOk;
}

struct RevokeOptions {
    std::string user;
    int64_t seconds = 0;
};

int run_revoke(Context& c, const RevokeOptions& o) {
    if (!pushd::valid_user_id(o.user)) return c.fail(kUsage, "revoke: --user must be a user id of 1..128 bytes");
    if (o.seconds < 1 || o.seconds > pushd::kApiMaxRevokeSeconds)
        return c.fail(kUsage, "revoke: --seconds must be 1.." + std::to_string(pushd::kApiMaxRevokeSeconds));
    const int64_t now = now_ms();
    const pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    if (!run(c,
             {"EVAL", pushd::kRevokeScript, "2", keys.revoked(), keys.bus(), o.user,
              std::to_string(now + o.seconds * 1000), std::to_string(now / 1000), std::to_string(pushd::kBusMaxLen)},
             "revoke"))
        return c.error->status;
    if (c.json)
        std::printf("%s\n", pushd::api_done().body.c_str());
    else
        std::printf("refusing %s's tokens issued until now for %lld s, on every instance\n", o.user.c_str(),
                    static_cast<long long>(o.seconds));
    return kOk;
}

struct HistoryOptions {
    std::string group;
    std::string since;
    int64_t limit = 100;
};

void print_messages(const pushd::ReplayResult& r) {
    for (const pushd::StoredMessage& m : r.messages)
        std::printf("%s\t%s\t%s\n", m.message_id.c_str(), m.sender_id.c_str(), m.content.c_str());
    if (r.truncated) std::printf("(truncated: older messages were trimmed from the history)\n");
}

int run_history(Context& c, const HistoryOptions& o) {
    if (!pushd::valid_group_id(o.group)) return c.fail(kUsage, "history: --group must be a group id of 1..128 bytes");
    if (o.limit < 1 || o.limit > pushd::kApiHistoryMaxLimit) return c.fail(kUsage, "history: --limit must be 1..1000");
    std::optional<pushd::StreamId> since;
    if (!o.since.empty() && !(since = pushd::parse_stream_id(o.since)))
        return c.fail(kUsage, "history: --since must be a message id (<ms>-<seq>)");
    const pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    const std::string limit = std::to_string(o.limit);
    Reply r =
        since ? run(c, {"EVAL", pushd::kReplayScript, "1", keys.group(o.group), pushd::format_stream_id(*since), limit},
                    "history")
              : run(c, {"EVAL", pushd::kNewestScript, "1", keys.group(o.group), limit}, "history");
    if (!r) return c.error->status;
    std::vector<std::string> skipped;
    std::optional<pushd::ReplayResult> read =
        since ? pushd::read_replay_reply(r.get(), o.group, *since, skipped)
              : pushd::read_newest_reply(r.get(), o.group, static_cast<size_t>(o.limit), skipped);
    if (!read) return c.fail(kFailed, "history: unexpected reply");
    for (const std::string& why : skipped) std::fprintf(stderr, "pushctl: skipped a malformed entry %s\n", why.c_str());
    if (c.json)
        std::printf("%s\n", pushd::api_history(read->messages, read->truncated).body.c_str());
    else
        print_messages(*read);
    return kOk;
}

}  // namespace

void set_control_commands(CLI::App* app, Context& ctx) {
    auto k = std::make_shared<KickOptions>();
    CLI::App* kick = app->add_subcommand("kick", "close the user's connections on every instance (4010)");
    kick->add_option("--user", k->user, "the user id")->required();
    kick->add_option("--reason", k->reason, "the close reason (default: disconnected)");
    kick->add_flag("--json", ctx.json, "print the answer of POST /api/disconnect");
    kick->callback([&ctx, k] { ctx.run = [k](Context& c) -> int { return run_kick(c, *k); }; });

    auto v = std::make_shared<RevokeOptions>();
    CLI::App* revoke = app->add_subcommand("revoke", "refuse the user's current tokens for N seconds");
    revoke->add_option("--user", v->user, "the user id")->required();
    revoke->add_option("--seconds", v->seconds, "how long")->required();
    revoke->add_flag("--json", ctx.json, "print the answer of POST /api/revoke");
    revoke->callback([&ctx, v] { ctx.run = [v](Context& c) -> int { return run_revoke(c, *v); }; });

    auto h = std::make_shared<HistoryOptions>();
    CLI::App* history = app->add_subcommand("history", "print stored group messages, oldest first");
    history->add_option("--group", h->group, "the group id")->required();
    history->add_option("--since", h->since, "only messages after this message id");
    history->add_option("--limit", h->limit, "at most this many (1..1000, default 100)");
    history->add_flag("--json", ctx.json, "print the answer of GET /api/history");
    history->callback([&ctx, h] { ctx.run = [h](Context& c) -> int { return run_history(c, *h); }; });
}

}  // namespace pushctl
