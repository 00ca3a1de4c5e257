#include "core/metrics.hpp"

#include <cJSON.h>

#include <cmath>
#include <cstdio>
#include <memory>

namespace pushd {
namespace {

void append_value(std::string& out, double value) {
    char buf[64];
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
        std::snprintf(buf, sizeof buf, "%.0f", value);
        out += buf;
    } else {
        std::snprintf(buf, sizeof buf, "%.17g", value);
        out += buf;
    }
}

MetricFamily single(const char* name, const char* help, MetricType type, double value) {
    return MetricFamily{name, help, type, {MetricSample{"", value}}};
}

// Counter rows: name, help, field. Shared by /metrics and /stats.
template <class Counters>
struct Row {
    const char* metric;
    const char* stats_key;
    const char* help;
    uint64_t Counters::*field;
};
using CounterRow = Row<ServerCounters>;
using ProtocolRow = Row<ProtocolCounters>;

constexpr CounterRow kCounterRows[] = {
    {"pushd_ws_connections_opened_total", "connections_opened", "WebSocket connections accepted",
     &ServerCounters::ws_connections_opened},
    {"pushd_ws_connections_closed_total", "connections_closed", "WebSocket connections closed",
     &ServerCounters::ws_connections_closed},
    {"pushd_blocked_closes_total", "blocked_closes",
     "open connections closed with 4003 because a reload blacklisted their address", &ServerCounters::blocked_closes},
    {"pushd_http_requests_total", "http_requests", "plain HTTP requests served", &ServerCounters::http_requests},
    {"pushd_config_reloads_total", nullptr, "configuration reloads applied (SIGHUP)", &ServerCounters::reloads_ok},
    {"pushd_config_reload_failures_total", nullptr, "configuration reloads refused because the file was invalid",
     &ServerCounters::reloads_failed},
    {"pushd_batched_sends_total", nullptr, "socket writes made through io_uring, many per system call",
     &ServerCounters::batched_sends},
    {"pushd_send_submits_total", nullptr, "io_uring submissions carrying batched socket writes",
     &ServerCounters::send_submits},
};

constexpr const char* kRefusalNames[kHandshakeRefusals] = {"none",   "blacklist", "draining", "path",
                                                           "per_ip", "capacity",  "origin",   "token"};

constexpr const char* kInNames[kInTypes] = {"ping",        "auth",      "send_message", "join_group",
                                            "leave_group", "mark_read", "malformed"};
constexpr const char* kOutNames[kOutTypes] = {"pong",  "auth_success", "auth_failed", "ack",
                                              "error", "new_message",  "notification"};
// Labels of AuthError slots 1..8 (slot 0 is "none"), as auth_error_label gives them.
constexpr const char* kAuthFailNames[kAuthErrorSlots] = {nullptr,   "missing", "malformed", "alg",     "signature",
                                                         "expired", "nbf",     "no_exp",    "no_user", "revoked"};

constexpr ProtocolRow kProtocolRows[] = {
    {"pushd_auth_success_total", "auth_ok", "successful authentications", &ProtocolCounters::auth_ok},
    {"pushd_auth_timeouts_total", "auth_timeouts", "connections closed for not authenticating within Auth.AuthTimeout",
     &ProtocolCounters::auth_timeouts},
    {"pushd_token_expiries_total", "token_expiries", "connections closed because their token expired",
     &ProtocolCounters::token_expiries},
    {"pushd_auth_conflicts_total", "auth_conflicts", "auth as another user refused with 409",
     &ProtocolCounters::auth_conflicts},
    {"pushd_bytes_out_total", "bytes_out", "WebSocket bytes written to sockets", &ProtocolCounters::bytes_out},
    {"pushd_fanout_deliveries_total", "fanout_deliveries",
     "pushed messages (new_message, notification) queued to connections", &ProtocolCounters::fanout_deliveries},
    {"pushd_slow_consumer_closes_total", "slow_consumer_closes",
     "connections closed with 4008 for exceeding Limits.MaxQueueBytes", &ProtocolCounters::slow_consumer_closes},
    {"pushd_sessions_replaced_total", "sessions_replaced",
     "oldest sessions closed with 4009 over Limits.MaxSessionsPerUser", &ProtocolCounters::sessions_replaced},
    {"pushd_protocol_closes_total", "protocol_closes",
     "connections closed for binary frames, oversize or invalid UTF-8 messages", &ProtocolCounters::protocol_closes},
    {"pushd_auto_joined_total", "auto_joined", "group subscriptions made by Groups.AutoJoin after auth",
     &ProtocolCounters::auto_joined},
    {"pushd_auto_join_failures_total", "auto_join_failures",
     "AutoJoin group sets that could not be read at auth (storage unavailable; read again later)",
     &ProtocolCounters::auto_join_failures},
    {"pushd_inbox_replay_retries_total", "inbox_replay_retries",
     "inbox replays (auth with since) asked again because storage was unavailable",
     &ProtocolCounters::inbox_replay_retries},
    {"pushd_heartbeat_closes_total", "heartbeat_closes",
     "connections closed with 1001 after Heartbeat.Timeout seconds without a frame from the client",
     &ProtocolCounters::heartbeat_closes},
    {"pushd_deflate_messages_total", "deflate_messages",
     "frames compressed for permessage-deflate connections (once per frame, shared by its recipients)",
     &ProtocolCounters::deflate_messages},
    {"pushd_deflate_bytes_in_total", "deflate_bytes_in", "payload bytes of the compressed frames before compression",
     &ProtocolCounters::deflate_bytes_in},
    {"pushd_deflate_bytes_out_total", "deflate_bytes_out", "payload bytes of the compressed frames after compression",
     &ProtocolCounters::deflate_bytes_out},
    {"pushd_rate_limited_total", "rate_limited",
     "requests refused with 429 over Limits.MessagesPerSecond / Limits.Burst", &ProtocolCounters::rate_limited},
    {"pushd_rate_limit_closes_total", "rate_limit_closes",
     "connections closed with 1008 for sending at 10x Limits.MessagesPerSecond", &ProtocolCounters::rate_limit_closes},
};

constexpr const char* kRedisLinkNames[kRedisLinks] = {"commands", "bus", "sentinel"};
constexpr const char* kRedisResultNames[kRedisResults] = {"ok", "error", "failed"};

// Sentinel and cluster mode: the master (or slot map) changes and the
// redirects followed.
void failover_families(std::vector<MetricFamily>& f, const ServerGauges& g, const RedisCounters& r) {
    f.push_back(single("pushd_redis_failovers_total",
                       "sentinel mode: changes of the master in use; cluster mode: changes of the slot map",
                       MetricType::counter, static_cast<double>(r.failovers)));
    if (!g.cluster) return;
    f.push_back(MetricFamily{"pushd_redis_redirects_total",
                             "cluster mode: MOVED and ASK redirects followed",
                             MetricType::counter,
                             {MetricSample{"kind=\"moved\"", static_cast<double>(g.cluster_moved)},
                              MetricSample{"kind=\"ask\"", static_cast<double>(g.cluster_asks)}}});
}

void redis_families(std::vector<MetricFamily>& f, const ServerGauges& g, const RedisCounters& r) {
    MetricFamily up{"pushd_redis_up", "1 while the Redis link is established, by link", MetricType::gauge, {}};
    MetricFamily cmds{"pushd_redis_commands_total",
                      "Redis commands by link and result (failed: not answered: link down, busy, lost, timed out)",
                      MetricType::counter,
                      {}};
    MetricFamily connects{"pushd_redis_connects_total", "Redis links established, by link", MetricType::counter, {}};
    MetricFamily losses{
        "pushd_redis_link_losses_total", "established Redis links that went down, by link", MetricType::counter, {}};
    for (size_t l = 0; l < kRedisLinks; l++) {
        if (!g.redis_used[l]) continue;
        const std::string link = std::string("link=\"") + kRedisLinkNames[l] + "\"";
        up.samples.push_back({link, g.redis_up[l] ? 1.0 : 0.0});
        for (size_t k = 0; k < kRedisResults; k++) {
            cmds.samples.push_back(
                {link + ",result=\"" + kRedisResultNames[k] + "\"", static_cast<double>(r.commands[l][k])});
        }
        connects.samples.push_back({link, static_cast<double>(r.connects[l])});
        losses.samples.push_back({link, static_cast<double>(r.link_losses[l])});
    }
    f.push_back(std::move(up));
    f.push_back(std::move(cmds));
    f.push_back(std::move(connects));
    f.push_back(std::move(losses));
    failover_families(f, g, r);
    f.push_back(MetricFamily{"pushd_redis_stream_entries_total",
                             "entries read from Redis streams, by stream",
                             MetricType::counter,
                             {MetricSample{"stream=\"bus\"", static_cast<double>(r.bus_entries)},
                              MetricSample{"stream=\"notify\"", static_cast<double>(r.notify_entries)}}});
    f.push_back(single("pushd_redis_malformed_entries_total",
                       "bus and notify entries skipped as malformed (missing fields, bad data, unknown target)",
                       MetricType::counter, static_cast<double>(r.malformed_entries)));
    f.push_back(single("pushd_redis_bus_slices_total",
                       "slices of bus and notify entries delivered, each followed by one flush of the writes",
                       MetricType::counter, static_cast<double>(r.bus_slices)));
    f.push_back(single("pushd_redis_bus_holds_total",
                       "slices held back under load so that they carry more entries (coalescing)", MetricType::counter,
                       static_cast<double>(r.bus_holds)));
    f.push_back(single("pushd_redis_bus_lag_ms",
                       "milliseconds between the newest bus or notify entry read and its id's time", MetricType::gauge,
                       g.bus_lag_ms));
    f.push_back(MetricFamily{"pushd_redis_inbox_writes_total",
                             "notifications for users' inboxes, by outcome (already: another instance stored it)",
                             MetricType::counter,
                             {MetricSample{"result=\"stored\"", static_cast<double>(r.inbox_stored)},
                              MetricSample{"result=\"already\"", static_cast<double>(r.inbox_already)},
                              MetricSample{"result=\"dropped\"", static_cast<double>(r.inbox_dropped)}}});
    f.push_back(single("pushd_redis_inbox_queue", "inbox writes waiting for Redis", MetricType::gauge,
                       static_cast<double>(g.inbox_queue)));
    if (!g.wait_used) return;
    f.push_back(single("pushd_redis_replicas_online", "Redis.WaitReplicas: replicas online (-1: not known)",
                       MetricType::gauge, static_cast<double>(g.replicas_online)));
    f.push_back(MetricFamily{"pushd_redis_waits_total",
                             "Redis.WaitReplicas: WAITs sent, by outcome (unconfirmed: fewer replicas in time)",
                             MetricType::counter,
                             {MetricSample{"result=\"confirmed\"", static_cast<double>(g.waits - g.waits_unconfirmed)},
                              MetricSample{"result=\"unconfirmed\"", static_cast<double>(g.waits_unconfirmed)}}});
}

uint64_t sum(const uint64_t* v, size_t n) {
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++) t += v[i];
    return t;
}

}  // namespace

