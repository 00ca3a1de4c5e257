// pushctl presence (--group GID | --user ID): who is online across all
// instances, read from Redis with the same query scripts pushd's API runs
// (core/presence_schema), so both answer alike; --json prints exactly the
// API's answer (PROTOCOL.md section 9).
#include "context.hpp"
#include "core/presence_schema.hpp"
#include "core/redis_schema.hpp"
#include "io/redis_link.hpp"
#include "redis_sync.hpp"

#include <cstdio>
#include <memory>

namespace pushctl {
namespace {

struct PresenceOptions {
    std::string group;
    std::string user;
};

// EVAL of one query script; its strings in `out`. False after recording
// the error.
bool run_query(Context& c, const std::string& script, const std::string& id, std::vector<std::string>& out) {
    auto redis = open_redis(c);
    if (!redis) return false;
    // The one key declared is not read by the script (it builds its key
    // names from the prefix): it routes the call to the presence keys'
    // slot in cluster mode.
    const std::string prefix = pushd::redis_keys(c.config()->redis).presence_prefix();
    Reply r = redis->command({"EVAL", script, "1", prefix + "events", prefix, id});
    if (!r) return c.fail(kFailed, redis->error()), false;
    if (r->type == REDIS_REPLY_ERROR) return c.fail(kFailed, std::string("presence: ") + r->str), false;
    if (!pushd::redis_read_strings(r.get(), out)) return c.fail(kFailed, "presence: unexpected reply"), false;
    return true;
}

// Runs the query for `id`, reads it with `read` and prints it: `json`'s
// text with --json, else what `human` prints.
template <class Read, class Json, class Human>
int answer(Context& c, const std::string& script, const std::string& id, Read read, Json json, Human human) {
    std::vector<std::string> flat;
    if (!run_query(c, script, id, flat)) return c.error->status;
    auto p = read(id, flat);
    if (!p) return c.fail(kFailed, "presence: unexpected reply");
    if (c.json)
        std::printf("%s\n", json(*p).c_str());
    else
        human(*p);
    return kOk;
}

void print_group(const pushd::GroupPresence& p) {
    std::printf("group %s: %zu user(s) online\n", p.group_id.c_str(), p.users.size());
    for (const pushd::PresenceUserCount& u : p.users) std::printf("%s\t%u\n", u.user_id.c_str(), u.connections);
}

void print_user(const pushd::UserPresence& p) {
    if (!p.online) {
        std::printf("user %s: offline\n", p.user_id.c_str());
        return;
    }
    std::string names;
    for (const std::string& n : p.instances) names += (names.empty() ? "" : ", ") + n;
    std::printf("user %s: online, %u connection(s) on %s\n", p.user_id.c_str(), p.connections, names.c_str());
}

int run_presence(Context& c, const PresenceOptions& o) {
    if (o.group.empty() == o.user.empty()) return c.fail(kUsage, "presence: give one of --group and --user");
    if (!o.group.empty())
        return answer(c, pushd::kPresenceGroupScript, o.group, pushd::read_group_presence, pushd::group_presence_json,
                      print_group);
    return answer(c, pushd::kPresenceUserScript, o.user, pushd::read_user_presence, pushd::user_presence_json,
                  print_user);
}

}  // namespace

void set_presence_command(CLI::App* app, Context& ctx) {
    auto o = std::make_shared<PresenceOptions>();
    CLI::App* cmd = app->add_subcommand("presence", "who is online, across all instances");
    cmd->add_option("--group", o->group, "the users with a connection subscribed to the group");
    cmd->add_option("--user", o->user, "whether the user is online, and where");
    cmd->add_flag("--json", ctx.json, "print the answer of GET /api/presence");
    cmd->callback([&ctx, o] { ctx.run = [o](Context& c) -> int { return run_presence(c, *o); }; });
}

}  // namespace pushctl
