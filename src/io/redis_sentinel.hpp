// Redis.Mode sentinel: which server is the master, as the sentinels say.
//
// One link to one sentinel at a time (each connect attempt tries the next
// in Redis.Sentinels), asking `SENTINEL get-master-addr-by-name` when it
// comes up and then every kPollMs. When the answer changes (a failover),
// on_master_changed runs: the data links retarget (drop a connection to
// the old master and connect to the new one at once), and the links check
// ROLE on every connect, so a demoted master is never used.
//
// Polling instead of subscribing to +switch-master: our links answer one
// reply per command, and a subscribed connection pushes many; a poll each
// kPollMs finds a switch within that time of the sentinels' decision,
// inside the contract's 5 s, and needs no second code path. A data link
// that drops also asks at once (ask_now), so an outage is not waited out.
#pragma once

#include "core/metrics.hpp"
#include "io/redis_link.hpp"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pushd {

class RedisSentinel {
public:
    // Each sentinel's "host:port" (validated by the configuration).
    RedisSentinel(uv_loop_t* loop, std::vector<std::string> sentinels, std::string master_name,
                  RedisCounters* counters);
    ~RedisSentinel();
    RedisSentinel(const RedisSentinel&) = delete;
    RedisSentinel& operator=(const RedisSentinel&) = delete;

    void start();
    // As RedisLink::stop: the loop must run afterwards before destruction.
    void stop();

    // The master's address, when the sentinels have named one.
    bool master(std::string* host, int* port) const;
    // "host:port" of the master, or "".
    std::string master_text() const;
    // True while a sentinel answers.
    bool up() const { return link_ && link_->up(); }

    // Asks the sentinel now (a data link lost its connection).
    void ask_now();

    // The master changed (not called for the first one found).
    std::function<void()> on_master_changed;

    // Milliseconds between two questions to the sentinel.
    static constexpr uint64_t kPollMs = 1000;

private:
    static void on_poll_timer(uv_timer_t* t);
    void ask();
    void answered(const redisReply* reply);

    uv_loop_t* loop_;
    std::vector<std::string> sentinels_;
    std::string master_name_;
    RedisCounters* counters_;
    size_t next_ = 0;  // the sentinel the next connect attempt tries
    std::unique_ptr<RedisLink> link_;
    std::string host_;
    int port_ = 0;
    bool asking_ = false;
    uv_timer_t poll_timer_{};
    bool timer_open_ = false;
};

}  // namespace pushd
