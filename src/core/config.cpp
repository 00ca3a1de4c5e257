// pushd configuration: the table of keys (one row per key: name, member,
// bounds, reload class), the value converters shared by the YAML reader and
// the environment, environment overrides, cross-field validation, the reload
// diff and the printable form. Loading parses into a fresh Config and only
// returns it once everything is valid.
#include "core/config.hpp"

#include "core/cidr.hpp"
#include "core/config_yaml.hpp"
#include "core/origin.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace pushd {

namespace config_detail {

namespace {

constexpr bool kReload = true;    // SIGHUP applies it
constexpr bool kRestart = false;  // a change needs a restart
constexpr bool kSecret = true;
constexpr bool kPlain = false;

// The accessor of one Config member, as a captureless lambda.
#define PUSHD_FIELD(member) \
    [](Config & c) -> auto& { return c.member; }

// clang-format off
const KeySpec kKeys[] = {
    // name                         member                                   min   max          reload    secret
    {"Name",                        PUSHD_FIELD(name),                       0,    0,           kRestart, kPlain},
    {"Host",                        PUSHD_FIELD(host),                       0,    0,           kRestart, kPlain},   // listen address
    {"Port",                        PUSHD_FIELD(port),                       1,    65535,       kRestart, kPlain},
    {"Path",                        PUSHD_FIELD(path),                       0,    0,           kRestart, kPlain},   // WebSocket path
    {"ShutdownTimeout",             PUSHD_FIELD(shutdown_timeout),           1,    3600,        kRestart, kPlain},   // seconds
    {"ReusePort",                   PUSHD_FIELD(reuse_port),                 0,    0,           kRestart, kPlain},   // SO_REUSEPORT
    {"Redis.Host",                  PUSHD_FIELD(redis.host),                 0,    0,           kRestart, kPlain},   // host:port
    {"Redis.Pass",                  PUSHD_FIELD(redis.pass),                 0,    0,           kRestart, kSecret},
    {"Redis.DB",                    PUSHD_FIELD(redis.db),                   0,    65535,       kRestart, kPlain},
    {"Redis.KeyPrefix",             PUSHD_FIELD(redis.key_prefix),           0,    0,           kRestart, kPlain},
    {"Redis.Mode",                  PUSHD_FIELD(redis.mode),                 0,    0,           kRestart, kPlain},   // single|sentinel|cluster
    {"Redis.Sentinels",             PUSHD_FIELD(redis.sentinels),            0,    0,           kRestart, kPlain},   // host:port list
    {"Redis.MasterName",            PUSHD_FIELD(redis.master_name),          0,    0,           kRestart, kPlain},
    {"Redis.Nodes",                 PUSHD_FIELD(redis.nodes),                0,    0,           kRestart, kPlain},   // host:port list
    {"Redis.WaitReplicas",          PUSHD_FIELD(redis.wait_replicas),        0,    16,          kRestart, kPlain},
    {"Redis.BusShards",             PUSHD_FIELD(redis.bus_shards),           1,    1024,        kRestart, kPlain},   // cluster: bus streams
    {"Api.Listen",                  PUSHD_FIELD(api.listen),                 0,    0,           kRestart, kPlain},   // host:port, "" off
    {"Api.Keys",                    PUSHD_FIELD(api.keys),                   0,    0,           kRestart, kSecret},  // >= 16 bytes each
    {"Auth.AccessSecret",           PUSHD_FIELD(auth.access_secret),         0,    0,           kRestart, kSecret},  // required
    {"Auth.AccessExpire",           PUSHD_FIELD(auth.access_expire),         1,    31536000,    kRestart, kPlain},   // seconds (1 year)
    {"Auth.UserClaim",              PUSHD_FIELD(auth.user_claim),            0,    0,           kRestart, kPlain},
    {"Auth.AuthTimeout",            PUSHD_FIELD(auth.auth_timeout),          1,    3600,        kRestart, kPlain},   // seconds
    {"Groups.RequireMembership",    PUSHD_FIELD(groups.require_membership),  0,    0,           kRestart, kPlain},
    {"Groups.AutoJoin",             PUSHD_FIELD(groups.auto_join),           0,    0,           kRestart, kPlain},
    {"Groups.HistorySize",          PUSHD_FIELD(groups.history_size),        1,    10000000,    kRestart, kPlain},   // entries
    {"Groups.DedupWindow",          PUSHD_FIELD(groups.dedup_window),        1,    604800,      kRestart, kPlain},   // seconds (7 days)
    {"Groups.Presence",             PUSHD_FIELD(groups.presence),            0,    0,           kRestart, kPlain},
    {"Limits.MaxMessageBytes",      PUSHD_FIELD(limits.max_message_bytes),   64,   16777216,    kReload,  kPlain},   // bytes (16 MiB)
    {"Limits.MaxConnections",       PUSHD_FIELD(limits.max_connections),     1,    10000000,    kReload,  kPlain},
    {"Limits.MaxConnectionsPerIp",  PUSHD_FIELD(limits.max_connections_per_ip), 1, 10000000,    kReload,  kPlain},
    {"Limits.MaxSessionsPerUser",   PUSHD_FIELD(limits.max_sessions_per_user), 1,  100000,      kReload,  kPlain},
    {"Limits.MessagesPerSecond",    PUSHD_FIELD(limits.messages_per_second), 1,    1000000,     kReload,  kPlain},   // per connection
    {"Limits.Burst",                PUSHD_FIELD(limits.burst),               1,    10000000,    kReload,  kPlain},   // requests
    {"Limits.MaxQueueBytes",        PUSHD_FIELD(limits.max_queue_bytes),     1024, 1073741824,  kReload,  kPlain},   // bytes (1 GiB)
    {"Heartbeat.Interval",          PUSHD_FIELD(heartbeat.interval),         1,    3600,        kRestart, kPlain},   // seconds
    {"Heartbeat.Timeout",           PUSHD_FIELD(heartbeat.timeout),          2,    7200,        kRestart, kPlain},   // seconds, > Interval
    {"Security.AllowedOrigins",     PUSHD_FIELD(security.allowed_origins),   0,    0,           kReload,  kPlain},
    {"Security.IpBlacklist",        PUSHD_FIELD(security.ip_blacklist),      0,    0,           kReload,  kPlain},   // addresses / CIDR
    {"Security.TrustedProxies",     PUSHD_FIELD(security.trusted_proxies),   0,    0,           kReload,  kPlain},   // addresses / CIDR
    {"Security.TLS.Cert",           PUSHD_FIELD(security.tls.cert),          0,    0,           kRestart, kPlain},   // PEM file path
    {"Security.TLS.Key",            PUSHD_FIELD(security.tls.key),           0,    0,           kRestart, kPlain},   // PEM file path
    {"Compression.Enabled",         PUSHD_FIELD(compression.enabled),        0,    0,           kRestart, kPlain},
    {"Log.Level",                   PUSHD_FIELD(log.level),                  0,    0,           kReload,  kPlain},   // debug|info|warn|error
    {"Log.Format",                  PUSHD_FIELD(log.format),                 0,    0,           kReload,  kPlain},   // text|json
};
// clang-format on

#undef PUSHD_FIELD

// Index of a row by name; the names used below are all in the table.
size_t key_index(std::string_view name) {
    const KeySpec* spec = find_key(name);
    return static_cast<size_t>(spec - kKeys);
}

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::string trim(std::string_view s) {
    size_t b = 0;
    size_t e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return std::string(s.substr(b, e - b));
}

// Replaces CR and LF so every error and warning is one line.
std::string one_line(std::string s) {
    for (char& c : s) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
}

// Path: starts with '/', no whitespace, control characters, '?' or '#'.
bool valid_path(std::string_view p) {
    if (p.empty() || p[0] != '/') return false;
    for (char c : p) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '?' || c == '#') return false;
    }
    return true;
}

