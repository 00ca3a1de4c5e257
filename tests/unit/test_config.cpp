// Tests for core/config and core/config_yaml: defaults, the table, YAML
// loading with positions, environment overrides, cross-field validation,
// the reload diff and the printable form.
#include <catch2/catch.hpp>

#include "../common/seed_yaml.hpp"

#include "core/config.hpp"
#include "core/config_yaml.hpp"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

using namespace pushd;

namespace {

#ifdef PUSHD_SOURCE_DIR
const std::string kSourceDir = PUSHD_SOURCE_DIR;
#else
const std::string kSourceDir = ".";
#endif

const std::string kSecret = "test-secret-0123456789abcdef0123456789";  // 38 bytes

using Env = std::map<std::string, std::string>;

EnvLookup env_of(Env vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// Loads with a valid secret from the environment unless `env` sets one.
ConfigLoadResult load(std::string_view yaml, Env env = {}) {
    env.emplace("PUSHD_AUTH_ACCESSSECRET", kSecret);
    return load_config_string(yaml, "t.yaml", env_of(std::move(env)));
}

// The error of a load that must fail; checks it is one line.
std::string error_of(std::string_view yaml, Env env = {}) {
    ConfigLoadResult r = load(yaml, std::move(env));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find('\n') == std::string::npos);
    CHECK_FALSE(r.error().empty());
    return r.error();
}

// Loads and requires success without warnings.
Config load_ok(std::string_view yaml, Env env = {}) {
    ConfigLoadResult r = load(yaml, std::move(env));
    INFO(r.error());
    REQUIRE(r.ok());
    CHECK(r->warnings.empty());
    return r->config;
}

// Every value equal, secrets included.
void check_same(const Config& a, const Config& b) {
    CHECK(config_to_lines(a) == config_to_lines(b));
    CHECK(a.auth.access_secret == b.auth.access_secret);
    CHECK(a.redis.pass == b.redis.pass);
}

}  // namespace

TEST_CASE("defaults are those of PROTOCOL.md section 7", "[config]") {
    Config c;
    CHECK(c.name == "pushd");
    CHECK(c.host == "0.0.0.0");
    CHECK(c.port == 8889);
    CHECK(c.path == "/ws");
    CHECK(c.shutdown_timeout == 10);
    CHECK(c.redis.host == "127.0.0.1:6379");
    CHECK(c.redis.pass.empty());
    CHECK(c.redis.db == 0);
    CHECK(c.redis.key_prefix == "pushd:");
    CHECK(c.auth.access_secret.empty());
    CHECK(c.auth.access_expire == 86400);
    CHECK(c.auth.user_claim == "userId");
    CHECK(c.auth.auth_timeout == 10);
    CHECK_FALSE(c.groups.require_membership);
    CHECK(c.groups.auto_join);
    CHECK(c.groups.history_size == 1000);
    CHECK(c.groups.dedup_window == 300);
    CHECK(c.groups.presence);
    CHECK(c.limits.max_message_bytes == 65536);
    CHECK(c.limits.max_connections == 100000);
    CHECK(c.limits.max_connections_per_ip == 1000);
    CHECK(c.limits.max_sessions_per_user == 16);
    CHECK(c.limits.messages_per_second == 20);
    CHECK(c.limits.burst == 40);
    CHECK(c.limits.max_queue_bytes == 1048576);
    CHECK(c.heartbeat.interval == 30);
    CHECK(c.heartbeat.timeout == 75);
    CHECK(c.security.allowed_origins == std::vector<std::string>{"*"});
    CHECK(c.security.ip_blacklist.empty());
    CHECK(c.security.tls.cert.empty());
    CHECK(c.security.tls.key.empty());
    CHECK(c.compression.enabled);
    CHECK(c.log.level == "info");
    CHECK(c.log.format == "text");
    CHECK_FALSE(c.reuse_port);

    // An empty file (or only comments) is an empty mapping: all defaults.
    for (const char* empty : {"", "# nothing here\n\n   # still nothing\n", "---\n", "~\n"}) {
        INFO(empty);
        Config loaded = load_ok(empty);
        Config expected;
        expected.auth.access_secret = kSecret;
        check_same(loaded, expected);
    }
}

