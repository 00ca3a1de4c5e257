// A pushd under test: configuration file, start, health wait, signals,
// captured log; plus one-shot runs (`--check`, `--version`, bad configs).
#pragma once

#include "client/http_get.hpp"
#include "client/ws_client.hpp"
#include "process.hpp"

#include <csignal>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pushd::test {

// The Auth.AccessSecret of standard_config(), for make_token().
inline constexpr const char* kTestSecret = "test-secret-0123456789abcdef-0123456789";

// Config keys to set or replace, as dotted paths ("Port",
// "Limits.MaxMessageBytes", "Security.TLS.Cert") -> YAML value text written
// verbatim ("1024", "true", "[\"10.0.0.0/8\"]", "\"a b\"").
using ConfigOverrides = std::vector<std::pair<std::string, std::string>>;

// The YAML of the standard test configuration: pushd on 127.0.0.1:`port`,
// path /ws, Redis at 127.0.0.1:`redis_port`, Auth.AccessSecret kTestSecret,
// ShutdownTimeout 5, Log.Level info; every other key at pushd's default.
// `overrides` replace those keys or add others, keeping the nesting.
std::string standard_config(uint16_t port, uint16_t redis_port, const ConfigOverrides& overrides = {});

// Absolute paths baked in at build time (CMake compile definitions).
const char* pushd_binary();
const char* pushctl_binary();
const char* source_dir();

// How to start a pushd.
struct PushdOptions {
    uint16_t port = 0;              // the port its config listens on (health wait, clients)
    std::string ws_path = "/ws";    // its Path, for ws_options()
    std::string config_yaml;        // written to <dir>/pushd.yaml, passed as -f <file>
    std::vector<std::string> args;  // extra arguments after "-f <file>"
    EnvVars env;                    // extra environment (PUSHD_* overrides)
    bool wait_healthy = true;       // start() waits until GET /health answers (any status)
    // Its config sets Security.TLS.*: get() and the health wait use https
    // and ws_options() wss (any certificate accepted); clients need a hub
    // made with enable_tls.
    bool tls = false;
    int start_timeout_ms = 15000;
};

// Standard options: a free port, standard_config(port, redis_port, overrides).
PushdOptions standard_options(uint16_t redis_port, const ConfigOverrides& overrides = {});

// One pushd process (PUSHD_BINARY). The destructor stops it (SIGTERM, then
// SIGKILL) if it still runs.
class PushdProcess {
public:
    PushdProcess();
    ~PushdProcess();
    PushdProcess(const PushdProcess&) = delete;
    PushdProcess& operator=(const PushdProcess&) = delete;

    // Writes the config, starts pushd -f <file> args..., and (wait_healthy)
    // waits until GET /health on 127.0.0.1:port answers with any status.
    // False (see error(), log()) when it exited or never answered; it is
    // then stopped. A second start() after stop() reuses the same log file
    // (appended) and rewrites the config.
    bool start(const PushdOptions& options);

    // Starts again with the options of the last start().
    bool restart();

    // Sends `sig` and waits up to `timeout_ms` for the exit; SIGKILL after
    // that (exit.killed). Returns how it ended (exit code 0 expected on
    // SIGTERM/SIGINT).
    ProcessExit stop(int sig = SIGTERM, int timeout_ms = 15000);

    // Waits up to `timeout_ms` for pushd to exit on its own.
    ProcessExit wait_exit(int timeout_ms);

    // Sends `sig` (SIGHUP to reload). False when not running.
    bool signal(int sig);

    bool running() { return child_.running(); }
    pid_t pid() const { return child_.pid(); }
    uint16_t port() const { return options_.port; }
    const std::string& config_path() const { return config_path_; }
    const std::string& dir() const { return dir_; }

    // Replaces the config file's content (then signal(SIGHUP) to reload).
    bool rewrite_config(const std::string& yaml);

    // Everything pushd wrote to stdout and stderr so far.
    std::string log() const;
    // The log's current size: pass it to wait_log to look only at what
    // comes after this point.
    size_t log_mark() const;
    // Waits until the log (from byte `from`) contains `needle`.
    bool wait_log(const std::string& needle, int timeout_ms, size_t from = 0) const;

    const std::string& error() const { return error_; }

    // GET `path` from this pushd's HTTP port (https with options.tls).
    HttpResponse get(const std::string& path, int timeout_ms = 5000) const;

    // The value of one /metrics sample, named with its labels as printed
    // ("pushd_rate_limited_total", "x_total{reason=\"origin\"}"); -1 when
    // absent or /metrics did not answer.
    double metric(const std::string& sample) const;

    // Connect options for this pushd's WebSocket endpoint; `query` is
    // appended to the path ("?token=...").
    ConnectOptions ws_options(const std::string& query = "") const;

private:
    PushdOptions options_;
    std::string dir_;
    std::string config_path_;
    std::string log_path_;
    std::string error_;
    ChildProcess child_;
};

// The value of one sample line of `p`'s /metrics ("name" or
// "name{labels}" exactly as printed), "" when the line is absent.
std::string metric(const PushdProcess& p, const std::string& sample);

// Runs pushd to completion: with `config_yaml` non-empty it is written to a
// file and "-f <file>" goes first; then `args`. For --check, --version,
// --print-config and bad configurations.
RunResult run_pushd(const std::string& config_yaml, const std::vector<std::string>& args, const EnvVars& env = {},
                    int timeout_ms = 10000);

// Runs pushctl to completion with `args` (add "-f", file yourself).
RunResult run_pushctl(const std::vector<std::string>& args, const EnvVars& env = {}, int timeout_ms = 10000);

}  // namespace pushd::test
