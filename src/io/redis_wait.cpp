#include "io/redis_wait.hpp"

#include <hiredis/hiredis.h>

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

void redis_count_replicas(RedisLink* link, std::function<void(int64_t online)> done) {
    link->command({"INFO", "replication"}, [done = std::move(done)](const redisReply* r, std::string_view) {
        std::optional<int64_t> online;
        if (r && r->type == REDIS_REPLY_STRING) online = online_replicas(std::string_view(r->str, r->len));
        done(online ? *online : -1);
    });
}

}  // namespace pushd
