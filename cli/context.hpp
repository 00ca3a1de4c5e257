// What every pushctl subcommand shares: the global options, the loaded
// configuration, and the error funnel (a command returns a status; only
// main prints and exits).
#pragma once

#include "core/config.hpp"

#include <CLI/CLI.hpp>

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

struct Context {
    std::string config_path = "etc/pushd.yaml";
    std::string server = "http://127.0.0.1:8889";
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

    // host and port of --server (http://host:port); false if malformed.
    bool server_address(std::string& host, uint16_t& port);

private:
    std::optional<pushd::Config> config_;
};

// One registration function per subcommand, in cmd_<name>.cpp.
void set_health_command(CLI::App* app, Context& ctx);
void set_stats_command(CLI::App* app, Context& ctx);
void set_token_command(CLI::App* app, Context& ctx);
void set_bench_command(CLI::App* app, Context& ctx);
void set_notify_command(CLI::App* app, Context& ctx);
void set_group_command(CLI::App* app, Context& ctx);
void set_publish_command(CLI::App* app, Context& ctx);
void set_tail_command(CLI::App* app, Context& ctx);
void set_listen_command(CLI::App* app, Context& ctx);

}  // namespace pushctl