// Where a key's current value came from: its file position, its variable,
// or just the file name for a default.
std::string where_of(const LoadState& st, size_t index) {
    const ValueOrigin& o = st.origins[index];
    return o.set ? o.where : st.source;
}

std::string where_of_item(const LoadState& st, size_t index, size_t item) {
    const ValueOrigin& o = st.origins[index];
    return item < o.items.size() ? o.items[item] : where_of(st, index);
}

std::string error_at(const LoadState& st, size_t index, const std::string& msg) {
    return where_of(st, index) + ": " + std::string(kKeys[index].name) + ": " + msg;
}

// Applies PUSHD_<KEY> variables over the file's values, in table order.
Status apply_env(const EnvLookup& env, LoadState& st) {
    if (!env) return {};
    for (size_t i = 0; i < std::size(kKeys); ++i) {
        const KeySpec& spec = kKeys[i];
        std::string var = env_var_name(spec.name);
        std::optional<std::string> value = env(var);
        if (!value) continue;
        auto fail = [&](const std::string& msg) {
            return Status::fail(var + ": " + std::string(spec.name) + ": " + msg);
        };
        switch (spec.kind()) {
        case KeyKind::Int: {
            int64_t v = 0;
            if (Status err = parse_int_value(spec, *value, v); !err.ok()) return fail(err.error());
            spec.int_ref(st.config) = v;
            break;
        }
        case KeyKind::Bool: {
            bool v = false;
            if (Status err = parse_bool_value(*value, v); !err.ok()) return fail(err.error());
            spec.bool_ref(st.config) = v;
            break;
        }
        case KeyKind::String:
            if (Status err = check_text_value(*value); !err.ok()) return fail(err.error());
            spec.string_ref(st.config) = *value;
            break;
        case KeyKind::StringList: {
            StringList items;
            if (!trim(*value).empty()) {
                size_t start = 0;
                for (size_t n = 1;; ++n) {
                    size_t comma = value->find(',', start);
                    std::string item = trim(std::string_view(*value).substr(
                        start, comma == std::string::npos ? std::string::npos : comma - start));
                    std::string label = "item " + std::to_string(n) + " ";
                    if (item.empty()) return fail(label + "is empty (items are separated by ',')");
                    if (Status err = check_text_value(item); !err.ok()) return fail(label + err.error());
                    items.push_back(std::move(item));
                    if (comma == std::string::npos) break;
                    start = comma + 1;
                }
            }
            spec.list_ref(st.config) = std::move(items);
            break;
        }
        }
        st.origins[i] = ValueOrigin{true, var, {}};
    }
    return {};
}

