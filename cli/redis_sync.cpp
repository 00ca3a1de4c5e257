#include "redis_sync.hpp"

#include "context.hpp"

#include <sys/time.h>

namespace pushctl {

bool RedisSync::connect(const pushd::RedisConfig& config, int timeout_ms) {
    if (config.mode == "cluster") {
        cluster_ = std::make_unique<ClusterSync>(config.nodes, config.pass, timeout_ms);
        return cluster_->connect();
    }
    host_ = config.host;
    auto hp = pushd::parse_host_port(config.host);
    if (!hp) {
        error_ = "Redis.Host: expected host:port, got '" + config.host + "'";
        return false;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ctx_.reset(redisConnectWithTimeout(hp->host.c_str(), hp->port, tv));
    if (!ctx_ || ctx_->err) {
        error_ = "redis " + config.host + ": " + (ctx_ ? ctx_->errstr : "cannot allocate a context");
        return false;
    }
    redisSetTimeout(ctx_.get(), tv);
    auto check = [&](Reply r, const char* what) {
        if (!r) return false;
        if (r->type == REDIS_REPLY_ERROR) {
            error_ = std::string("redis ") + what + ": " + r->str;
            return false;
        }
        return true;
    };
    if (!config.pass.empty() && !check(command({"AUTH", config.pass}), "AUTH")) return false;
    if (config.db != 0 && !check(command({"SELECT", std::to_string(config.db)}), "SELECT")) return false;
    return true;
}

std::vector<std::string> RedisSync::masters() const {
    if (cluster_) return cluster_->masters();
    return {host_};
}

Reply RedisSync::command_on(const std::string& address, const std::vector<std::string>& args) {
    if (cluster_) return cluster_->command_on(address, args);
    return command(args);
}

Reply RedisSync::command(const std::vector<std::string>& args) {
    if (cluster_) return cluster_->command(args);
    if (!ctx_) {
        error_ = "not connected";
        return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) error_ = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "no reply");
    return r;
}

std::unique_ptr<RedisSync> open_redis(Context& c, int timeout_ms) {
    const pushd::Config* cfg = c.config();
    if (!cfg) return nullptr;
    auto redis = std::make_unique<RedisSync>();
    if (!redis->connect(cfg->redis, timeout_ms)) {
        c.fail(kFailed, redis->error());
        return nullptr;
    }
    return redis;
}

}  // namespace pushctl