TEST_CASE("the key table: names, bounds, reload class, env names", "[config]") {
    using config_detail::KeyKind;
    std::map<std::string, std::pair<int64_t, int64_t>> bounds = {
        {"Port", {1, 65535}},
        {"ShutdownTimeout", {1, 3600}},
        {"Redis.DB", {0, 65535}},
        {"Redis.WaitReplicas", {0, 16}},
        {"Redis.BusShards", {1, 1024}},
        {"Auth.AccessExpire", {1, 31536000}},
        {"Auth.AuthTimeout", {1, 3600}},
        {"Groups.HistorySize", {1, 10000000}},
        {"Groups.DedupWindow", {1, 604800}},
        {"Limits.MaxMessageBytes", {64, 16777216}},
        {"Limits.MaxConnections", {1, 10000000}},
        {"Limits.MaxConnectionsPerIp", {1, 10000000}},
        {"Limits.MaxSessionsPerUser", {1, 100000}},
        {"Limits.MessagesPerSecond", {1, 1000000}},
        {"Limits.Burst", {1, 10000000}},
        {"Limits.MaxQueueBytes", {1024, 1073741824}},
        {"Heartbeat.Interval", {1, 3600}},
        {"Heartbeat.Timeout", {2, 7200}},
    };
    std::vector<std::string> names;
    std::set<std::string> env_names;
    Config defaults;
    for (const auto& spec : config_detail::config_keys()) {
        std::string name(spec.name);
        names.push_back(name);
        INFO(name);
        CHECK(env_names.insert(config_detail::env_var_name(spec.name)).second);
        // The TLS certificate is loaded once at start: changing it needs a restart.
        bool reloadable = (name.rfind("Security.", 0) == 0 && name.rfind("Security.TLS.", 0) != 0) ||
                          name.rfind("Limits.", 0) == 0 || name == "Log.Level" || name == "Log.Format";
        CHECK(spec.reloadable == reloadable);
        CHECK(spec.secret == (name == "Redis.Pass" || name == "Auth.AccessSecret" || name == "Api.Keys"));
        if (spec.kind() == KeyKind::Int) {
            REQUIRE(bounds.count(name) == 1);
            CHECK(spec.min == bounds[name].first);
            CHECK(spec.max == bounds[name].second);
            int64_t def = spec.int_ref(defaults);
            CHECK(def >= spec.min);
            CHECK(def <= spec.max);
            bounds.erase(name);
        }
    }
    CHECK(bounds.empty());
    std::vector<std::string> expected = {"Name",
                                         "Host",
                                         "Port",
                                         "Path",
                                         "ShutdownTimeout",
                                         "ReusePort",
                                         "Redis.Host",
                                         "Redis.Pass",
                                         "Redis.DB",
                                         "Redis.KeyPrefix",
                                         "Redis.Mode",
                                         "Redis.Sentinels",
                                         "Redis.MasterName",
                                         "Redis.Nodes",
                                         "Redis.WaitReplicas",
                                         "Redis.BusShards",
                                         "Api.Listen",
                                         "Api.Keys",
                                         "Auth.AccessSecret",
                                         "Auth.AccessExpire",
                                         "Auth.UserClaim",
                                         "Auth.AuthTimeout",
                                         "Groups.RequireMembership",
                                         "Groups.AutoJoin",
                                         "Groups.HistorySize",
                                         "Groups.DedupWindow",
                                         "Groups.Presence",
                                         "Limits.MaxMessageBytes",
                                         "Limits.MaxConnections",
                                         "Limits.MaxConnectionsPerIp",
                                         "Limits.MaxSessionsPerUser",
                                         "Limits.MessagesPerSecond",
                                         "Limits.Burst",
                                         "Limits.MaxQueueBytes",
                                         "Heartbeat.Interval",
                                         "Heartbeat.Timeout",
                                         "Security.AllowedOrigins",
                                         "Security.IpBlacklist",
                                         "Security.TrustedProxies",
                                         "Security.TLS.Cert",
                                         "Security.TLS.Key",
                                         "Compression.Enabled",
                                         "Log.Level",
                                         "Log.Format"};
    CHECK(names == expected);

    CHECK(config_detail::env_var_name("Port") == "PUSHD_PORT");
    CHECK(config_detail::env_var_name("Auth.AccessSecret") == "PUSHD_AUTH_ACCESSSECRET");
    CHECK(config_detail::env_var_name("Security.TLS.Cert") == "PUSHD_SECURITY_TLS_CERT");
    CHECK(config_detail::env_var_name("Limits.MaxQueueBytes") == "PUSHD_LIMITS_MAXQUEUEBYTES");
}

TEST_CASE("every int key enforces its bounds, from the environment too", "[config]") {
    for (const auto& spec : config_detail::config_keys()) {
        if (spec.kind() != config_detail::KeyKind::Int) continue;
        std::string name(spec.name);
        std::string var = config_detail::env_var_name(spec.name);
        std::string range = std::to_string(spec.min) + ".." + std::to_string(spec.max);
        INFO(name);
        for (int64_t bad : {spec.min - 1, spec.max + 1}) {
            std::string e = error_of("", {{var, std::to_string(bad)}});
            CHECK(e == var + ": " + name + ": " + std::to_string(bad) + " is out of range " + range);
        }
        for (int64_t good : {spec.min, spec.max}) {
            ConfigLoadResult r = load("", {{var, std::to_string(good)}});
            // The heartbeat pair may trip its cross-field rule; never the bounds.
            if (!r.ok()) {
                CHECK(r.error().find("out of range") == std::string::npos);
                CHECK(r.error().find("Heartbeat.") != std::string::npos);
            } else {
                CHECK(spec.int_ref(r->config) == good);
            }
        }
    }
}

TEST_CASE("a file with only Redis.Host and Auth.AccessSecret", "[config]") {
    const char* yaml = R"(Redis: {Host: "10.0.0.5:6380"}
Auth: {AccessSecret: "0123456789abcdef0123456789abcdef"}
)";
    ConfigLoadResult r = load_config_string(yaml, "min.yaml", no_env());
    INFO(r.error());
    REQUIRE(r.ok());
    CHECK(r->warnings.empty());
    Config expected;
    expected.redis.host = "10.0.0.5:6380";
    expected.auth.access_secret = "0123456789abcdef0123456789abcdef";
    check_same(r->config, expected);
}

TEST_CASE("etc/pushd.yaml holds the defaults and loads without warnings", "[config]") {
    std::string path = kSourceDir + "/etc/pushd.yaml";
    ConfigLoadResult r = load_config_file(path, no_env());
    INFO(r.error());
    REQUIRE(r.ok());
    CHECK(r->warnings.empty());
    CHECK(r->config.auth.access_secret.size() >= 32);
    CHECK(r->config.auth.access_secret.find("change-me") != std::string::npos);
    Config expected;
    expected.auth.access_secret = r->config.auth.access_secret;
    check_same(r->config, expected);
}