const char* in_type_name(InType type) { return kInNames[static_cast<size_t>(type)]; }
const char* out_type_name(OutType type) { return kOutNames[static_cast<size_t>(type)]; }
const char* refusal_name(HandshakeRefusal refusal) { return kRefusalNames[static_cast<size_t>(refusal)]; }

std::string prometheus_escape_label(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string render_prometheus(const std::vector<MetricFamily>& families) {
    std::string out;
    out.reserve(families.size() * 128);
    for (const MetricFamily& f : families) {
        out += "# HELP ";
        out += f.name;
        out += ' ';
        for (char c : f.help) {  // HELP escapes backslash and newline only
            if (c == '\\')
                out += "\\\\";
            else if (c == '\n')
                out += "\\n";
            else
                out += c;
        }
        out += "\n# TYPE ";
        out += f.name;
        out += f.type == MetricType::counter ? " counter\n" : " gauge\n";
        for (const MetricSample& s : f.samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out += '{';
                out += s.labels;
                out += '}';
            }
            out += ' ';
            append_value(out, s.value);
            out += '\n';
        }
    }
    return out;
}

// The standard process_* families of Prometheus client libraries.
static void process_families(std::vector<MetricFamily>& f, const ProcessStats& process) {
    f.push_back(single("process_cpu_seconds_total", "user and system CPU time spent in seconds", MetricType::counter,
                       process.cpu_seconds));
    f.push_back(single("process_resident_memory_bytes", "resident memory size in bytes", MetricType::gauge,
                       static_cast<double>(process.resident_bytes)));
    f.push_back(single("process_virtual_memory_bytes", "virtual memory size in bytes", MetricType::gauge,
                       static_cast<double>(process.virtual_bytes)));
    f.push_back(single("process_open_fds", "number of open file descriptors", MetricType::gauge,
                       static_cast<double>(process.open_fds)));
    f.push_back(single("process_max_fds", "maximum number of open file descriptors", MetricType::gauge,
                       static_cast<double>(process.max_fds)));
    f.push_back(single("process_start_time_seconds", "start time of the process since the Unix epoch in seconds",
                       MetricType::gauge, process.start_time_seconds));
}

