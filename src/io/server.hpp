// The one struct a running pushd instance hangs everything off: its
// configuration, loop, lws context, session logic and counters. No globals:
// several instances could run on several threads, each with its own Server.
#pragma once

#include "core/access.hpp"
#include "core/auth.hpp"
#include "core/config.hpp"
#include "core/heap_trim.hpp"
#include "core/hub.hpp"
#include "core/metrics.hpp"
#include "io/redis_bus.hpp"
#include "io/redis_cluster.hpp"
#include "io/redis_commands.hpp"
#include "io/redis_link.hpp"
#include "io/redis_presence.hpp"
#include "io/redis_sentinel.hpp"
#include "io/redis_store.hpp"
#include "io/ws_write.hpp"

#include <libwebsockets.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace pushd {

struct Server {
    Config config;
    std::string config_path;
    EnvLookup env;

    uv_loop_t* loop = nullptr;
    lws_context* lws = nullptr;
    // Our own listener when Host is an address (SO_REUSEPORT with
    // ReusePort; -1: Host is a name and lws listens itself), polled on the
    // loop; accepted connections are adopted by `vhost` (io/ws_server).
    int listen_fd = -1;
    uv_poll_t listen_poll{};
    lws_vhost* vhost = nullptr;
    // The HTTP API's vhost on Api.Listen (io/api_server; nullptr: off), and
    // its requests being carried out, by id -> their connection (an entry
    // leaves when answered or when the connection closes first).
    lws_vhost* api_vhost = nullptr;
    uint64_t api_next_request = 0;
    std::unordered_map<uint64_t, struct lws*> api_waiting;

    // Redis: one link for commands (Redis.Mode cluster: the router, one
    // link per master), the links for the blocking bus reads (one; in
    // cluster mode one per bus shard and one for notify); the store (the
    // hub's storage seam) and the bus reader on top of them.
    std::unique_ptr<RedisLink> redis_commands_link;
    std::unique_ptr<RedisCluster> redis_cluster;
    std::unique_ptr<RedisCommands> redis_commands;
    std::vector<std::unique_ptr<RedisLink>> redis_bus_links;
    bool redis_commands_up = false;  // cluster mode: up when last looked (commands_up runs on the change)
    std::unique_ptr<RedisStore> redis_store;
    std::unique_ptr<RedisBus> redis_bus;
    // Presence across instances (Groups.Presence), on the commands link.
    std::unique_ptr<RedisPresence> redis_presence;
    // Redis.Mode sentinel: who the master is (nullptr in single mode).
    std::unique_ptr<RedisSentinel> redis_sentinel;
    std::string instance_key;            // this instance's cluster-view key
    uint64_t instance_published_ms = 0;  // uv_now of the last publish (0: never)
    std::unique_ptr<Hub> hub;
    // --no-io-uring clears it (main); read once by ws_write_init.
    bool io_uring_allowed = true;
    // --bus-coalesce (main): when bus entries may wait to share a flush.
    CoalesceMode bus_coalesce = CoalesceMode::automatic;
    WritePath writes;  // io/ws_write: the end-of-iteration flush

    // WebSocket connections lws still holds (from ESTABLISHED until lws
    // frees them: after CLOSED, lws may still be flushing the close frame).
    // Shutdown waits for this to reach zero, not only for the sessions.
    size_t ws_open = 0;

    // Security.* parsed (rebuilt at each reload) and the open WebSocket
    // connections per client address (entries erased at zero, so at most
    // one per open connection).
    AccessPolicy access;
    std::unordered_map<IpAddr, uint32_t, IpAddrHash> per_ip;
    // Accepted connections not upgraded yet and not known to be plain HTTP
    // (ConnData::pending), in all and per peer address (trusted proxies
    // excepted: their clients are known only from the request).
    size_t pending = 0;
    // Connections accepted since start, and when the heap was last trimmed
    // (core/heap_trim: the handshake buffers' pages go back to the kernel).
    uint64_t accepted = 0;
    HeapTrimState heap_trim;
    std::unordered_map<IpAddr, uint32_t, IpAddrHash> pending_per_ip;

    ServerCounters counters;
    uint64_t start_ms = 0;  // uv_now at start

    bool draining = false;  // SIGTERM/SIGINT seen: closing everything
    bool stopped = false;   // the loop has been asked to stop
    uv_signal_t sig_term{};
    uv_signal_t sig_int{};
    uv_signal_t sig_hup{};
    uv_timer_t drain_timer{};
    uv_timer_t tick_timer{};
    uv_timer_t redis_timer{};         // bus retries, inbox retries, cluster view
    uv_timer_t watchdog_timer{};      // WATCHDOG=1 to systemd (WatchdogSec=), when asked for
    uv_check_t bus_check{};           // delivers the bus's next slice after the sockets were serviced
    uv_idle_t bus_idle{};             // keeps the loop from blocking while slices are left
    uv_timer_t bus_hold_timer{};      // ends a hold of bus entries (coalescing under load)
    uint64_t bus_sample_ns = 0;       // uv_hrtime and the loop's idle time at the last delivery:
    uint64_t bus_sample_idle_ns = 0;  // the loop's busy share between deliveries
    lws_retry_bo_t retry_policy{};    // heartbeat policy; must outlive the context
};

// Creates the Redis links, the store on them, the hub and the bus reader
// for `server` (config and loop must be set). Connects nothing yet.
void server_init_logic(Server& server);

// Starts the Redis links (asynchronously: the instance serves, and /health
// says 503, until Redis answers).
void server_start_redis(Server& server);

// Once a second: bus and inbox retries, and every few seconds this
// instance's /stats in the cluster view (SET <prefix>instance:... EX 15).
void server_redis_tick(Server& server);

// Shutdown begins: removes this instance from the cluster view.
void server_redis_draining(Server& server);

// Drops the Redis connections (commands in flight fail) and closes their
// timers; the loop must run afterwards before the objects are destroyed.
void server_stop_redis(Server& server);

// Success when both Redis links are up; else why the instance is degraded
// ("redis: Connection refused").
Status server_redis_status(const Server& server);

// Applies Security.* of server.config (at start and after a reload): parses
// the policy new handshakes are checked against and closes, with 4003,
// open connections whose client address is now blacklisted. Walks every
// session: reload time only. Returns how many it closed.
size_t server_apply_security(Server& server);

// Called when lws has freed a connection (and when the presence leave is
// answered): stops the loop once draining, no WebSocket connection is left
// and the presence leave is done.
void server_connection_gone(Server& server);

// Stops the loop (idempotent).
void server_stop(Server& server);

// Gauges of this instance now (connections, users, groups, uptime, queue).
ServerGauges server_gauges(const Server& server);

// Milliseconds since the Unix epoch (wall clock, for timestamps and token exp).
int64_t wall_ms();

}  // namespace pushd