TEST_CASE("the original service's YAML loads with one warning for ChatRpc", "[config]") {
    const char* seed = pushd_test::kSeedYaml;
    ConfigLoadResult r = load_config_string(seed, "websocket.yaml", no_env());
    INFO(r.error());
    REQUIRE(r.ok());
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == "websocket.yaml:6:1: ChatRpc: unknown key, ignored");
    CHECK(r->config.name == "websocket-service");
    CHECK(r->config.host == "0.0.0.0");
    CHECK(r->config.port == 8889);
    CHECK(r->config.redis.host == "127.0.0.1:6379");
    CHECK(r->config.redis.pass.empty());
    CHECK(r->config.redis.db == 0);
    CHECK(r->config.auth.access_secret == "k9#8G7&6F5%4D3$2S1@0P9*8O7!6N5^4M3+2L1=0");
    CHECK(r->config.auth.access_expire == 86400);
    CHECK(r->config.path == "/ws");
}

TEST_CASE("unknown keys warn once at the level where they are unknown", "[config]") {
    SECTION("nested unknown key, its own subtree not inspected") {
        ConfigLoadResult r = load("Redis:\n  Cluster: {Nodes: [1, 2], Weird: {a: b}}\n  DB: 2\n");
        REQUIRE(r.ok());
        REQUIRE(r->warnings.size() == 1);
        CHECK(r->warnings[0] == "t.yaml:2:3: Redis.Cluster: unknown key, ignored");
        CHECK(r->config.redis.db == 2);
    }
    SECTION("keys are case-sensitive, with a hint") {
        ConfigLoadResult r = load("port: 9000\nredis: {Host: 'a:1'}\n");
        REQUIRE(r.ok());
        REQUIRE(r->warnings.size() == 2);
        CHECK(r->warnings[0] == "t.yaml:1:1: port: unknown key, ignored (did you mean Port?)");
        CHECK(r->warnings[1] == "t.yaml:2:1: redis: unknown key, ignored (key names are case-sensitive)");
        CHECK(r->config.port == 8889);
        CHECK(r->config.redis.host == "127.0.0.1:6379");
    }
    SECTION("unknown keys of wrong shape never fail") {
        ConfigLoadResult r = load("Extra: [1, {x: y}]\nSecurity:\n  TLS:\n    Ca: 5\n");
        REQUIRE(r.ok());
        REQUIRE(r->warnings.size() == 2);
        CHECK(r->warnings[0] == "t.yaml:1:1: Extra: unknown key, ignored");
        CHECK(r->warnings[1] == "t.yaml:4:5: Security.TLS.Ca: unknown key, ignored");
    }
    SECTION("a dotted key is not a nested key") {
        ConfigLoadResult r = load("Security.TLS.Cert: /c.pem\nRedis: {Host.x: 1}\n");
        REQUIRE(r.ok());
        REQUIRE(r->warnings.size() == 2);
        CHECK(r->warnings[0] ==
              "t.yaml:1:1: Security.TLS.Cert: unknown key, ignored (write nested "
              "keys as mappings, not dotted names)");
        CHECK(r->warnings[1].rfind("t.yaml:2:9: Redis.Host.x: unknown key, ignored", 0) == 0);
        CHECK(r->config.security.tls.cert.empty());
    }
    SECTION("a null section is an empty one") {
        Config c = load_ok("Security:\n  # AllowedOrigins: []\nLimits:\n");
        CHECK(c.security.allowed_origins == std::vector<std::string>{"*"});
    }
    SECTION("aliases resolve") {
        ConfigLoadResult r = load("Redis: &r {DB: 3}\nCopy: *r\n");
        REQUIRE(r.ok());
        CHECK(r->config.redis.db == 3);
        CHECK(r->warnings.size() == 1);
    }
}

TEST_CASE("unreadable files", "[config]") {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("pushd-config-test-absent-" + std::to_string(::getpid()));
    std::string missing = (dir / "pushd.yaml").string();
    REQUIRE_FALSE(fs::exists(dir));
    ConfigLoadResult r = load_config_file(missing, no_env());
    CHECK_FALSE(r.ok());
    CHECK(r.error() == missing + ": cannot read: No such file or directory");

    std::string directory = fs::temp_directory_path().string();
    r = load_config_file(directory, no_env());
    CHECK_FALSE(r.ok());
    CHECK(r.error() == directory + ": cannot read: Is a directory");
}

TEST_CASE("errors from a real file carry its path", "[config]") {
    namespace fs = std::filesystem;
    fs::path path = fs::temp_directory_path() / ("pushd-config-test-" + std::to_string(::getpid()) + ".yaml");
    {
        FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        std::fputs("Name: x\nPort: abc\n", f);
        std::fclose(f);
    }
    ConfigLoadResult r = load_config_file(path.string(), env_of({{"PUSHD_AUTH_ACCESSSECRET", kSecret}}));
    fs::remove(path);
    CHECK_FALSE(r.ok());
    CHECK(r.error() == path.string() + ":2:7: Port: expected an integer, got 'abc'");
}

TEST_CASE("YAML syntax errors give line and column", "[config]") {
    CHECK(error_of("Port: 8889\n  Host: x\n") ==
          "t.yaml:2:7: YAML syntax error: mapping values are not allowed in this context");
    CHECK(error_of("Redis:\n\tHost: x\n").rfind("t.yaml:2:1: YAML syntax error: ", 0) == 0);
    CHECK(error_of("Port: 1\nName: \"open\n").find("YAML syntax error: found unexpected end of stream") !=
          std::string::npos);
    CHECK(error_of("Security: {AllowedOrigins: [a, b}\n").rfind("t.yaml:1:", 0) == 0);
    CHECK(error_of("Port: *nothing\n").find("t.yaml:1:7: YAML syntax error: found undefined alias") == 0);
    CHECK(error_of("Name: \xff\xfe\n").rfind("t.yaml:1:7: YAML error: invalid", 0) == 0);
    CHECK(error_of("Port: 1\n---\nPort: 2\n") ==
          "t.yaml:3:1: only one YAML document is allowed in a configuration file");
}

