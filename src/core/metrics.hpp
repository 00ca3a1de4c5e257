// Counters and gauges, and their Prometheus text exposition (format 0.0.4).
//
// Hot paths increment plain integer fields of ServerCounters (no lookups, no
// locks: one instance is one thread). /metrics turns a snapshot of them into
// text through a table, so adding a metric is a field plus a table row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pushd {

// What the process reads from /proc; filled by io, rendered by core.
struct ProcessStats {
    double cpu_seconds = 0;
    uint64_t resident_bytes = 0;
    uint64_t virtual_bytes = 0;
    uint64_t open_fds = 0;
    uint64_t max_fds = 0;
    double start_time_seconds = 0;  // since the Unix epoch
};

// The two Redis connections of an instance (io/redis_link), and how a
// command ended: answered, answered with an error, or not answered (failed
// fast while the link was down or too busy, lost with the connection, or
// timed out).
// sentinel: Redis.Mode sentinel only (the link that asks the sentinels).
enum class RedisLinkId : uint8_t { commands, bus, sentinel, count };
enum class RedisResult : uint8_t { ok, error, failed, count };
inline constexpr size_t kRedisLinks = static_cast<size_t>(RedisLinkId::count);
inline constexpr size_t kRedisResults = static_cast<size_t>(RedisResult::count);

// What the Redis links, the store and the bus reader count. Every field
// only ever grows.
struct RedisCounters {
    uint64_t commands[kRedisLinks][kRedisResults] = {};
    uint64_t connects[kRedisLinks] = {};     // links established (AUTH/SELECT done)
    uint64_t link_losses[kRedisLinks] = {};  // established links that went down
    uint64_t failovers = 0;                  // sentinel: the master's address changed; cluster: the slot map did
    uint64_t bus_entries = 0;                // group messages read from the bus stream
    uint64_t notify_entries = 0;             // entries read from the notify stream
    uint64_t malformed_entries = 0;          // bus/notify entries skipped as malformed
    uint64_t bus_slices = 0;                 // slices of bus/notify entries delivered (one flush each)
    uint64_t bus_holds = 0;                  // slices held back under load to carry more (BusCoalescer)
    uint64_t inbox_stored = 0;               // inbox entries this instance wrote
    uint64_t inbox_already = 0;              // inbox writes refused: another instance wrote it first
    uint64_t inbox_dropped = 0;              // inbox writes given up (queue full, refused by Redis)
};

// Why a WebSocket handshake was refused (core/access.hpp gives the order).
enum class HandshakeRefusal : uint8_t { none, blacklist, draining, path, per_ip, capacity, origin, token, count };
inline constexpr size_t kHandshakeRefusals = static_cast<size_t>(HandshakeRefusal::count);

// Monotonic event counts of one instance. Every field only ever grows.
struct ServerCounters {
    uint64_t ws_connections_opened = 0;
    uint64_t ws_connections_closed = 0;
    uint64_t ws_handshakes_refused[kHandshakeRefusals] = {};  // by reason; slot none stays 0
    uint64_t blocked_closes = 0;  // 4003: open connections whose address a reload blacklisted
    uint64_t http_requests = 0;
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    uint64_t batched_sends = 0;  // writes made through io_uring (io/send_batch)
    uint64_t send_submits = 0;   // io_uring submissions carrying them
    RedisCounters redis;
};

// Request types counted on the way in ("malformed": frames that could not
// be read as a request), and frame types on the way out.
enum class InType : uint8_t { ping, auth, send_message, join_group, leave_group, mark_read, malformed, count };
enum class OutType : uint8_t { pong, auth_success, auth_failed, ack, error, new_message, notification, count };
inline constexpr size_t kInTypes = static_cast<size_t>(InType::count);
inline constexpr size_t kOutTypes = static_cast<size_t>(OutType::count);
// Indexed by AuthError (core/auth.hpp); slot 0 (none) stays 0.
inline constexpr size_t kAuthErrorSlots = 10;

