// pushctl group add|remove GID UID... and group members GID: the group's
// member set (members:<gid>, RequireMembership) and each user's group set
// (user:<uid>:groups, AutoJoin), changed together in one MULTI/EXEC.
#include "context.hpp"
#include "core/json_writer.hpp"
#include "core/redis_schema.hpp"
#include "redis_sync.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace pushctl {
namespace {

struct GroupArgs {
    std::string group;
    std::vector<std::string> users;
};

int change_members(Context& c, const GroupArgs& a, bool add) {
    if (a.group.empty() || a.users.empty()) return c.fail(kUsage, "group: give a group id and at least one user id");
    auto redis = open_redis(c);
    if (!redis) return c.error ? c.error->status : kFailed;
    pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    const char* op = add ? "SADD" : "SREM";
    std::vector<std::string> members{op, keys.members(a.group)};
    members.insert(members.end(), a.users.begin(), a.users.end());
    // Both sets change together or not at all. Not in a cluster, where they
    // are in different slots: there each change is its own command (all
    // idempotent: after a failure, running it again completes it).
    std::vector<std::vector<std::string>> cmds{members};
    for (const std::string& u : a.users) cmds.push_back({op, keys.user_groups(u), a.group});
    if (!redis->cluster()) {
        cmds.insert(cmds.begin(), std::vector<std::string>{"MULTI"});
        cmds.push_back({"EXEC"});
    }
    for (const auto& cmd : cmds) {
        Reply r = redis->command(cmd);
        if (!r) return c.fail(kFailed, redis->error());
        if (r->type == REDIS_REPLY_ERROR) return c.fail(kFailed, cmd[0] + " refused: " + r->str);
        if (cmd[0] == "EXEC" && r->type != REDIS_REPLY_ARRAY) return c.fail(kFailed, "the change was not applied");
    }
    return kOk;
}

int list_members(Context& c, const GroupArgs& a) {
    if (a.group.empty() || !a.users.empty()) return c.fail(kUsage, "group members: give exactly one group id");
    auto redis = open_redis(c);
    if (!redis) return c.error ? c.error->status : kFailed;
    pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    Reply r = redis->command({"SMEMBERS", keys.members(a.group)});
    if (!r) return c.fail(kFailed, redis->error());
    if (r->type != REDIS_REPLY_ARRAY) return c.fail(kFailed, "SMEMBERS: unexpected reply");
    std::vector<std::string> ids;
    for (size_t i = 0; i < r->elements; i++) ids.emplace_back(r->element[i]->str, r->element[i]->len);
    std::sort(ids.begin(), ids.end());
    if (c.json) {
        std::string line = "{\"group_id\":";
        pushd::json_append_string(line, a.group);
        line += ",\"members\":[";
        for (size_t i = 0; i < ids.size(); i++) {
            if (i) line += ",";
            pushd::json_append_string(line, ids[i]);
        }
        std::printf("%s]}\n", line.c_str());
        return kOk;
    }
    for (const std::string& id : ids) std::printf("%s\n", id.c_str());
    return kOk;
}

}  // namespace

void set_group_command(CLI::App* app, Context& ctx) {
    CLI::App* group = app->add_subcommand("group", "change or list a group's members");
    group->require_subcommand(1);
    for (const char* verb : {"add", "remove"}) {
        auto a = std::make_shared<GroupArgs>();
        const bool add = std::string(verb) == "add";
        CLI::App* cmd = group->add_subcommand(verb, add ? "add users to the group" : "remove users from the group");
        cmd->add_option("group", a->group, "group id")->required();
        cmd->add_option("users", a->users, "user ids")->required();
        cmd->callback([&ctx, a, add] { ctx.run = [a, add](Context& c) -> int { return change_members(c, *a, add); }; });
    }
    auto m = std::make_shared<GroupArgs>();
    CLI::App* members = group->add_subcommand("members", "list the group's member set");
    members->add_option("group", m->group, "group id")->required();
    members->add_flag("--json", ctx.json, "print {\"group_id\", \"members\": [...]}");
    members->callback([&ctx, m] { ctx.run = [m](Context& c) -> int { return list_members(c, *m); }; });
}

}  // namespace pushctl