// The counters with a label: handshakes refused, messages in and out by
// type, auth failures by reason.
static void labelled_families(std::vector<MetricFamily>& f, const ServerCounters& counters,
                              const ProtocolCounters& protocol) {
    MetricFamily refused{"pushd_ws_handshakes_refused_total",
                         "WebSocket handshakes refused, by reason (the first check that failed)",
                         MetricType::counter,
                         {}};
    for (size_t i = 1; i < kHandshakeRefusals; i++) {
        refused.samples.push_back({std::string("reason=\"") + kRefusalNames[i] + "\"",
                                   static_cast<double>(counters.ws_handshakes_refused[i])});
    }
    f.push_back(std::move(refused));
    MetricFamily in{"pushd_messages_in_total", "client messages received, by request type", MetricType::counter, {}};
    for (size_t i = 0; i < kInTypes; i++) {
        in.samples.push_back({std::string("type=\"") + kInNames[i] + "\"", static_cast<double>(protocol.in[i])});
    }
    f.push_back(std::move(in));
    MetricFamily out{
        "pushd_messages_out_total", "server messages queued to connections, by type", MetricType::counter, {}};
    for (size_t i = 0; i < kOutTypes; i++) {
        out.samples.push_back({std::string("type=\"") + kOutNames[i] + "\"", static_cast<double>(protocol.out[i])});
    }
    f.push_back(std::move(out));
    MetricFamily failed{"pushd_auth_failures_total", "auth_failed replies, by reason", MetricType::counter, {}};
    for (size_t i = 1; i < kAuthErrorSlots; i++) {
        failed.samples.push_back(
            {std::string("reason=\"") + kAuthFailNames[i] + "\"", static_cast<double>(protocol.auth_failed[i])});
    }
    f.push_back(std::move(failed));
}