TEST_CASE("structure errors: root, sections, duplicates", "[config]") {
    CHECK(error_of("- a\n- b\n") == "t.yaml:1:1: expected a mapping of keys at the top level, got a list");
    CHECK(error_of("hello\n") == "t.yaml:1:1: expected a mapping of keys at the top level, got 'hello'");
    CHECK(error_of("Redis: 5\n") == "t.yaml:1:8: Redis: expected a mapping, got '5'");
    CHECK(error_of("Security:\n  TLS: [a]\n") == "t.yaml:2:8: Security.TLS: expected a mapping, got a list");
    CHECK(error_of("Port: 1\nPort: 2\n") == "t.yaml:2:1: Port: duplicate key (first at line 1, column 1)");
    CHECK(error_of("Redis:\n  DB: 1\n  DB: 2\n") == "t.yaml:3:3: Redis.DB: duplicate key (first at line 2, column 3)");
    CHECK(error_of("Redis: {}\nRedis: {DB: 1}\n") == "t.yaml:2:1: Redis: duplicate key (first at line 1, column 1)");
    CHECK(error_of("ChatRpc: 1\nChatRpc: 2\n") == "t.yaml:2:1: ChatRpc: duplicate key (first at line 1, column 1)");
}

TEST_CASE("type errors name the key and the value's position", "[config]") {
    SECTION("int") {
        CHECK(error_of("Port: abc\n") == "t.yaml:1:7: Port: expected an integer, got 'abc'");
        CHECK(error_of("Port: \"8889\"\n") == "t.yaml:1:7: Port: expected an integer, got a quoted string '8889'");
        CHECK(error_of("Port: 8889.0\n") == "t.yaml:1:7: Port: expected an integer, got '8889.0'");
        CHECK(error_of("Port: 1e3\n") == "t.yaml:1:7: Port: expected an integer, got '1e3'");
        CHECK(error_of("Port: 0x22b9\n") == "t.yaml:1:7: Port: expected an integer, got '0x22b9'");
        CHECK(error_of("Port: 08889\n") == "t.yaml:1:7: Port: expected an integer, got '08889'");
        CHECK(error_of("Port: [8889]\n") == "t.yaml:1:7: Port: expected an integer, got a list");
        CHECK(error_of("Port: {a: 1}\n") == "t.yaml:1:7: Port: expected an integer, got a mapping");
        CHECK(error_of("Port:\n").find("Port: expected an integer, got an empty value") != std::string::npos);
        CHECK(error_of("Redis:\n  DB: one\n") == "t.yaml:2:7: Redis.DB: expected an integer, got 'one'");
    }
    SECTION("int out of range") {
        CHECK(error_of("Port: 70000\n") == "t.yaml:1:7: Port: 70000 is out of range 1..65535");
        CHECK(error_of("Port: 0\n") == "t.yaml:1:7: Port: 0 is out of range 1..65535");
        CHECK(error_of("Port: -1\n") == "t.yaml:1:7: Port: -1 is out of range 1..65535");
        CHECK(error_of("Port: 99999999999999999999999\n") ==
              "t.yaml:1:7: Port: 99999999999999999999999 is out of range 1..65535");
        CHECK(error_of("Limits:\n  MaxQueueBytes: 1023\n") ==
              "t.yaml:2:18: Limits.MaxQueueBytes: 1023 is out of range 1024..1073741824");
        CHECK(load_ok("Port: +9000\n").port == 9000);
    }
    SECTION("bool") {
        CHECK(error_of("Compression:\n  Enabled: yes\n") ==
              "t.yaml:2:12: Compression.Enabled: expected true or false, got 'yes'");
        CHECK(error_of("Compression: {Enabled: 1}\n") ==
              "t.yaml:1:24: Compression.Enabled: expected true or false, got '1'");
        CHECK(error_of("Compression: {Enabled: \"true\"}\n") ==
              "t.yaml:1:24: Compression.Enabled: expected true or false, got a quoted string 'true'");
        CHECK(error_of("Groups: {AutoJoin: [true]}\n") ==
              "t.yaml:1:20: Groups.AutoJoin: expected true or false, got a list");
        CHECK_FALSE(load_ok("Compression: {Enabled: FALSE}\n").compression.enabled);
        CHECK(load_ok("Groups: {RequireMembership: True}\n").groups.require_membership);
    }
    SECTION("string") {
        CHECK(error_of("Name: {a: 1}\n") == "t.yaml:1:7: Name: expected a string, got a mapping");
        CHECK(error_of("Redis:\n  Host: [a, b]\n") == "t.yaml:2:9: Redis.Host: expected a string, got a list");
        CHECK(error_of("Name: \"a\\nb\"\n") ==
              "t.yaml:1:7: Name: must not contain control characters (newlines, tabs, ...)");
        CHECK(error_of("Name: |\n  two\n  lines\n").find("Name: must not contain control") != std::string::npos);
        CHECK(load_ok("Name: 123\n").name == "123");
        CHECK(load_ok("Redis: {Pass: }\n").redis.pass.empty());
        CHECK(load_ok("Redis: {KeyPrefix: ''}\n").redis.key_prefix.empty());
    }
    SECTION("string list") {
        CHECK(error_of("Security:\n  AllowedOrigins: https://a.com\n") ==
              "t.yaml:2:19: Security.AllowedOrigins: expected a list of strings, got "
              "'https://a.com'");
        CHECK(error_of("Security:\n  AllowedOrigins: {a: b}\n") ==
              "t.yaml:2:19: Security.AllowedOrigins: expected a list of strings, got a mapping");
        CHECK(error_of("Security:\n  IpBlacklist:\n    - 10.0.0.1\n    - {a: 1}\n") ==
              "t.yaml:4:7: Security.IpBlacklist: item 2 expected a string, got a mapping");
        CHECK(error_of("Security:\n  IpBlacklist: [10.0.0.1, [10.0.0.2]]\n") ==
              "t.yaml:2:27: Security.IpBlacklist: item 2 expected a string, got a list");
        CHECK(error_of("Security:\n  IpBlacklist:\n    -\n") ==
              "t.yaml:3:6: Security.IpBlacklist: item 1 expected a string, got an empty value");
        CHECK(load_ok("Security: {IpBlacklist: }\n").security.ip_blacklist.empty());
        CHECK(load_ok("Security: {AllowedOrigins: []}\n").security.allowed_origins.empty());
        Config c = load_ok("Security:\n  IpBlacklist:\n    - 10.0.0.0/8\n    - '::1'\n");
        CHECK(c.security.ip_blacklist == std::vector<std::string>{"10.0.0.0/8", "::1"});
    }
}

