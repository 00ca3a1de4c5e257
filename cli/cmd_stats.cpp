// pushctl stats: this instance's /stats, as a table or (--json) as it is;
// with --cluster every live instance's (from the instance keys each pushd
// refreshes in Redis every 5 seconds with a 15-second expiry) and their sum.
#include "context.hpp"
#include "core/redis_schema.hpp"
#include "redis_sync.hpp"

#include <cJSON.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>

namespace pushctl {
namespace {

// Bounds on what --cluster reads: instance keys, and SCAN calls.
constexpr size_t kMaxInstances = 10000;
constexpr int kMaxScanCalls = 100000;
constexpr size_t kMgetChunk = 100;

using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

Json make_json(cJSON* j) { return Json(j, cJSON_Delete); }

std::string print_json(const cJSON* j) {
    char* text = cJSON_PrintUnformatted(j);
    std::string out = text ? text : "null";
    cJSON_free(text);
    return out;
}

int run_instance(Context& c) {
    std::optional<pushd::HttpResponse> got = c.server_get("/stats");
    if (!got) return c.error->status;
    const pushd::HttpResponse& r = *got;
    const std::string where = c.server_address()->url;
    if (r.status != 200) return c.fail(kFailed, where + ": /stats answered " + std::to_string(r.status));
    if (c.json) {
        std::printf("%s\n", r.body.c_str());
        return kOk;
    }
    Json root = make_json(cJSON_Parse(r.body.c_str()));
    if (!cJSON_IsObject(root.get())) return c.fail(kFailed, where + ": /stats is not a JSON object");
    for (cJSON* item = root->child; item; item = item->next) {
        if (cJSON_IsNumber(item)) std::printf("%-22s %.0f\n", item->string, item->valuedouble);
    }
    return kOk;
}

// Every instance key (SCAN MATCH) on `node`, at most kMaxInstances. False
// after recording the error.
bool scan_node(Context& c, RedisSync& redis, const std::string& node, const std::string& pattern,
               std::set<std::string>& out) {
    std::string cursor = "0";
    for (int calls = 0; calls < kMaxScanCalls; calls++) {
        Reply r = redis.command_on(node, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        if (!r) {
            c.fail(kFailed, redis.error());
            return false;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            c.fail(kFailed, std::string("SCAN: ") + (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
            return false;
        }
        for (size_t i = 0; i < r->element[1]->elements && out.size() < kMaxInstances; i++) {
            const redisReply* k = r->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING) out.emplace(k->str, k->len);
        }
        cursor.assign(r->element[0]->str, r->element[0]->len);
        if (cursor == "0" || out.size() >= kMaxInstances) return true;
    }
    return true;
}

// Every instance key, on every master (Redis.Mode cluster spreads them).
bool scan_instance_keys(Context& c, RedisSync& redis, const std::string& pattern, std::set<std::string>& out) {
    for (const std::string& node : redis.masters())
        if (!scan_node(c, redis, node, pattern, out)) return false;
    return true;
}

// The instance objects stored under `keys` that are still there and hold a
// JSON object with name, host and port, sorted by name, host, port.
bool read_instances(Context& c, RedisSync& redis, const std::set<std::string>& keys, std::vector<Json>& out) {
    std::vector<std::string> all(keys.begin(), keys.end());
    for (size_t at = 0; at < all.size(); at += kMgetChunk) {
        std::vector<std::string> cmd{"MGET"};
        cmd.insert(cmd.end(), all.begin() + at, all.begin() + std::min(all.size(), at + kMgetChunk));
        Reply r = redis.command(cmd);
        if (!r) {
            c.fail(kFailed, redis.error());
            return false;
        }
        if (r->type != REDIS_REPLY_ARRAY) {
            c.fail(kFailed, std::string("MGET: ") + (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
            return false;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply* v = r->element[i];
            if (v->type != REDIS_REPLY_STRING) continue;  // expired since the SCAN
            Json o = make_json(cJSON_ParseWithLength(v->str, v->len));
            if (cJSON_IsObject(o.get()) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o.get(), "name")) &&
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o.get(), "host")) &&
                cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o.get(), "port"))) {
                out.push_back(std::move(o));
            } else {
                std::fprintf(stderr, "pushctl: skipped %s: not an instance object\n", cmd[i + 1].c_str());
            }
        }
    }
    auto id = [](const Json& j) {
        return std::make_tuple(std::string(cJSON_GetObjectItemCaseSensitive(j.get(), "name")->valuestring),
                               std::string(cJSON_GetObjectItemCaseSensitive(j.get(), "host")->valuestring),
                               cJSON_GetObjectItemCaseSensitive(j.get(), "port")->valuedouble);
    };
    std::sort(out.begin(), out.end(), [&](const Json& a, const Json& b) { return id(a) < id(b); });
    return true;
}