// What the session logic counts (core/hub). Every field only ever grows.
struct ProtocolCounters {
    uint64_t in[kInTypes] = {};
    uint64_t out[kOutTypes] = {};
    uint64_t auth_ok = 0;
    uint64_t auth_failed[kAuthErrorSlots] = {};
    uint64_t auth_timeouts = 0;         // closed: not authenticated within AuthTimeout
    uint64_t token_expiries = 0;        // closed: token expired while connected
    uint64_t auth_conflicts = 0;        // auth as another user: 409
    uint64_t bytes_out = 0;             // WebSocket frame bytes handed to the socket
    uint64_t fanout_deliveries = 0;     // new_message/notification frames queued to a session
    uint64_t slow_consumer_closes = 0;  // 4008
    uint64_t sessions_replaced = 0;     // 4009: oldest session of a user over MaxSessionsPerUser
    uint64_t protocol_closes = 0;       // 1003 binary, 1009 too big, 1007 invalid UTF-8
    uint64_t auto_joined = 0;           // subscriptions made by Groups.AutoJoin
    uint64_t auto_join_failures = 0;    // AutoJoin group sets that could not be read (then retried)
    uint64_t inbox_replay_retries = 0;  // inbox replays (auth with since) asked again after an outage
    uint64_t heartbeat_closes = 0;      // 1001: silent for Heartbeat.Timeout
    uint64_t deflate_messages = 0;      // frames compressed (once each, shared by recipients)
    uint64_t deflate_bytes_in = 0;      // their payload bytes before compression
    uint64_t deflate_bytes_out = 0;     // and after
    uint64_t rate_limited = 0;          // requests refused with 429 (Limits.MessagesPerSecond)
    uint64_t rate_limit_closes = 0;     // 1008: connections flooding at 10x the rate
};

// Current levels, computed when /metrics or /stats is asked for.
struct ServerGauges {
    uint64_t connections = 0;   // open WebSocket connections
    uint64_t online_users = 0;  // distinct authenticated users
    uint64_t groups = 0;        // groups with at least one local subscriber
    double uptime_seconds = 0;
    bool draining = false;            // shutting down
    uint64_t queued_bytes = 0;        // output queued in pushd, not yet written to sockets
    uint64_t frames_live = 0;         // shared frames allocated and not yet freed (core/frame)
    uint64_t frame_bytes_live = 0;    // their allocated bytes
    bool redis_up[kRedisLinks] = {};  // each Redis link established
    // The links this instance uses (the sentinel link only in sentinel mode).
    bool redis_used[kRedisLinks] = {true, true, false};
    std::string redis_master;    // sentinel mode: the master in use ("host:port"), "" while unknown;
                                 // cluster mode: the masters of the slot map, comma-separated
    bool cluster = false;        // Redis.Mode cluster
    uint64_t cluster_moved = 0;  // MOVED redirects followed
    uint64_t cluster_asks = 0;   // ASK redirects followed
    double bus_lag_ms = 0;       // now minus the time of the newest bus/notify entry read
    uint64_t inbox_queue = 0;    // inbox writes waiting for Redis
    // Redis.WaitReplicas > 0: online replicas last counted (-1: unknown),
    // WAITs sent (both links) and those that fell short of N replicas.
    bool wait_used = false;
    int64_t replicas_online = -1;
    uint64_t waits = 0;
    uint64_t waits_unconfirmed = 0;
};

// One sample line of a family: `labels` is the inside of {...} already
// escaped (empty for none).
struct MetricSample {
    std::string labels;
    double value = 0;
};

enum class MetricType { counter, gauge };

struct MetricFamily {
    std::string name;
    std::string help;
    MetricType type = MetricType::gauge;
    std::vector<MetricSample> samples;
};

// Escapes a label value per the exposition format (backslash, quote, newline).
std::string prometheus_escape_label(const std::string& value);

// Renders families as exposition text: # HELP, # TYPE, then one line per
// sample; integral values print without a decimal point.
std::string render_prometheus(const std::vector<MetricFamily>& families);

// The families of one instance: process_*, pushd_* gauges and counters, and
// pushd_build_info{version}.
std::vector<MetricFamily> server_metric_families(const ProcessStats& process, const ServerGauges& gauges,
                                                 const ServerCounters& counters, const ProtocolCounters& protocol);

// The /stats JSON object: {"online_users", "connections", "groups",
// "uptime_s", ...counters}; one line, no trailing newline.
std::string render_stats_json(const ServerGauges& gauges, const ServerCounters& counters,
                              const ProtocolCounters& protocol);

// Label values for InType / OutType ("send_message", "new_message", ...)
// and HandshakeRefusal ("blacklist", "per_ip", ...).
const char* in_type_name(InType type);
const char* refusal_name(HandshakeRefusal refusal);
const char* out_type_name(OutType type);

}  // namespace pushd