// Host, ReusePort and Path.
Status validate_listener(LoadState& st) {
    const Config& c = st.config;

    if (c.host.empty()) return Status::fail(error_at(st, key_index("Host"), "must not be empty"));
    // With ReusePort pushd binds the listener itself, to an address.
    if (c.reuse_port && !parse_ip(c.host)) {
        return Status::fail(
            error_at(st, key_index("ReusePort"),
                     "needs an IP address as Host (0.0.0.0, ::, 127.0.0.1...), got " + quote_for_message(c.host)));
    }

    if (!valid_path(c.path)) {
        return Status::fail(
            error_at(st, key_index("Path"),
                     "must start with '/' and contain no spaces, '?' or '#', got " + quote_for_message(c.path)));
    }
    if (c.path == "/health" || c.path == "/stats" || c.path == "/metrics") {
        return Status::fail(
            error_at(st, key_index("Path"), quote_for_message(c.path) + " is taken by the HTTP route of that name"));
    }
    return {};
}

// A non-empty list of host:port (Redis.Sentinels, Redis.Nodes).
Status validate_address_list(LoadState& st, const char* key, const std::vector<std::string>& list) {
    const size_t index = key_index(key);
    if (list.empty())
        return Status::fail(error_at(st, index, std::string("required with Redis.Mode: ") + st.config.redis.mode));
    for (size_t n = 0; n < list.size(); ++n) {
        if (!parse_host_port(list[n]))
            return Status::fail(where_of_item(st, index, n) + ": " + key + ": item " + std::to_string(n + 1) + " " +
                                quote_for_message(list[n]) + " is not host:port");
    }
    return {};
}