TEST_CASE("cross-field validation", "[config]") {
    SECTION("Auth.AccessSecret is required") {
        const std::string required = "Auth.AccessSecret: required (set it in the file or PUSHD_AUTH_ACCESSSECRET)";
        for (const char* yaml : {"", "# only a comment\n", "Port: 8889\n"}) {
            ConfigLoadResult r = load_config_string(yaml, "t.yaml", no_env());
            CHECK_FALSE(r.ok());
            CHECK(r.error() == "t.yaml: " + required);
        }
        ConfigLoadResult r = load_config_string("Auth:\n  AccessSecret: \"\"\n", "t.yaml", no_env());
        CHECK(r.error() == "t.yaml:2:17: " + required);
        r = load_config_string("", "t.yaml", env_of({{"PUSHD_AUTH_ACCESSSECRET", ""}}));
        CHECK(r.error() == "PUSHD_AUTH_ACCESSSECRET: " + required);
    }
    SECTION("a short secret is a warning") {
        ConfigLoadResult r = load_config_string("Auth: {AccessSecret: short}\n", "t.yaml", no_env());
        REQUIRE(r.ok());
        REQUIRE(r->warnings.size() == 1);
        CHECK(r->warnings[0] ==
              "t.yaml:1:22: Auth.AccessSecret: shorter than 32 bytes (5 bytes); use a long random "
              "secret");
        CHECK(r->warnings[0].find("short'") == std::string::npos);
    }
    SECTION("heartbeat") {
        CHECK(error_of("Heartbeat: {Interval: 30, Timeout: 30}\n") ==
              "t.yaml:1:36: Heartbeat.Timeout: 30 must be greater than Heartbeat.Interval (30)");
        CHECK(error_of("Heartbeat: {Interval: 100}\n") ==
              "t.yaml:1:23: Heartbeat.Interval: 100 must be less than Heartbeat.Timeout (75)");
        CHECK(error_of("", {{"PUSHD_HEARTBEAT_TIMEOUT", "10"}}) ==
              "PUSHD_HEARTBEAT_TIMEOUT: Heartbeat.Timeout: 10 must be greater than "
              "Heartbeat.Interval (30)");
        Config c = load_ok("Heartbeat: {Interval: 100, Timeout: 101}\n");
        CHECK(c.heartbeat.timeout == 101);
    }
    SECTION("path") {
        CHECK(error_of("Path: ws\n") ==
              "t.yaml:1:7: Path: must start with '/' and contain no spaces, '?' or '#', got 'ws'");
        CHECK(error_of("Path: /a b\n").rfind("t.yaml:1:7: Path: must start with '/'", 0) == 0);
        CHECK(error_of("Path: \"/ws?x=1\"\n").rfind("t.yaml:1:7: Path:", 0) == 0);
        CHECK(error_of("Path: ''\n").rfind("t.yaml:1:7: Path:", 0) == 0);
        CHECK(error_of("Path: /health\n") == "t.yaml:1:7: Path: '/health' is taken by the HTTP route of that name");
        CHECK(load_ok("Path: /push/v1/ws\n").path == "/push/v1/ws");
    }
    SECTION("hosts and claim") {
        CHECK(error_of("Host: ''\n") == "t.yaml:1:7: Host: must not be empty");
        CHECK(error_of("Auth: {UserClaim: ''}\n") == "t.yaml:1:19: Auth.UserClaim: must not be empty");
        for (const char* bad : {"localhost", "localhost:", ":6379", "localhost:0", "localhost:70000", "::1:6379",
                                "[nothex]:6379", "[::1]6379", "[::1]:", "a b:1", "host:06379", "host:63x"}) {
            INFO(bad);
            std::string e = error_of("Redis:\n  Host: '" + std::string(bad) + "'\n");
            CHECK(e.rfind("t.yaml:2:9: Redis.Host: expected host:port or [ipv6]:port", 0) == 0);
        }
        CHECK(load_ok("Redis: {Host: '[::1]:6380'}\n").redis.host == "[::1]:6380");
        CHECK(load_ok("Redis: {Host: redis.internal:6379}\n").redis.host == "redis.internal:6379");
    }
    SECTION("log level") {
        CHECK(error_of("Log: {Level: verbose}\n") ==
              "t.yaml:1:14: Log.Level: expected debug, info, warn or error, got 'verbose'");
        for (const char* level : {"debug", "info", "warn", "error"}) {
            CHECK(load_ok(std::string("Log: {Level: ") + level + "}\n").log.level == level);
        }
    }
    SECTION("log format") {
        CHECK(error_of("Log: {Format: xml}\n") == "t.yaml:1:15: Log.Format: expected text or json, got 'xml'");
        CHECK(load_ok("Log: {Format: json}\n").log.format == "json");
        CHECK(load_ok("Log: {Format: text}\n").log.format == "text");
    }
    SECTION("ReusePort") {
        CHECK(error_of("ReusePort: 2\n") == "t.yaml:1:12: ReusePort: expected true or false, got '2'");
        CHECK(load_ok("ReusePort: true\n").reuse_port);
        CHECK(error_of("Host: pushd.internal\nReusePort: true\n") ==
              "t.yaml:2:12: ReusePort: needs an IP address as Host (0.0.0.0, ::, 127.0.0.1...), got 'pushd.internal'");
    }
    SECTION("TLS needs both files") {
        CHECK(error_of("Security:\n  TLS:\n    Cert: /etc/pushd/cert.pem\n") ==
              "t.yaml:3:11: Security.TLS.Cert: is set but Security.TLS.Key is empty (set both for "
              "wss://, or neither)");
        CHECK(error_of("", {{"PUSHD_SECURITY_TLS_KEY", "/k.pem"}}) ==
              "PUSHD_SECURITY_TLS_KEY: Security.TLS.Key: is set but Security.TLS.Cert is empty (set "
              "both for wss://, or neither)");
    }
    SECTION("allowed origins") {
        Config c = load_ok(R"(Security:
  AllowedOrigins: ["*", "https://app.example.com", "http://localhost:3000",
                   "https://*.example.com", "http://[::1]:8080", "http://10.0.0.1"]
)");
        CHECK(c.security.allowed_origins.size() == 6);
        for (const char* bad : {"example.com", "https://a.com/", "https://a.com:0", "https://*.", "ftp//x",
                                "https://a..b", "https://*", "://a.com", "1http://a.com", "https://a.com:65536",
                                "https://[zz]:1", "https://a b.com", "", "https://a.com?x", "https://*.*.a.com"}) {
            INFO(bad);
            std::string e =
                error_of("Security:\n  AllowedOrigins:\n    - https://ok.com\n    - '" + std::string(bad) + "'\n");
            CHECK(e == "t.yaml:4:7: Security.AllowedOrigins: item 2 '" + std::string(bad) +
                           "' is not '*' or scheme://host[:port] (host may start with '*.')");
        }
    }
    SECTION("ip blacklist") {
        Config c = load_ok("Security: {IpBlacklist: [10.0.0.0/8, '2001:db8::/32', 192.168.1.1, '::1']}\n");
        CHECK(c.security.ip_blacklist.size() == 4);
        CHECK(error_of("Security:\n  IpBlacklist:\n    - 10.0.0.0/33\n") ==
              "t.yaml:3:7: Security.IpBlacklist: item 1 '10.0.0.0/33' is not an IP address or CIDR "
              "block (e.g. 10.0.0.0/8, 2001:db8::/32)");
        CHECK(error_of("", {{"PUSHD_SECURITY_IPBLACKLIST", "10.0.0.1,bad"}}) ==
              "PUSHD_SECURITY_IPBLACKLIST: Security.IpBlacklist: item 2 'bad' is not an IP address "
              "or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)");
        CHECK(error_of("Security:\n  IpBlacklist: ['10.0.0.0/8', '::/0', '1.2.3.4/32', '::1/128', '10.0.0.1/']\n") ==
              "t.yaml:2:64: Security.IpBlacklist: item 5 '10.0.0.1/' is not an IP address or CIDR "
              "block (e.g. 10.0.0.0/8, 2001:db8::/32)");
    }
    SECTION("trusted proxies") {
        CHECK(load_ok("").security.trusted_proxies.empty());
        Config c = load_ok("Security: {TrustedProxies: [10.0.0.0/8, '::1']}\n");
        CHECK(c.security.trusted_proxies == std::vector<std::string>{"10.0.0.0/8", "::1"});
        CHECK(error_of("Security:\n  TrustedProxies:\n    - 127.0.0.1\n    - 300.0.0.1\n") ==
              "t.yaml:4:7: Security.TrustedProxies: item 2 '300.0.0.1' is not an IP address or CIDR "
              "block (e.g. 10.0.0.0/8, 2001:db8::/32)");
        CHECK(load_ok("", {{"PUSHD_SECURITY_TRUSTEDPROXIES", "127.0.0.1, ::1"}}).security.trusted_proxies.size() == 2);
    }
}

