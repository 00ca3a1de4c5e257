#include "io/redis_wait.hpp"

#include "core/cluster_slots.hpp"
#include "io/redis_cluster.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>

namespace pushd {

WaitBatch::Issue redis_wait_issue(RedisLink* link, std::string channel, int64_t replicas) {
    return [link, channel = std::move(channel), n = std::to_string(replicas)](WaitBatch::Answer answer) {
        static const std::string timeout = std::to_string(kWaitTimeoutMs);
        link->command({"PUBLISH", channel, ""}, [](const redisReply*, std::string_view) {});
        link->command({"WAIT", n, timeout}, [answer = std::move(answer)](const redisReply* r, std::string_view) {
            answer(r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
        });
    };
}

namespace {

// SET marker_key, then WAIT: the WAIT counts only when the SET was taken.
void marker_wait(RedisLink* link, const std::string& marker_key, const std::string& replicas,
                 WaitBatch::Answer answer) {
    static const std::string timeout = std::to_string(kWaitTimeoutMs);
    auto written = std::make_shared<bool>(false);
    link->command({"SET", marker_key, "", "PX", "10000"},
                  [written](const redisReply* r, std::string_view) { *written = r && !redis_reply_is_error(r); });
    link->command({"WAIT", replicas, timeout},
                  [written, answer = std::move(answer)](const redisReply* r, std::string_view) {
                      answer(*written && r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
                  });
}

// A slot `link`'s node serves, found again only when the map moved it.
std::optional<uint16_t> slot_served_by(RedisCluster* cluster, RedisLink* link, uint16_t hint) {
    if (cluster->link_for(hint) == link) return hint;
    for (size_t s = 0; s < kClusterSlots; ++s) {
        if (cluster->link_for(static_cast<uint16_t>(s)) == link) return static_cast<uint16_t>(s);
    }
    return std::nullopt;
}

}  // namespace

WaitBatch::Issue redis_cluster_wait_issue(RedisLink* link, RedisCluster* cluster, std::string prefix,
                                          int64_t replicas) {
    struct Marker {
        uint16_t slot = 0;
        std::string key;
    };
    auto marker = std::make_shared<Marker>();
    return [link, cluster, marker, prefix = std::move(prefix), n = std::to_string(replicas)](WaitBatch::Answer answer) {
        std::optional<uint16_t> slot = slot_served_by(cluster, link, marker->slot);
        if (!slot) return answer(-1);
        if (marker->key.empty() || *slot != marker->slot) {
            marker->slot = *slot;
            marker->key = prefix + "{" + slot_tag(*slot) + "}:wait";
        }
        marker_wait(link, marker->key, n, std::move(answer));
    };
}

WaitBatch::Issue redis_marker_wait_issue(RedisLink* link, std::string marker_key, int64_t replicas) {
    return [link, key = std::move(marker_key), n = std::to_string(replicas)](WaitBatch::Answer answer) {
        marker_wait(link, key, n, std::move(answer));
    };
}

void redis_count_replicas(RedisLink* link, std::function<void(int64_t online)> done) {
    link->command({"INFO", "replication"}, [done = std::move(done)](const redisReply* r, std::string_view) {
        std::optional<int64_t> online;
        if (r && r->type == REDIS_REPLY_STRING) online = online_replicas(std::string_view(r->str, r->len));
        done(online ? *online : -1);
    });
}

}  // namespace pushd
