// Redis.Mode cluster: commands routed to the master that serves their
// key's slot, over one RedisLink per master.
//
// The slot map comes from CLUSTER SLOTS, asked of any reachable node (the
// seeds of Redis.Nodes first, then every node the map named): at start,
// after a MOVED, when a node's link goes down, and every kRefreshMs.
// A MOVED answer patches the map at once (the full map follows) and the
// command is sent again to the named node; an ASK answer sends ASKING and
// the command to the named node (the map is kept: the slot is still
// migrating). At most kMaxRedirects redirects per command, then the
// command fails ("too many redirects").
//
// A command whose slot has no master with a link that is up fails at once
// (callback with nullptr and the reason), like a link that is down; but
// one for a node whose link was just created (a new master after a
// failover, a MOVED or an ASK to a node not linked before) waits for that
// link's first connect, at most base.connect_timeout_ms.
#pragma once

#include "core/cluster_slots.hpp"
#include "core/metrics.hpp"
#include "io/redis_link.hpp"

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

class RedisCluster {
public:
    // Like RedisLink::Callback, plus the link that gave the answer (nullptr
    // when none did): a WAIT that must confirm the write goes on it.
    using Callback = std::function<void(const redisReply* reply, std::string_view error, RedisLink* via)>;

    static constexpr uint64_t kRefreshMs = 5000;
    static constexpr int kMaxRedirects = 5;
    // Links at most (masters a map may name; more are refused and logged).
    static constexpr size_t kMaxNodes = 1000;

    // `base` gives pass, db (must be 0), timeouts and ping interval for every
    // node link; `seeds` are "host:port". Everything must outlive the cluster.
    RedisCluster(uv_loop_t* loop, RedisLinkOptions base, std::vector<std::string> seeds, RedisCounters* counters);
    ~RedisCluster();
    RedisCluster(const RedisCluster&) = delete;
    RedisCluster& operator=(const RedisCluster&) = delete;

    void start();
    // As RedisLink::stop: the loop must run afterwards before destruction.
    void stop();

    // Routes by the slot of `key`.
    void command(std::string_view key, const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms = 0);
    // Routes by command_key(argv) (any master when it has none).
    void command(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms = 0);

    // Every slot has a master whose link is up.
    bool up() const;
    // Why not ("slot 5000 has no master", "127.0.0.1:7001: Connection
    // refused"); "" when up.
    std::string reason() const;
    // "host:port" of the master serving `slot` ("" when none known).
    const std::string& master_of(uint16_t slot) const { return map_.master_of(slot); }
    const SlotMap& map() const { return map_; }
    // The masters that serve at least one slot, in slot order.
    const std::vector<std::string>& masters_in_use() const { return owners_; }
    // The link to the master of `slot`, nullptr when none (not started).
    RedisLink* link_for(uint16_t slot);
    // Each node link (for scripts to load, health and metrics).
    std::vector<RedisLink*> links();
    // Ask for the map now (coalesced with one in flight).
    void refresh();

    // A node's link came up (load scripts on it, count its replicas).
    std::function<void(RedisLink& link)> on_node_up;
    // The map changed (bus shard readers retarget).
    std::function<void()> on_map_changed;
    // A link to a node that serves no slot any more was stopped (its
    // commands in flight have failed); it is freed later: forget it.
    std::function<void(RedisLink& link)> on_link_retired;

    // Counters for /metrics: MOVED and ASK redirects followed, maps that
    // changed a slot's master.
    uint64_t moved() const { return moved_; }
    uint64_t asks() const { return asks_; }
    uint64_t map_changes() const { return map_changes_; }

private:
    // One command on its way: its own copy of the arguments (a redirect
    // sends it again after the caller's have gone).
    struct Request;
    static void on_tick(uv_timer_t* t);
    void tick();
    void route(const std::shared_ptr<Request>& req);
    void answered(const std::shared_ptr<Request>& req, const std::string& address, RedisLink* link,
                  const redisReply* reply, std::string_view error);
    // The link to `address`, created (and started) on demand; nullptr when
    // stopped or kMaxNodes links exist.
    RedisLink* link_at(const std::string& address);
    RedisLink* any_up_link(std::string* address);
    // The reply of CLUSTER SLOTS asked of `host` (empty hosts in it mean that one).
    void slots_answered(const redisReply* reply, const std::string& host);
    void apply(SlotMap next, const std::vector<SlotRange>& ranges);
    void map_changed();
    void retire_unused();
    // The link to `address` came up for the first time: its waiting
    // commands go. Waits past the connect timeout fail (from the tick).
    void release(const std::string& address);
    void expire_waits(uint64_t now);
    void fail_waiting(std::vector<std::shared_ptr<Request>>& requests, const std::string& why);
    bool probe_resolve(std::string* host, int* port);

    uv_loop_t* loop_;
    RedisLinkOptions base_;
    std::vector<std::string> seeds_;
    RedisCounters* counters_;
    SlotMap map_;
    bool have_map_ = false;
    std::vector<std::string> owners_;  // masters that serve at least one slot
    std::map<std::string, std::unique_ptr<RedisLink>> links_;
    // Links created and never up yet (-> when created), and the commands
    // waiting for them.
    std::map<std::string, uint64_t> fresh_;
    std::map<std::string, std::vector<std::shared_ptr<Request>>> waiting_;
    // Links stopped because their node serves no slot any more: freed two
    // ticks later (their timers close asynchronously).
    std::vector<std::unique_ptr<RedisLink>> retired_, retired_old_;
    // The map link: asks CLUSTER SLOTS of any node (seeds, then the nodes
    // the map named), the next one at each connect attempt.
    std::unique_ptr<RedisLink> probe_;
    std::vector<std::string> candidates_;
    size_t next_candidate_ = 0;
    std::string probe_address_;
    uv_timer_t timer_{};
    bool timer_open_ = false;
    bool started_ = false, stopped_ = false;
    bool refreshing_ = false, refresh_again_ = false, refresh_wanted_ = false;
    uint64_t last_refresh_ms_ = 0;
    uint64_t moved_ = 0, asks_ = 0, map_changes_ = 0;
};

/* Reads a CLUSTER SLOTS reply; false when it has another shape. A node
 * named with an empty host (Redis does so when it does not know its own
 * address) is given `asked_host`, the host of the node asked; one named
 * "?" (unknown endpoint) is left out. */
bool redis_read_slots(const redisReply* reply, std::vector<SlotRange>& out, const std::string& asked_host = "");

}  // namespace pushd
