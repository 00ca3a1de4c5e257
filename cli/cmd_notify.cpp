// pushctl notify: publish a system notification (XADD <prefix>notify), as
// business services do; prints its notification_id.
#include "context.hpp"
#include "core/json_check.hpp"
#include "core/json_writer.hpp"
#include "core/redis_schema.hpp"
#include "redis_sync.hpp"

#include <cJSON.h>

#include <cstdio>
#include <memory>

namespace pushctl {
namespace {

struct NotifyOptions {
    std::string users;
    std::string group;
    bool all = false;
    std::string data;
    std::string title;
    std::string body;
};

// {"title": T, "body": B} built with cJSON so every character is escaped.
std::string title_body_json(const std::string& title, const std::string& body) {
    cJSON* o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "title", title.c_str());
    cJSON_AddStringToObject(o, "body", body.c_str());
    char* text = cJSON_PrintUnformatted(o);
    std::string out = text ? text : "{}";
    cJSON_free(text);
    cJSON_Delete(o);
    return out;
}

int run_notify(Context& c, const NotifyOptions& o) {
    const int targets = (!o.users.empty()) + (!o.group.empty()) + (o.all ? 1 : 0);
    if (targets != 1) return c.fail(kUsage, "notify: give exactly one of --user, --group, --all");
    if (o.data.empty() == o.title.empty()) return c.fail(kUsage, "notify: give exactly one of --data, --title");
    std::string data = o.data.empty() ? title_body_json(o.title, o.body) : o.data;
    std::string why;
    if (!pushd::json_object_text_valid(data, 32, &why)) return c.fail(kUsage, "--data: not a JSON object: " + why);
    std::string target = o.all ? "all" : !o.group.empty() ? "group:" + o.group : "user:" + o.users;
    auto redis = open_redis(c);
    if (!redis) return c.error->status;
    pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    Reply r = redis->command({"XADD", keys.notify(), "*", "target", target, "data", data});
    if (!r) return c.fail(kFailed, redis->error());
    if (r->type != REDIS_REPLY_STRING) {
        return c.fail(kFailed,
                      std::string("XADD refused: ") + (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
    }
    if (c.json) {
        std::string line = "{\"notification_id\":";
        pushd::json_append_string(line, r->str);
        std::printf("%s}\n", line.c_str());
    } else {
        std::printf("%s\n", r->str);
    }
    return kOk;
}

}  // namespace

void set_notify_command(CLI::App* app, Context& ctx) {
    auto o = std::make_shared<NotifyOptions>();
    CLI::App* cmd = app->add_subcommand("notify", "publish a notification; prints its notification_id");
    cmd->add_option("--user", o->users, "user id(s), comma-separated");
    cmd->add_option("--group", o->group, "group id");
    cmd->add_flag("--all", o->all, "every authenticated connection");
    cmd->add_option("--data", o->data, "the notification's data: a JSON object");
    cmd->add_option("--title", o->title, "send {\"title\", \"body\"}");
    cmd->add_option("--body", o->body, "with --title");
    cmd->add_flag("--json", ctx.json, "print {\"notification_id\"}");
    cmd->callback([&ctx, o] { ctx.run = [o](Context& c) -> int { return run_notify(c, *o); }; });
}

}  // namespace pushctl