TEST_CASE("environment overrides the file", "[config]") {
    const char* yaml = "Port: 8889\nCompression: {Enabled: true}\nRedis: {Host: 'a:1', Pass: x}\n";
    SECTION("int") {
        CHECK(load_ok(yaml, {{"PUSHD_PORT", "9000"}}).port == 9000);
        CHECK(load_ok(yaml, {{"PUSHD_LIMITS_MAXQUEUEBYTES", "2048"}}).limits.max_queue_bytes == 2048);
    }
    SECTION("bool") {
        CHECK_FALSE(load_ok(yaml, {{"PUSHD_COMPRESSION_ENABLED", "FALSE"}}).compression.enabled);
        CHECK(load_ok(yaml, {{"PUSHD_GROUPS_REQUIREMEMBERSHIP", "true"}}).groups.require_membership);
    }
    SECTION("string") {
        Config c = load_ok(yaml, {{"PUSHD_REDIS_HOST", "redis:6380"}, {"PUSHD_REDIS_PASS", ""}});
        CHECK(c.redis.host == "redis:6380");
        CHECK(c.redis.pass.empty());
        ConfigLoadResult r = load_config_string("Auth: {AccessSecret: from-file-but-too-short}\n", "t.yaml",
                                                env_of({{"PUSHD_AUTH_ACCESSSECRET", kSecret}}));
        REQUIRE(r.ok());
        CHECK(r->warnings.empty());
        CHECK(r->config.auth.access_secret == kSecret);
    }
    SECTION("list") {
        Config c = load_ok(yaml, {{"PUSHD_SECURITY_ALLOWEDORIGINS", "https://a.com, https://b.com:8443"},
                                  {"PUSHD_SECURITY_IPBLACKLIST", "10.0.0.0/8"}});
        CHECK(c.security.allowed_origins == std::vector<std::string>{"https://a.com", "https://b.com:8443"});
        CHECK(c.security.ip_blacklist == std::vector<std::string>{"10.0.0.0/8"});
        CHECK(load_ok(yaml, {{"PUSHD_SECURITY_ALLOWEDORIGINS", ""}}).security.allowed_origins.empty());
    }
    SECTION("nested TLS") {
        Config c = load_ok(yaml, {{"PUSHD_SECURITY_TLS_CERT", "/c.pem"}, {"PUSHD_SECURITY_TLS_KEY", "/k.pem"}});
        CHECK(c.security.tls.cert == "/c.pem");
        CHECK(c.security.tls.key == "/k.pem");
    }
    SECTION("errors name the variable") {
        CHECK(error_of(yaml, {{"PUSHD_PORT", "abc"}}) == "PUSHD_PORT: Port: expected an integer, got 'abc'");
        CHECK(error_of(yaml, {{"PUSHD_PORT", "70000"}}) == "PUSHD_PORT: Port: 70000 is out of range 1..65535");
        CHECK(error_of(yaml, {{"PUSHD_PORT", ""}}) == "PUSHD_PORT: Port: expected an integer, got ''");
        CHECK(error_of(yaml, {{"PUSHD_PORT", " 80"}}) == "PUSHD_PORT: Port: expected an integer, got ' 80'");
        CHECK(error_of(yaml, {{"PUSHD_PORT", "80x"}}) == "PUSHD_PORT: Port: expected an integer, got '80x'");
        CHECK(error_of(yaml, {{"PUSHD_COMPRESSION_ENABLED", "yes"}}) ==
              "PUSHD_COMPRESSION_ENABLED: Compression.Enabled: expected true or false, got 'yes'");
        CHECK(error_of(yaml, {{"PUSHD_SECURITY_IPBLACKLIST", "10.0.0.1,,10.0.0.2"}}) ==
              "PUSHD_SECURITY_IPBLACKLIST: Security.IpBlacklist: item 2 is empty (items are "
              "separated by ',')");
        CHECK(error_of(yaml, {{"PUSHD_NAME", "a\nb"}}) ==
              "PUSHD_NAME: Name: must not contain control characters (newlines, tabs, ...)");
    }
    SECTION("file errors come before environment errors") {
        CHECK(error_of("Port: abc\n", {{"PUSHD_PORT", "9000"}}) == "t.yaml:1:7: Port: expected an integer, got 'abc'");
    }
}

