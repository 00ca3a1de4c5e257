// A blocking Redis connection for pushctl (hiredis synchronous API): the
// configured address, password and database, with a connect and reply
// timeout so an unreachable Redis is an error, not a hang. In Redis.Mode
// cluster, one connection per node, commands routed by their key's slot
// (redis_cluster_sync.hpp).
#pragma once

#include "core/config.hpp"
#include "redis_cluster_sync.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace pushctl {

struct Context;

class RedisSync {
public:
    // Connects to config.redis (AUTH, SELECT); in mode cluster, reads the
    // slot map from the first of Redis.Nodes that answers. False with
    // error() set on failure.
    bool connect(const pushd::RedisConfig& config, int timeout_ms = 3000);

    // Runs one command given as arguments. Returns nullptr with error() set
    // when the connection failed; a Redis error reply is returned as is
    // (type REDIS_REPLY_ERROR). In mode cluster it goes to the master of
    // its key's slot (MOVED and ASK followed).
    Reply command(const std::vector<std::string>& args);

    // The masters ("host:port") to visit for a command over every key (SCAN):
    // in mode cluster those that serve slots, otherwise Redis.Host alone.
    std::vector<std::string> masters() const;

    // Runs one command on the node `address` (one of masters()), no
    // redirect followed. Outside mode cluster `address` is ignored.
    Reply command_on(const std::string& address, const std::vector<std::string>& args);

    // Redis.Mode cluster: keys of different slots are on different
    // masters (no transaction spans them).
    bool cluster() const { return cluster_ != nullptr; }

    const std::string& error() const { return cluster_ ? cluster_->error() : error_; }

private:
    struct ContextDeleter {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    std::unique_ptr<redisContext, ContextDeleter> ctx_;
    std::unique_ptr<ClusterSync> cluster_;  // mode cluster
    std::string host_;                      // Redis.Host
    std::string error_;
};

/* Connects to the Redis of the configuration `c` names (loading it first).
 * nullptr after recording the error in `c` (2 for a bad configuration, 1
 * when Redis cannot be reached). */
std::unique_ptr<RedisSync> open_redis(Context& c, int timeout_ms = 3000);

}  // namespace pushctl