std::vector<MetricFamily> server_metric_families(const ProcessStats& process, const ServerGauges& gauges,
                                                 const ServerCounters& counters, const ProtocolCounters& protocol) {
    std::vector<MetricFamily> f;
    process_families(f, process);
    f.push_back(MetricFamily{
        "pushd_build_info", "pushd version", MetricType::gauge, {MetricSample{"version=\"" PUSHD_VERSION "\"", 1}}});
    f.push_back(single("pushd_up", "1 while the instance serves, 0 while it shuts down", MetricType::gauge,
                       gauges.draining ? 0 : 1));
    f.push_back(
        single("pushd_uptime_seconds", "seconds since the instance started", MetricType::gauge, gauges.uptime_seconds));
    f.push_back(single("pushd_connections", "open WebSocket connections", MetricType::gauge,
                       static_cast<double>(gauges.connections)));
    f.push_back(single("pushd_online_users", "distinct authenticated users on this instance", MetricType::gauge,
                       static_cast<double>(gauges.online_users)));
    f.push_back(single("pushd_groups", "groups with at least one subscriber on this instance", MetricType::gauge,
                       static_cast<double>(gauges.groups)));
    f.push_back(single("pushd_queued_bytes", "output queued in pushd, not yet written to sockets", MetricType::gauge,
                       static_cast<double>(gauges.queued_bytes)));
    f.push_back(single("pushd_frames_live", "shared frames allocated and not yet freed (queued, held or cached)",
                       MetricType::gauge, static_cast<double>(gauges.frames_live)));
    f.push_back(single("pushd_frame_bytes_live", "bytes allocated for those frames", MetricType::gauge,
                       static_cast<double>(gauges.frame_bytes_live)));
    for (const CounterRow& row : kCounterRows) {
        f.push_back(single(row.metric, row.help, MetricType::counter, static_cast<double>(counters.*row.field)));
    }
    labelled_families(f, counters, protocol);
    for (const ProtocolRow& row : kProtocolRows) {
        f.push_back(single(row.metric, row.help, MetricType::counter, static_cast<double>(protocol.*row.field)));
    }
    redis_families(f, gauges, counters.redis);
    return f;
}