// Every numeric field of the instances but "port", summed, in the order
// first seen.
Json sum_instances(const std::vector<Json>& instances) {
    Json total = make_json(cJSON_CreateObject());
    for (const Json& inst : instances) {
        for (const cJSON* item = inst->child; item; item = item->next) {
            if (!cJSON_IsNumber(item) || std::string_view(item->string) == "port") continue;
            if (cJSON* t = cJSON_GetObjectItemCaseSensitive(total.get(), item->string)) {
                cJSON_SetNumberValue(t, t->valuedouble + item->valuedouble);
            } else {
                cJSON_AddNumberToObject(total.get(), item->string, item->valuedouble);
            }
        }
    }
    return total;
}

double number_at(const cJSON* o, const char* name) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void print_table(const std::vector<Json>& instances, const cJSON* total) {
    static constexpr const char* kColumns[] = {"online_users", "connections", "groups",  "messages_in",
                                               "messages_out", "uptime_s",    "redis_up"};
    std::vector<std::string> names;
    size_t width = 8;
    for (const Json& j : instances) {
        names.push_back(std::string(cJSON_GetObjectItemCaseSensitive(j.get(), "name")->valuestring) + " " +
                        cJSON_GetObjectItemCaseSensitive(j.get(), "host")->valuestring + ":" +
                        std::to_string(static_cast<long long>(number_at(j.get(), "port"))));
        width = std::max(width, names.back().size());
    }
    std::printf("%-*s", static_cast<int>(width), "INSTANCE");
    for (const char* col : kColumns) std::printf(" %13s", col);
    std::printf("\n");
    for (size_t i = 0; i < instances.size(); i++) {
        std::printf("%-*s", static_cast<int>(width), names[i].c_str());
        for (const char* col : kColumns) std::printf(" %13.0f", number_at(instances[i].get(), col));
        std::printf("\n");
    }
    std::printf("%-*s", static_cast<int>(width), ("TOTAL (" + std::to_string(instances.size()) + ")").c_str());
    for (const char* col : kColumns) std::printf(" %13.0f", number_at(total, col));
    std::printf("\n");
}

int run_cluster(Context& c) {
    auto redis = open_redis(c);
    if (!redis) return c.error->status;
    pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    std::set<std::string> names;
    std::vector<Json> instances;
    if (!scan_instance_keys(c, *redis, keys.instance_pattern(), names)) return kFailed;
    if (!read_instances(c, *redis, names, instances)) return kFailed;
    Json total = sum_instances(instances);
    if (!c.json) {
        print_table(instances, total.get());
        return kOk;
    }
    Json out = make_json(cJSON_CreateObject());
    cJSON* list = cJSON_AddArrayToObject(out.get(), "instances");
    for (Json& j : instances) cJSON_AddItemToArray(list, j.release());
    cJSON_AddItemToObject(out.get(), "total", total.release());
    std::printf("%s\n", print_json(out.get()).c_str());
    return kOk;
}

}  // namespace

void set_stats_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("stats", "print an instance's statistics, or the cluster's");
    auto cluster = std::make_shared<bool>(false);
    cmd->add_flag("--json", ctx.json, "print JSON: the /stats object, or {\"instances\": [...], \"total\": {...}}");
    cmd->add_flag("--cluster", *cluster, "every live instance (from Redis) and their sum");
    cmd->callback([&ctx, cluster] {
        ctx.run = [cluster](Context& c) -> int { return *cluster ? run_cluster(c) : run_instance(c); };
    });
}

}  // namespace pushctl
