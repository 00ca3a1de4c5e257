#include "io/redis_commands.hpp"

namespace pushd {

void RedisCommands::command(const std::vector<std::string_view>& argv, RedisLink::Callback cb, uint64_t timeout_ms) {
    if (link_) {
        link_->command(argv, std::move(cb), timeout_ms);
        return;
    }
    cluster_->command(
        argv, [cb = std::move(cb)](const redisReply* r, std::string_view error, RedisLink*) { cb(r, error); },
        timeout_ms);
}

void RedisCommands::command_via(const std::vector<std::string_view>& argv, RedisCluster::Callback cb,
                                std::string_view route_key) {
    if (cluster_) {
        if (route_key.empty())
            cluster_->command(argv, std::move(cb));
        else
            cluster_->command(route_key, argv, std::move(cb));
        return;
    }
    RedisLink* link = link_;
    link_->command(argv, [cb = std::move(cb), link](const redisReply* r, std::string_view error) {
        cb(r, error, r ? link : nullptr);
    });
}

bool RedisCommands::up() const { return link_ ? link_->up() : cluster_->up(); }

std::string RedisCommands::reason() const { return link_ ? link_->reason() : cluster_->reason(); }

}  // namespace pushd