std::string render_stats_json(const ServerGauges& gauges, const ServerCounters& counters,
                              const ProtocolCounters& protocol) {
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> obj(cJSON_CreateObject(), cJSON_Delete);
    cJSON* o = obj.get();
    cJSON_AddNumberToObject(o, "online_users", static_cast<double>(gauges.online_users));
    cJSON_AddNumberToObject(o, "connections", static_cast<double>(gauges.connections));
    cJSON_AddNumberToObject(o, "groups", static_cast<double>(gauges.groups));
    cJSON_AddNumberToObject(o, "uptime_s", std::floor(gauges.uptime_seconds));
    for (const CounterRow& row : kCounterRows) {
        if (row.stats_key) {
            cJSON_AddNumberToObject(o, row.stats_key, static_cast<double>(counters.*row.field));
        }
    }
    cJSON_AddNumberToObject(o, "handshakes_refused",
                            static_cast<double>(sum(counters.ws_handshakes_refused, kHandshakeRefusals)));
    cJSON_AddNumberToObject(o, "messages_in", static_cast<double>(sum(protocol.in, kInTypes)));
    cJSON_AddNumberToObject(o, "messages_out", static_cast<double>(sum(protocol.out, kOutTypes)));
    cJSON_AddNumberToObject(o, "auth_failed", static_cast<double>(sum(protocol.auth_failed, kAuthErrorSlots)));
    for (const ProtocolRow& row : kProtocolRows) {
        cJSON_AddNumberToObject(o, row.stats_key, static_cast<double>(protocol.*row.field));
    }
    cJSON_AddNumberToObject(o, "queued_bytes", static_cast<double>(gauges.queued_bytes));
    cJSON_AddNumberToObject(o, "frames_live", static_cast<double>(gauges.frames_live));
    cJSON_AddNumberToObject(o, "frame_bytes_live", static_cast<double>(gauges.frame_bytes_live));
    bool redis_up = true;
    for (size_t l = 0; l < kRedisLinks; l++) redis_up = redis_up && (gauges.redis_up[l] || !gauges.redis_used[l]);
    cJSON_AddNumberToObject(o, "redis_up", redis_up ? 1 : 0);
    if (gauges.redis_used[static_cast<size_t>(RedisLinkId::sentinel)] || gauges.cluster) {
        cJSON_AddStringToObject(o, "redis_master", gauges.redis_master.c_str());
        cJSON_AddNumberToObject(o, "redis_failovers", static_cast<double>(counters.redis.failovers));
    }
    if (gauges.cluster) {
        cJSON_AddNumberToObject(o, "redis_redirects", static_cast<double>(gauges.cluster_moved + gauges.cluster_asks));
    }
    if (gauges.wait_used) cJSON_AddNumberToObject(o, "redis_replicas", static_cast<double>(gauges.replicas_online));
    cJSON_AddNumberToObject(o, "bus_entries", static_cast<double>(counters.redis.bus_entries));
    cJSON_AddNumberToObject(o, "notify_entries", static_cast<double>(counters.redis.notify_entries));
    char* text = cJSON_PrintUnformatted(o);
    std::string out = text ? text : "{}";
    cJSON_free(text);
    return out;
}

}  // namespace pushd