// Redis.Mode and the addresses it needs: Sentinels and MasterName for
// sentinel, Nodes (and DB 0, the only one a cluster has) for cluster.
Status validate_redis_mode(LoadState& st) {
    const RedisConfig& r = st.config.redis;
    if (r.mode != "single" && r.mode != "sentinel" && r.mode != "cluster")
        return Status::fail(error_at(st, key_index("Redis.Mode"),
                                     "expected single, sentinel or cluster, got " + quote_for_message(r.mode)));
    if (r.mode == "cluster") {
        if (r.db != 0) return Status::fail(error_at(st, key_index("Redis.DB"), "must be 0 with Redis.Mode: cluster"));
        return validate_address_list(st, "Redis.Nodes", r.nodes);
    }
    if (r.mode != "sentinel") return {};
    if (Status err = validate_address_list(st, "Redis.Sentinels", r.sentinels); !err.ok()) return err;
    if (r.master_name.empty())
        return Status::fail(error_at(st, key_index("Redis.MasterName"), "required with Redis.Mode: sentinel"));
    return {};
}

// Redis.Host, the secret (a weak one is a warning) and the user claim.
Status validate_redis_auth(LoadState& st) {
    const Config& c = st.config;

    if (Status err = validate_redis_mode(st); !err.ok()) return err;
    if (c.redis.mode == "single" && !parse_host_port(c.redis.host)) {
        return Status::fail(
            error_at(st, key_index("Redis.Host"),
                     "expected host:port or [ipv6]:port with port 1..65535, got " + quote_for_message(c.redis.host)));
    }

    size_t secret = key_index("Auth.AccessSecret");
    if (c.auth.access_secret.empty()) {
        return Status::fail(
            error_at(st, secret, "required (set it in the file or " + env_var_name("Auth.AccessSecret") + ")"));
    }
    if (c.auth.access_secret.size() < 32) {
        st.warnings.push_back(error_at(st, secret,
                                       "shorter than 32 bytes (" + std::to_string(c.auth.access_secret.size()) +
                                           " bytes); use a long random secret"));
    }

    if (c.auth.user_claim.empty()) {
        return Status::fail(error_at(st, key_index("Auth.UserClaim"), "must not be empty"));
    }
    return {};
}

// Api.Listen (host:port or empty) and Api.Keys (each >= kMinApiKeyBytes).
Status validate_api(LoadState& st) {
    ApiConfig& api = st.config.api;
    const size_t listen = key_index("Api.Listen");
    api.listen_explicit = st.origins[listen].set;
    if (!api.listen.empty() && !parse_host_port(api.listen)) {
        return Status::fail(error_at(
            st, listen, "expected host:port (or \"\" to turn the API off), got " + quote_for_message(api.listen)));
    }
    const size_t keys = key_index("Api.Keys");
    for (size_t n = 0; n < api.keys.size(); ++n) {
        if (api.keys[n].size() < kMinApiKeyBytes)
            return Status::fail(where_of_item(st, keys, n) + ": Api.Keys: item " + std::to_string(n + 1) +
                                " is shorter than " + std::to_string(kMinApiKeyBytes) + " characters");
    }
    return {};
}

// Heartbeat.Timeout after Heartbeat.Interval.
Status validate_heartbeat(LoadState& st) {
    const Config& c = st.config;

    size_t interval = key_index("Heartbeat.Interval");
    size_t timeout = key_index("Heartbeat.Timeout");
    if (c.heartbeat.timeout <= c.heartbeat.interval) {
        std::string i = std::to_string(c.heartbeat.interval);
        std::string t = std::to_string(c.heartbeat.timeout);
        if (st.origins[timeout].set || !st.origins[interval].set) {
            return Status::fail(error_at(st, timeout, t + " must be greater than Heartbeat.Interval (" + i + ")"));
        }
        return Status::fail(error_at(st, interval, i + " must be less than Heartbeat.Timeout (" + t + ")"));
    }
    return {};
}

