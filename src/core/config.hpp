// pushd configuration: the struct every module reads, its defaults, and the
// loader that turns a YAML file plus environment overrides into it.
//
// Pure: no sockets, no clocks. The file is read here, the environment is a
// lookup function passed in, so tests control both.
#pragma once

#include "core/host_port.hpp"
#include "core/status.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

struct RedisConfig {
    std::string host = "127.0.0.1:6379";  // "host:port" (mode single)
    std::string pass;
    int64_t db = 0;
    std::string key_prefix = "pushd:";
    std::string mode = "single";         // single | sentinel | cluster
    std::vector<std::string> sentinels;  // mode sentinel: "host:port" of each sentinel
    std::string master_name;             // mode sentinel: the master's name at the sentinels
    std::vector<std::string> nodes;      // mode cluster: seed "host:port" list
    int64_t wait_replicas = 0;           // WAIT for this many replicas before an ack
    // Mode cluster: the bus is this many streams, each in its own slot
    // (core/cluster_slots.hpp); every instance must use the same number.
    int64_t bus_shards = 12;
};

// The HTTP API for business services (PROTOCOL.md section 9).
struct ApiConfig {
    std::string listen = "127.0.0.1:8890";  // "host:port"; "" turns the API off
    std::vector<std::string> keys;          // accepted API keys, >= kMinApiKeyBytes each
    // Api.Listen was given (file or environment): failing to bind it is a
    // start-up error; the default address taken by something else is only
    // a warning (the API stays off), so several instances on one host that
    // do not use the API start as before.
    bool listen_explicit = false;
};

// An API key shorter than this is a configuration error (section 9).
inline constexpr size_t kMinApiKeyBytes = 16;

struct AuthConfig {
    std::string access_secret;      // required: empty is a config error
    int64_t access_expire = 86400;  // seconds; pushctl token default TTL
    std::string user_claim = "userId";
    int64_t auth_timeout = 10;  // seconds
};

struct GroupsConfig {
    bool require_membership = false;
    bool auto_join = true;
    int64_t history_size = 1000;  // entries kept per group / inbox
    int64_t dedup_window = 300;   // seconds
    bool presence = true;         // presence in Redis (events stream, presence queries)
};

struct LimitsConfig {
    int64_t max_message_bytes = 65536;
    int64_t max_connections = 100000;
    int64_t max_connections_per_ip = 1000;
    int64_t max_sessions_per_user = 16;
    int64_t messages_per_second = 20;
    int64_t burst = 40;
    int64_t max_queue_bytes = 1048576;
};

struct HeartbeatConfig {
    int64_t interval = 30;  // seconds between server pings
    int64_t timeout = 75;   // seconds of silence before close
};

struct TlsConfig {
    std::string cert;  // both empty: plain ws://
    std::string key;
};

struct SecurityConfig {
    std::vector<std::string> allowed_origins = {"*"};
    std::vector<std::string> ip_blacklist;  // CIDR or single address
    // Peers (CIDR or single address) whose X-Forwarded-For is believed:
    // the client is the last address in it that is not itself one of them.
    std::vector<std::string> trusted_proxies;
    TlsConfig tls;
};

struct CompressionConfig {
    bool enabled = true;
};

struct LogConfig {
    std::string level = "info";   // debug | info | warn | error
    std::string format = "text";  // text ("LEVEL message") | json (one object a line)
};

struct Config {
    std::string name = "pushd";
    std::string host = "0.0.0.0";
    int64_t port = 8889;
    std::string path = "/ws";
    int64_t shutdown_timeout = 10;  // seconds
    // SO_REUSEPORT on the listener: several instances (pushd@N.service) on
    // one port, the kernel spreading new connections among them.
    bool reuse_port = false;
    RedisConfig redis;
    ApiConfig api;
    AuthConfig auth;
    GroupsConfig groups;
    LimitsConfig limits;
    HeartbeatConfig heartbeat;
    SecurityConfig security;
    CompressionConfig compression;
    LogConfig log;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv), for main and pushctl.
EnvLookup process_env();

// An empty environment, for tests and for callers that want the file only.
EnvLookup no_env();

// A valid configuration and what the operator should hear about it.
struct LoadedConfig {
    Config config;
    // One line each: keys present in the file that pushd does not use
    // (e.g. the original service's ChatRpc), weak secrets, and so on.
    std::vector<std::string> warnings;
};

// The configuration, or the first error: one line, no trailing newline,
// e.g. "etc/pushd.yaml:3:7: Port: expected an integer, got 'abc'" or
// "PUSHD_PORT: Port: 70000 is out of range 1..65535".
using ConfigLoadResult = Result<LoadedConfig>;

// Reads and validates the YAML file at `path`, then applies environment
// overrides (PUSHD_<KEY>, PUSHD_<SECTION>_<KEY>, upper-cased). Everything is
// validated before anything is returned: either a complete valid Config, or
// the first error. Never throws.
ConfigLoadResult load_config_file(const std::string& path, const EnvLookup& env);

// Same as load_config_file for YAML text already in memory; `source_name`
// is used in error messages in place of a file name.
ConfigLoadResult load_config_string(std::string_view yaml, const std::string& source_name, const EnvLookup& env);

// Keys whose values differ between `before` and `after` and that a reload
// (SIGHUP) cannot apply: everything except Security.* (but Security.TLS.*,
// loaded once at start), Limits.* and Log.Level. Returned as dotted names ("Port", "Redis.Host"), in table order.
std::vector<std::string> config_restart_only_changes(const Config& before, const Config& after);

// The effective configuration as "Key.Path=value" lines (lists joined with
// ","), secrets (Redis.Pass, Auth.AccessSecret) shown as "***" when set.
// Used by `pushd --print-config` and the development run script.
std::string config_to_lines(const Config& config);

}  // namespace pushd
