// pushd-bench: the load generator (idle connections, fan-out, the highest
// zero-loss rate). One JSON object on stdout at the end; progress on stderr.
//
//   pushd-bench idle   --url ws://127.0.0.1:P/ws --connections N [--hold S]
//   pushd-bench fanout --url ... --subscribers N --rate R --duration S
//   pushd-bench closed --url ... --subscribers N --in-flight W [--groups G --publishers P]
//   pushd-bench broadcast --url ... --connections N --rate R --redis HOST:PORT --key-prefix P
//   pushd-bench sweep  --url ... --subscribers N [--start R --factor F ...]
//   pushd-bench report RESULTS.json   (the table of a bench/run.sh run)
// Common: --secret S (default: the -f configuration's Auth.AccessSecret),
// --server-pid PID (server RSS and CPU from /proc), --redis-pid PID,
// --batch N. Exit status 0, 1 when the run failed, 2 usage or configuration.
// The engine is in loop.*, the scenarios in scenarios.*; this file is the
// one that prints results and errors and picks the exit status.
#include "report.hpp"
#include "scenarios.hpp"

#include "core/config.hpp"
#include "io/self_paths.hpp"

#include <cJSON.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

namespace {

enum Exit : int { kOk = 0, kFailed = 1, kUsage = 2 };

using Scenario = cJSON* (*)(const pushd_bench::Options&, bool&);

struct Args {
    std::string config_path = pushd::self_install_paths().config;
    bool config_given = false;
    std::string url = "ws://127.0.0.1:8889/ws";
    std::string secret;
    std::string user_claim;
    pushd_bench::Options o;
    Scenario scenario = nullptr;  // idle, fanout, closed, sweep
    size_t in_flight = 16;        // closed: W
    std::string report_file;      // report
};

int fail(int status, const std::string& message) {
    std::fprintf(stderr, "pushd-bench: %s\n", message.c_str());
    return status;
}

// ws://host:port/path -> options. false on anything else.
bool parse_ws_url(const std::string& url, pushd_bench::Options& o) {
    const std::string scheme = "ws://";
    if (url.rfind(scheme, 0) != 0) return false;
    std::string rest = url.substr(scheme.size());
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    o.path = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = hostport.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    o.host = hostport.substr(0, colon);
    char* end = nullptr;
    long port = std::strtol(hostport.c_str() + colon + 1, &end, 10);
    if (!end || *end != '\0' || port < 1 || port > 65535) return false;
    o.port = static_cast<uint16_t>(port);
    return true;
}

void add_common(CLI::App* cmd, Args& a) {
    cmd->add_option("--url", a.url, "WebSocket endpoint, ws://IPv4:PORT/PATH")->capture_default_str();
    cmd->add_option("--secret", a.secret, "HS256 secret for the tokens (default: the config's Auth.AccessSecret)");
    cmd->add_option("--user-claim", a.user_claim, "JWT claim holding the user id (default: the config's, else userId)");
    cmd->add_option("--user-prefix", a.o.user_prefix, "user ids are PREFIX<n>, the publisher PREFIXpub")
        ->capture_default_str();
    cmd->add_option("--server-pid", a.o.server_pid, "server process: RSS and CPU read from /proc/PID");
    cmd->add_option("--redis-pid", a.o.redis_pid, "Redis process: its CPU reported beside the server's");
    cmd->add_option("--batch", a.o.batch, "handshakes outstanding at a time")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    cmd->add_option("--setup-timeout", a.o.setup_timeout_s, "seconds allowed for connecting everyone")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
    cmd->add_flag("--deflate", a.o.deflate,
                  "offer permessage-deflate; compressed pushes are inflated (counted as compressed_messages_in)");
}

void add_fanout(CLI::App* cmd, Args& a) {
    cmd->add_option("--subscribers", a.o.subscribers, "subscriber connections in the group")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    cmd->add_option("--group", a.o.group, "group id")->capture_default_str();
    cmd->add_option("--duration", a.o.duration_s, "measured window, seconds")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    cmd->add_option("--drain", a.o.drain_s, "seconds to wait for stragglers after the window")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    cmd->add_option("--content-bytes", a.o.content_bytes, "content length of each message (>= ~32)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    cmd->add_option("--max-inflight", a.o.max_inflight, "rate 0: unacknowledged sends at most")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    cmd->add_option("--warmup", a.o.warmup_s, "unmeasured seconds of sending first (0: none)")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    cmd->add_option("--tolerance", a.o.tolerance, "pass: achieved rates within this fraction of the requested")
        ->check(CLI::Range(0.0, 0.5))
        ->capture_default_str();
}

void add_idle_command(CLI::App& app, Args& a) {
    CLI::App* idle = app.add_subcommand("idle", "hold N authenticated idle connections; server RSS per connection");
    add_common(idle, a);
    idle->add_option("--connections", a.o.connections, "connections to open")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    idle->add_option("--hold", a.o.hold_s, "seconds to hold them idle")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    idle->add_flag("--no-auth", a.o.no_auth,
                   "never authenticate (what a bare WebSocket costs; servers may close them at their auth timeout)");
    idle->callback([&a] { a.scenario = pushd_bench::run_idle; });
}

void add_fanout_command(CLI::App& app, Args& a) {
    CLI::App* fan =
        app.add_subcommand("fanout", "one publisher, N subscribers in one group: deliveries, loss, latency, CPU");
    add_common(fan, a);
    add_fanout(fan, a);
    fan->add_option("--rate", a.o.rate, "messages/s from the publisher (0: as fast as max-inflight allows)")
        ->check(CLI::Range(0.0, 10000000.0))
        ->capture_default_str();
    fan->add_option("--repeat", a.o.repeat, "windows to run; the one with the median CPU per delivery is reported")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    fan->callback([&a] { a.scenario = pushd_bench::run_fanout; });
}

void add_closed_command(CLI::App& app, Args& a) {
    CLI::App* closed = app.add_subcommand(
        "closed", "closed loop: publishers keeping W sends in flight each, N subscribers in G groups");
    add_common(closed, a);
    add_fanout(closed, a);
    closed->add_option("--in-flight", a.in_flight, "W: unacknowledged sends kept in flight")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    closed->add_option("--groups", a.o.groups, "groups; subscriber i joins group i mod G (many-group: 100)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    closed->add_option("--publishers", a.o.publishers, "publishers, each W in flight, one per group (G multiple of P)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    closed->add_option("--repeat", a.o.repeat, "windows to run; the one with the median CPU per delivery is reported")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    closed->callback([&a] {
        a.o.max_inflight = a.in_flight;
        a.scenario = pushd_bench::run_closed;
    });
}

void add_broadcast_command(CLI::App& app, Args& a) {
    CLI::App* b = app.add_subcommand(
        "broadcast", "notifications to `all` (XADD to the notify stream) reaching N connections: deliveries, CPU");
    add_common(b, a);
    b->add_option("--connections", a.o.connections, "connections (each gets every notification)")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    b->add_option("--rate", a.o.rate, "notifications/s")->check(CLI::Range(0.1, 100000.0))->capture_default_str();
    b->add_option("--duration", a.o.duration_s, "measured window, seconds")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    b->add_option("--repeat", a.o.repeat, "windows; the one with the median CPU per delivery is reported")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    b->add_option("--content-bytes", a.o.content_bytes, "content length in each notification's data (>= ~32)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    b->add_option("--warmup", a.o.warmup_s, "unmeasured seconds of sending first (0: none)")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    b->add_option("--redis", a.o.redis_addr, "the Redis the server reads, IPv4:PORT")->capture_default_str();
    b->add_option("--key-prefix", a.o.key_prefix, "the server's Redis.KeyPrefix")->capture_default_str();
    b->callback([&a] { a.scenario = pushd_bench::run_broadcast; });
}

void add_sweep_command(CLI::App& app, Args& a) {
    CLI::App* sweep = app.add_subcommand("sweep", "step the fan-out rate up to the highest one with zero loss");
    add_common(sweep, a);
    add_fanout(sweep, a);
    sweep->add_option("--start", a.o.start_rate, "first rate, messages/s")
        ->check(CLI::Range(1.0, 10000000.0))
        ->capture_default_str();
    sweep->add_option("--factor", a.o.factor, "rate multiplier per step")
        ->check(CLI::Range(1.05, 10.0))
        ->capture_default_str();
    sweep->add_option("--max-rate", a.o.max_rate, "stop stepping above this rate")->capture_default_str();
    sweep->add_option("--step-duration", a.o.step_duration_s, "seconds per step")
        ->check(CLI::Range(0.5, 600.0))
        ->capture_default_str();
    sweep->add_option("--refine", a.o.refine_steps, "bisection steps after the first failure")
        ->check(CLI::Range(0, 10))
        ->capture_default_str();
    sweep->add_flag("!--no-confirm", a.o.confirm, "skip the full-duration rerun of the best rate");
    sweep->callback([&a] { a.scenario = pushd_bench::run_sweep; });
}

void add_report_command(CLI::App& app, Args& a) {
    CLI::App* report = app.add_subcommand("report", "print the Markdown table of a bench/run.sh results file");
    report->add_option("file", a.report_file, "results JSON written by bench/run.sh")->required();
}

// Loads the -f configuration (with the PUSHD_* overrides and the unit's
// EnvironmentFile, as pushd and pushctl do); nullopt after printing why.
std::optional<pushd::Config> load_config(const Args& a) {
    pushd::ConfigLoadResult r =
        pushd::load_config_file(a.config_path, pushd::env_with_file(pushd::self_install_paths().environment));
    if (!r.ok()) {
        fail(kUsage, r.error());
        return std::nullopt;
    }
    return std::move(r->config);
}

// Fills the URL, secret and claim; then runs the scenario and prints its JSON.
int run_scenario(Args& a) {
    if (!parse_ws_url(a.url, a.o)) return fail(kUsage, "--url: expected ws://IPv4:PORT/PATH, got '" + a.url + "'");
    a.o.secret = a.secret;
    a.o.user_claim = a.user_claim.empty() ? "userId" : a.user_claim;
    if (a.o.secret.empty()) {
        const std::optional<pushd::Config> cfg = load_config(a);
        if (!cfg) return kUsage;
        a.o.secret = cfg->auth.access_secret;
        if (a.user_claim.empty()) a.o.user_claim = cfg->auth.user_claim;
    }
    bool ok = false;
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> out(a.scenario(a.o, ok), cJSON_Delete);
    char* text = cJSON_PrintUnformatted(out.get());
    if (text) {
        std::printf("%s\n", text);
        cJSON_free(text);
    }
    std::fflush(stdout);
    if (ok) return kOk;
    const cJSON* e = cJSON_GetObjectItemCaseSensitive(out.get(), "error");
    return fail(kFailed, cJSON_IsString(e) ? e->valuestring : "failed");
}

int run_report(const Args& a) {
    std::string table, err;
    if (!pushd_bench::render_report(a.report_file, table, err)) return fail(kFailed, err);
    std::fwrite(table.data(), 1, table.size(), stdout);
    std::fflush(stdout);
    return kOk;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    CLI::App app{"pushd-bench: the load generator for pushd (and servers speaking its protocol)"};
    app.set_version_flag("-v,--version", std::string("pushd-bench ") + PUSHD_VERSION);
    CLI::Option* config = app.add_option("-f,--config", a.config_path,
                                         "pushd configuration file (for Auth.AccessSecret without --secret)")
                              ->capture_default_str();
    app.require_subcommand(1);
    add_idle_command(app, a);
    add_fanout_command(app, a);
    add_closed_command(app, a);
    add_broadcast_command(app, a);
    add_sweep_command(app, a);
    add_report_command(app, a);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::fprintf(stderr, "pushd-bench: %s (see --help)\n", e.what());
        return kUsage;
    }
    a.config_given = config->count() > 0;
    // As pushctl (contract section 8): a -f file that is missing,
    // unreadable or invalid is exit 2, also when nothing is needed from it.
    if (a.config_given && !load_config(a)) return kUsage;
    return a.scenario ? run_scenario(a) : run_report(a);
}