// The items of the origin and address lists.
Status validate_lists(LoadState& st) {
    const Config& c = st.config;

    size_t origins = key_index("Security.AllowedOrigins");
    for (size_t n = 0; n < c.security.allowed_origins.size(); ++n) {
        const std::string& o = c.security.allowed_origins[n];
        if (!parse_origin_pattern(o)) {
            return Status::fail(where_of_item(st, origins, n) + ": Security.AllowedOrigins: item " +
                                std::to_string(n + 1) + " " + quote_for_message(o) +
                                " is not '*' or scheme://host[:port] (host may start with '*.')");
        }
    }

    for (const char* key : {"Security.IpBlacklist", "Security.TrustedProxies"}) {
        size_t index = key_index(key);
        const StringList& list = kKeys[index].list_ref(st.config);
        for (size_t n = 0; n < list.size(); ++n) {
            if (!parse_cidr(list[n])) {
                return Status::fail(where_of_item(st, index, n) + ": " + key + ": item " + std::to_string(n + 1) + " " +
                                    quote_for_message(list[n]) +
                                    " is not an IP address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)");
            }
        }
    }
    return {};
}

// TLS files set in pairs; the log level and format.
Status validate_tls_log(LoadState& st) {
    const Config& c = st.config;

    const TlsConfig& tls = c.security.tls;
    if (tls.cert.empty() != tls.key.empty()) {
        bool cert_set = !tls.cert.empty();
        size_t set = key_index(cert_set ? "Security.TLS.Cert" : "Security.TLS.Key");
        return Status::fail(error_at(st, set,
                                     std::string("is set but Security.TLS.") + (cert_set ? "Key" : "Cert") +
                                         " is empty (set both for wss://, or neither)"));
    }

    const std::string& level = c.log.level;
    if (level != "debug" && level != "info" && level != "warn" && level != "error") {
        return Status::fail(error_at(st, key_index("Log.Level"),
                                     "expected debug, info, warn or error, got " + quote_for_message(level)));
    }
    if (c.log.format != "text" && c.log.format != "json") {
        return Status::fail(
            error_at(st, key_index("Log.Format"), "expected text or json, got " + quote_for_message(c.log.format)));
    }
    return {};
}

// Checks what single-key bounds cannot: formats and relations between keys.
// Adds warnings (weak secret). Returns the first error line.
Status validate_all(LoadState& st) {
    for (Status (*check)(LoadState&) :
         {validate_listener, validate_redis_auth, validate_api, validate_heartbeat, validate_lists, validate_tls_log}) {
        if (Status err = check(st); !err.ok()) return err;
    }
    return {};
}

// The value of a key as config_to_lines prints it (secrets unmasked).
std::string value_text(const KeySpec& spec, const Config& config) {
    Config& c = const_cast<Config&>(config);  // the accessors only read here
    switch (spec.kind()) {
    case KeyKind::Int: return std::to_string(spec.int_ref(c));
    case KeyKind::Bool: return spec.bool_ref(c) ? "true" : "false";
    case KeyKind::String: return spec.string_ref(c);
    case KeyKind::StringList: {
        std::string out;
        for (const std::string& item : spec.list_ref(c)) {
            if (!out.empty()) out += ",";
            out += item;
        }
        return out;
    }
    }
    return {};
}

bool values_equal(const KeySpec& spec, const Config& a, const Config& b) {
    return std::visit([&](auto ref) { return ref(const_cast<Config&>(a)) == ref(const_cast<Config&>(b)); }, spec.field);
}

}  // namespace

std::span<const KeySpec> config_keys() { return kKeys; }

const KeySpec* find_key(std::string_view dotted) {
    for (const KeySpec& spec : kKeys) {
        if (spec.name == dotted) return &spec;
    }
    return nullptr;
}

const KeySpec* find_key_ignoring_case(std::string_view dotted) {
    for (const KeySpec& spec : kKeys) {
        if (equal_ignoring_case(spec.name, dotted)) return &spec;
    }
    return nullptr;
}

bool is_section(std::string_view dotted) {
    for (const KeySpec& spec : kKeys) {
        std::string_view name = spec.name;
        if (name.size() > dotted.size() && name[dotted.size()] == '.' && name.substr(0, dotted.size()) == dotted) {
            return true;
        }
    }
    return false;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
    }
    return true;
}