TEST_CASE("process_env and no_env", "[config]") {
    CHECK_FALSE(no_env()("PATH").has_value());
    ::setenv("PUSHD_CONFIG_TEST_PROBE", "42", 1);
    EnvLookup env = process_env();
    CHECK(env("PUSHD_CONFIG_TEST_PROBE") == std::optional<std::string>("42"));
    ::unsetenv("PUSHD_CONFIG_TEST_PROBE");
    CHECK_FALSE(env("PUSHD_CONFIG_TEST_PROBE").has_value());
}

TEST_CASE("parse_host_port", "[config]") {
    auto hp = parse_host_port("127.0.0.1:6379");
    REQUIRE(hp);
    CHECK(hp->host == "127.0.0.1");
    CHECK(hp->port == 6379);
    hp = parse_host_port("[2001:db8::1]:7000");
    REQUIRE(hp);
    CHECK(hp->host == "2001:db8::1");
    CHECK(hp->port == 7000);
    CHECK_FALSE(parse_host_port("[10.0.0.1]:7000"));
    CHECK_FALSE(parse_host_port("redis"));
    CHECK_FALSE(parse_host_port(""));
}

TEST_CASE("restart-only changes", "[config]") {
    Config a;
    Config b;
    CHECK(config_restart_only_changes(a, b).empty());

    // Reloadable: Security.*, Limits.*, Log.Level.
    b.limits.burst = 99;
    b.limits.max_message_bytes = 1024;
    b.log.level = "debug";
    b.security.ip_blacklist = {"10.0.0.0/8"};
    b.security.allowed_origins = {"https://a.com"};
    CHECK(config_restart_only_changes(a, b).empty());
    b.security.tls.cert = "/c.pem";
    CHECK(config_restart_only_changes(a, b) == std::vector<std::string>{"Security.TLS.Cert"});
    b.security.tls.cert.clear();

    b.port = 9000;
    b.redis.host = "redis:6379";
    b.auth.access_secret = "other";
    b.heartbeat.interval = 10;
    b.compression.enabled = false;
    b.groups.auto_join = false;
    std::vector<std::string> expected = {
        "Port", "Redis.Host", "Auth.AccessSecret", "Groups.AutoJoin", "Heartbeat.Interval", "Compression.Enabled"};
    CHECK(config_restart_only_changes(a, b) == expected);
    CHECK(config_restart_only_changes(b, a) == expected);
}

