// What every pushctl subcommand shares: the global options, the loaded
// configuration, the pushd to talk to over HTTP(S) or WebSocket, and the
// error funnel (a command returns a status; only main prints and exits).
#pragma once

#include "client/http_get.hpp"
#include "core/config.hpp"
#include "io/self_paths.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace pushctl {

// Exit statuses (PROTOCOL.md section 8).
enum Exit : int { kOk = 0, kFailed = 1, kUsage = 2 };

// A command's failure: the one line printed to stderr, and the status.
struct CommandError {
    int status = kFailed;
    std::string message;
};

// Where a pushd serves: its HTTP(S) port, which also serves WebSocket.
struct ServerAddress {
    std::string url;   // as given or derived ("https://127.0.0.1:8889"), for messages
    std::string host;  // without the brackets of an IPv6 literal
    uint16_t port = 0;
    bool tls = false;  // https:// (and wss://)
};

// The --server of a pushd that does not say otherwise.
inline constexpr const char* kDefaultServer = "http://127.0.0.1:8889";

struct Context {
    // Installed: <sysconfdir>/pushd/pushd.yaml; in a build tree etc/pushd.yaml.
    std::string config_path = pushd::self_install_paths().config;
    bool config_given = false;  // -f was on the command line
    // --server; empty: the pushd the configuration describes (server()).
    std::string server;
    bool tls_insecure = false;  // --insecure
    std::string ca_file;        // --cacert
    bool json = false;
    // Set by the chosen subcommand; main runs it after parsing.
    std::function<int(Context&)> run;
    // The last error a command reported (printed by main).
    std::optional<CommandError> error;

    // Loads config_path (with PUSHD_* overrides) once. On failure records a
    // usage error (exit 2) and returns nullptr.
    const pushd::Config* config();

    // Records an error and returns its status, for `return ctx.fail(...)`.
    int fail(int status, std::string message);

    // The pushd to talk to: --server (http://host:port, https://host:port or
    // host:port); without it, the one the configuration describes (https
    // when Security.TLS.Cert is set, Host, or 127.0.0.1 for a wildcard Host,
    // and Port), or kDefaultServer when no -f was given and the default
    // configuration file does not exist. nullopt after recording a usage
    // error (malformed --server, unloadable configuration, unreadable
    // --cacert with https).
    std::optional<ServerAddress> server_address();

    // GET `path` from server_address(): the response (any status), or
    // nullopt after recording the error: usage (exit 2) as above, or failed
    // (exit 1) when no HTTP answer came (unreachable, timeout, TLS
    // handshake or certificate failure).
    std::optional<pushd::HttpResponse> server_get(const std::string& path);

    // `error` with, when it says a certificate was not trusted (unknown
    // issuer, or a host name or IP address it does not hold) and --insecure
    // is off, what would make it trusted.
    std::string with_tls_hint(const std::string& error) const;

private:
    std::optional<pushd::Config> config_;
};

// One registration function per subcommand, in cmd_<name>.cpp.
void set_health_command(CLI::App* app, Context& ctx);
void set_stats_command(CLI::App* app, Context& ctx);
void set_token_command(CLI::App* app, Context& ctx);
void set_notify_command(CLI::App* app, Context& ctx);
void set_group_command(CLI::App* app, Context& ctx);
void set_publish_command(CLI::App* app, Context& ctx);
void set_tail_command(CLI::App* app, Context& ctx);
void set_listen_command(CLI::App* app, Context& ctx);
void set_presence_command(CLI::App* app, Context& ctx);
void set_control_commands(CLI::App* app, Context& ctx);

}  // namespace pushctl