std::string env_var_name(std::string_view dotted) {
    std::string out = "PUSHD_";
    for (char c : dotted) {
        out += c == '.' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    return out;
}

Status parse_int_value(const KeySpec& spec, std::string_view text, int64_t& out) {
    std::string range = std::to_string(spec.min) + ".." + std::to_string(spec.max);
    std::string_view digits = text;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
    if (!is_digits(digits) || (digits.size() > 1 && digits[0] == '0')) {
        return Status::fail("expected an integer, got " + quote_for_message(text));
    }
    // from_chars takes '-' but not '+'.
    std::string_view number = text[0] == '+' ? digits : text;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && (v < spec.min || v > spec.max))) {
        std::string shown = text.size() > 24 ? std::string(text.substr(0, 24)) + "..." : std::string(text);
        return Status::fail(shown + " is out of range " + range);
    }
    if (ec != std::errc() || end != number.data() + number.size()) {
        return Status::fail("expected an integer, got " + quote_for_message(text));
    }
    out = v;
    return {};
}

Status parse_bool_value(std::string_view text, bool& out) {
    if (equal_ignoring_case(text, "true")) {
        out = true;
    } else if (equal_ignoring_case(text, "false")) {
        out = false;
    } else {
        return Status::fail("expected true or false, got " + quote_for_message(text));
    }
    return {};
}

Status check_text_value(std::string_view text) {
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return Status::fail(std::string("must not contain control characters (newlines, tabs, ...)"));
        }
    }
    return {};
}

std::string quote_for_message(std::string_view text, bool secret) {
    if (secret) return "(hidden)";
    constexpr size_t kMax = 64;
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < kMax; ++i) {
        auto u = static_cast<unsigned char>(text[i]);
        if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += text[i];
        }
    }
    if (text.size() > kMax) out += "...";
    out += "'";
    return out;
}

}  // namespace config_detail

using config_detail::config_keys;
using config_detail::KeySpec;

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

EnvLookup no_env() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

ConfigLoadResult load_config_string(std::string_view yaml, const std::string& source_name, const EnvLookup& env) {
    config_detail::LoadState st;
    st.source = source_name;
    st.origins.resize(config_keys().size());

    Status status = config_detail::apply_yaml(yaml, st);
    if (status.ok()) status = config_detail::apply_env(env, st);
    if (status.ok()) status = config_detail::validate_all(st);
    if (!status.ok()) return Status::fail(config_detail::one_line(status.error()));

    LoadedConfig loaded;
    for (std::string& w : st.warnings) loaded.warnings.push_back(config_detail::one_line(std::move(w)));
    loaded.config = std::move(st.config);
    return loaded;
}

ConfigLoadResult load_config_file(const std::string& path, const EnvLookup& env) {
    constexpr size_t kMaxBytes = 1 << 20;
    auto cannot_read = [&](const std::string& why) -> ConfigLoadResult {
        return Status::fail(config_detail::one_line(path + ": cannot read: " + why));
    };

    errno = 0;
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) return cannot_read(std::strerror(errno));

    std::string text;
    char buf[8192];
    for (;;) {
        size_t n = std::fread(buf, 1, sizeof buf, file.get());
        text.append(buf, n);
        if (text.size() > kMaxBytes) {
            return cannot_read("larger than " + std::to_string(kMaxBytes) + " bytes");
        }
        if (n < sizeof buf) break;
    }
    if (std::ferror(file.get())) return cannot_read(std::strerror(errno ? errno : EIO));
    return load_config_string(text, path, env);
}

std::vector<std::string> config_restart_only_changes(const Config& before, const Config& after) {
    std::vector<std::string> changed;
    for (const KeySpec& spec : config_keys()) {
        if (!spec.reloadable && !config_detail::values_equal(spec, before, after)) {
            changed.emplace_back(spec.name);
        }
    }
    return changed;
}

std::string config_to_lines(const Config& config) {
    std::string out;
    for (const KeySpec& spec : config_keys()) {
        std::string value = config_detail::value_text(spec, config);
        if (spec.secret && !value.empty()) value = "***";
        out += std::string(spec.name) + "=" + value + "\n";
    }
    return out;
}

}  // namespace pushd