TEST_CASE("config_to_lines masks secrets", "[config]") {
    Config c;
    std::string plain = config_to_lines(c);
    CHECK(plain.find("Port=8889\n") != std::string::npos);
    CHECK(plain.find("Security.AllowedOrigins=*\n") != std::string::npos);
    CHECK(plain.find("Security.IpBlacklist=\n") != std::string::npos);
    CHECK(plain.find("Auth.AccessSecret=\n") != std::string::npos);
    CHECK(plain.find("Redis.Pass=\n") != std::string::npos);
    CHECK(plain.find("Compression.Enabled=true\n") != std::string::npos);
    CHECK(plain.rfind("Name=pushd\n", 0) == 0);
    size_t lines = 0;
    for (char ch : plain) lines += ch == '\n';
    CHECK(lines == config_detail::config_keys().size());

    c.auth.access_secret = "super-secret-value-0123456789abcdef";
    c.redis.pass = "redis-password";
    c.security.ip_blacklist = {"10.0.0.0/8", "::1"};
    std::string text = config_to_lines(c);
    CHECK(text.find("Auth.AccessSecret=***\n") != std::string::npos);
    CHECK(text.find("Redis.Pass=***\n") != std::string::npos);
    CHECK(text.find("super-secret") == std::string::npos);
    CHECK(text.find("redis-password") == std::string::npos);
    CHECK(text.find("Security.IpBlacklist=10.0.0.0/8,::1\n") != std::string::npos);
}

TEST_CASE("Redis.Mode: sentinel needs sentinels and a master name, cluster nodes and DB 0", "[config]") {
    CHECK(error_of("Redis: {Mode: primary}") ==
          "t.yaml:1:15: Redis.Mode: expected single, sentinel or cluster, got 'primary'");
    CHECK(error_of("Redis: {Mode: sentinel, MasterName: m}") ==
          "t.yaml: Redis.Sentinels: required with Redis.Mode: sentinel");
    CHECK(error_of("Redis: {Mode: sentinel, Sentinels: [\"10.0.0.1:26379\"]}") ==
          "t.yaml: Redis.MasterName: required with Redis.Mode: sentinel");
    CHECK(error_of("Redis: {Mode: sentinel, MasterName: m, Sentinels: [\"a:1\", nohost]}") ==
          "t.yaml:1:59: Redis.Sentinels: item 2 'nohost' is not host:port");
    CHECK(error_of("Redis: {Mode: cluster}") == "t.yaml: Redis.Nodes: required with Redis.Mode: cluster");
    CHECK(error_of("Redis: {Mode: cluster, Nodes: [\"a:1\", \"b\"]}") ==
          "t.yaml:1:39: Redis.Nodes: item 2 'b' is not host:port");
    CHECK(error_of("Redis: {Mode: cluster, DB: 1, Nodes: [\"a:1\"]}") ==
          "t.yaml:1:28: Redis.DB: must be 0 with Redis.Mode: cluster");
    CHECK(error_of("Redis: {Mode: cluster, BusShards: 0, Nodes: [\"a:1\"]}").find("Redis.BusShards") !=
          std::string::npos);
    Config k = load_ok("Redis: {Mode: cluster, Nodes: [\"127.0.0.1:7000\", \"b:7001\"], BusShards: 3}");
    CHECK(k.redis.nodes == std::vector<std::string>{"127.0.0.1:7000", "b:7001"});
    CHECK(k.redis.bus_shards == 3);
    Config c = load_ok("Redis: {Mode: sentinel, MasterName: mymaster, Sentinels: [\"127.0.0.1:26379\", \"b:2\"]}");
    CHECK(c.redis.mode == "sentinel");
    CHECK(c.redis.master_name == "mymaster");
    CHECK(c.redis.sentinels == std::vector<std::string>{"127.0.0.1:26379", "b:2"});
}

TEST_CASE("Api.Listen is host:port or empty, Api.Keys at least 16 characters each and hidden", "[config]") {
    Config d = load_ok("");
    CHECK(d.api.listen == "127.0.0.1:8890");
    CHECK_FALSE(d.api.listen_explicit);
    CHECK(d.api.keys.empty());
    Config off = load_ok("Api: {Listen: \"\"}");
    CHECK(off.api.listen.empty());
    CHECK(off.api.listen_explicit);
    CHECK(error_of("Api: {Listen: nowhere}") ==
          "t.yaml:1:15: Api.Listen: expected host:port (or \"\" to turn the API off), got 'nowhere'");
    CHECK(error_of("Api: {Keys: [\"0123456789abcdef\", short]}") ==
          "t.yaml:1:34: Api.Keys: item 2 is shorter than 16 characters");
    Config c = load_ok("Api: {Listen: \"0.0.0.0:9000\", Keys: [\"0123456789abcdef\"]}");
    CHECK(c.api.keys == std::vector<std::string>{"0123456789abcdef"});
    CHECK(config_to_lines(c).find("0123456789abcdef") == std::string::npos);
    CHECK(load_ok("", {{"PUSHD_API_LISTEN", "127.0.0.2:1234"}}).api.listen == "127.0.0.2:1234");
}
