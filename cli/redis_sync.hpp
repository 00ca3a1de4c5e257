// A blocking Redis connection for pushctl (hiredis synchronous API): the
// configured address, password and database, with a connect and reply
// timeout so an unreachable Redis is an error, not a hang.
#pragma once

#include "core/config.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace pushctl {

struct Context;

struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisSync {
public:
    // Connects to config.redis (AUTH, SELECT). False with error() set on failure.
    bool connect(const pushd::RedisConfig& config, int timeout_ms = 3000);

    // Runs one command given as arguments. Returns nullptr with error() set
    // when the connection failed; a Redis error reply is returned as is
    // (type REDIS_REPLY_ERROR).
    Reply command(const std::vector<std::string>& args);

    const std::string& error() const { return error_; }

private:
    struct ContextDeleter {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    std::unique_ptr<redisContext, ContextDeleter> ctx_;
    std::string error_;
};

/* Connects to the Redis of the configuration `c` names (loading it first).
 * nullptr after recording the error in `c` (2 for a bad configuration, 1
 * when Redis cannot be reached). */
std::unique_ptr<RedisSync> open_redis(Context& c, int timeout_ms = 3000);

}  // namespace pushctl
