// Where the store, the bus's inbox writes and presence send their
// commands: the one commands link (Redis.Mode single and sentinel), or the
// cluster router, which sends each command to the master of its key's slot
// (Redis.Mode cluster). The same calls either way, so the callers do not
// know the mode.
#pragma once

#include "io/redis_cluster.hpp"
#include "io/redis_link.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

class RedisCommands {
public:
    explicit RedisCommands(RedisLink* link) : link_(link) {}
    explicit RedisCommands(RedisCluster* cluster) : cluster_(cluster) {}

    // Sends `argv`, routed in cluster mode by its key (command_key).
    void command(const std::vector<std::string_view>& argv, RedisLink::Callback cb, uint64_t timeout_ms = 0);
    // The same with the link that answered (nullptr when none did): what a
    // WAIT confirming the command must be sent on. A non-empty `route_key`
    // routes instead of the command's own key (a script that builds its
    // key names itself: presence).
    void command_via(const std::vector<std::string_view>& argv, RedisCluster::Callback cb,
                     std::string_view route_key = {});

    // Up: the link is, or every slot has a master whose link is.
    bool up() const;
    // Why not ("" when up).
    std::string reason() const;
    RedisCluster* cluster() const { return cluster_; }
    RedisLink* link() const { return link_; }

private:
    RedisLink* link_ = nullptr;
    RedisCluster* cluster_ = nullptr;
};

}  // namespace pushd
