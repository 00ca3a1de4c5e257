// pushctl bench: the load generator (idle connections, fan-out, the highest
// zero-loss rate). One JSON object on stdout at the end; progress on stderr.
//
//   pushctl bench idle   --url ws://127.0.0.1:P/ws --connections N [--hold S]
//   pushctl bench fanout --url ... --subscribers N --rate R --duration S
//   pushctl bench sweep  --url ... --subscribers N [--start R --factor F ...]
//   pushctl bench report RESULTS.json   (the table of a bench/run.sh run)
// Common: --secret S (default: the config's Auth.AccessSecret), --server-pid
// PID (server RSS and CPU from /proc), --redis-pid PID, --batch N.
// The engine is in bench_net.*, the scenarios in bench_scenarios.*.
#include "bench_report.hpp"
#include "bench_scenarios.hpp"
#include "context.hpp"

#include <cJSON.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace pushctl {
namespace {

struct BenchArgs {
    std::string url = "ws://127.0.0.1:8889/ws";
    std::string secret;
    std::string user_claim;
    bench::Options o;
};

// ws://host:port/path -> options. false on anything else.
bool parse_ws_url(const std::string& url, bench::Options& o) {
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

void add_common(CLI::App* cmd, BenchArgs& a) {
    cmd->add_option("--url", a.url, "WebSocket endpoint, ws://IPv4:PORT/PATH")->capture_default_str();
    cmd->add_option("--secret", a.secret, "HS256 secret for the tokens (default: the config's Auth.AccessSecret)");
    cmd->add_option("--user-claim", a.user_claim, "JWT claim holding the user id (default: the config's, else userId)");
    cmd->add_option("--user-prefix", a.o.user_prefix, "user ids are PREFIX<n>, the publisher PREFIXpub")->capture_default_str();
    cmd->add_option("--server-pid", a.o.server_pid, "server process: RSS and CPU read from /proc/PID");
    cmd->add_option("--redis-pid", a.o.redis_pid, "Redis process: its CPU reported beside the server's");
    cmd->add_option("--batch", a.o.batch, "handshakes outstanding at a time")->check(CLI::Range(1, 100000))->capture_default_str();
    cmd->add_option("--setup-timeout", a.o.setup_timeout_s, "seconds allowed for connecting everyone")
        ->check(CLI::Range(1.0, 3600.0))->capture_default_str();
    cmd->add_flag("--deflate", a.o.deflate, "offer permessage-deflate; compressed pushes are inflated (counted as compressed_messages_in)");
}

void add_fanout(CLI::App* cmd, BenchArgs& a) {
    cmd->add_option("--subscribers", a.o.subscribers, "subscriber connections in the group")->check(CLI::Range(1, 1000000))->capture_default_str();
    cmd->add_option("--group", a.o.group, "group id")->capture_default_str();
    cmd->add_option("--duration", a.o.duration_s, "measured window, seconds")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
    cmd->add_option("--drain", a.o.drain_s, "seconds to wait for stragglers after the window")->check(CLI::Range(0.0, 600.0))->capture_default_str();
    cmd->add_option("--content-bytes", a.o.content_bytes, "content length of each message (>= ~32)")->check(CLI::Range(0, 1 << 20))->capture_default_str();
    cmd->add_option("--max-inflight", a.o.max_inflight, "rate 0: unacknowledged sends at most")->check(CLI::Range(1, 100000))->capture_default_str();
    cmd->add_option("--warmup", a.o.warmup_s, "unmeasured seconds of sending first (0: none)")->check(CLI::Range(0.0, 60.0))->capture_default_str();
    cmd->add_option("--tolerance", a.o.tolerance, "pass: achieved rates within this fraction of the requested")->check(CLI::Range(0.0, 0.5))->capture_default_str();
}

// Fills the secret and claim, parses the URL; then runs `fn` and prints its JSON.
int run_bench(Context& c, BenchArgs& a, cJSON* (*fn)(const bench::Options&, bool&)) {
    if (!parse_ws_url(a.url, a.o)) return c.fail(kUsage, "--url: expected ws://IPv4:PORT/PATH, got '" + a.url + "'");
    a.o.secret = a.secret;
    a.o.user_claim = a.user_claim.empty() ? "userId" : a.user_claim;
    if (a.o.secret.empty()) {
        const pushd::Config* cfg = c.config();
        if (!cfg) return kUsage;
        a.o.secret = cfg->auth.access_secret;
        if (a.user_claim.empty()) a.o.user_claim = cfg->auth.user_claim;
    }
    bool ok = false;
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> out(fn(a.o, ok), cJSON_Delete);
    char* text = cJSON_PrintUnformatted(out.get());
    if (text) {
        std::printf("%s\n", text);
        cJSON_free(text);
    }
    std::fflush(stdout);
    if (!ok) {
        const cJSON* e = cJSON_GetObjectItemCaseSensitive(out.get(), "error");
        return c.fail(kFailed, std::string("bench: ") + (cJSON_IsString(e) ? e->valuestring : "failed"));
    }
    return kOk;
}

}  // namespace

void set_bench_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("bench", "load generator (connections, fan-out, latency)");
    cmd->require_subcommand(1);
    auto args = std::make_shared<BenchArgs>();

    CLI::App* idle = cmd->add_subcommand("idle", "hold N authenticated idle connections; server RSS per connection");
    add_common(idle, *args);
    idle->add_option("--connections", args->o.connections, "connections to open")->check(CLI::Range(1, 1000000))->capture_default_str();
    idle->add_option("--hold", args->o.hold_s, "seconds to hold them idle")->check(CLI::Range(0.0, 3600.0))->capture_default_str();
    idle->add_flag("--no-auth", args->o.no_auth, "never authenticate (what a bare WebSocket costs; servers may close them at their auth timeout)");
    idle->callback([&ctx, args] { ctx.run = [args](Context& c) { return run_bench(c, *args, bench::run_idle); }; });

    CLI::App* fan = cmd->add_subcommand("fanout", "one publisher, N subscribers in one group: deliveries, loss, latency, CPU");
    add_common(fan, *args);
    add_fanout(fan, *args);
    fan->add_option("--rate", args->o.rate, "messages/s from the publisher (0: as fast as max-inflight allows)")
        ->check(CLI::Range(0.0, 10000000.0))->capture_default_str();
    fan->add_option("--repeat", args->o.repeat, "windows to run; the one with the median CPU per delivery is reported")
        ->check(CLI::Range(1, 100))->capture_default_str();
    fan->callback([&ctx, args] { ctx.run = [args](Context& c) { return run_bench(c, *args, bench::run_fanout); }; });

    CLI::App* sweep = cmd->add_subcommand("sweep", "step the fan-out rate up to the highest one with zero loss");
    add_common(sweep, *args);
    add_fanout(sweep, *args);
    sweep->add_option("--start", args->o.start_rate, "first rate, messages/s")->check(CLI::Range(1.0, 10000000.0))->capture_default_str();
    sweep->add_option("--factor", args->o.factor, "rate multiplier per step")->check(CLI::Range(1.05, 10.0))->capture_default_str();
    sweep->add_option("--max-rate", args->o.max_rate, "stop stepping above this rate")->capture_default_str();
    sweep->add_option("--step-duration", args->o.step_duration_s, "seconds per step")->check(CLI::Range(0.5, 600.0))->capture_default_str();
    sweep->add_option("--refine", args->o.refine_steps, "bisection steps after the first failure")->check(CLI::Range(0, 10))->capture_default_str();
    sweep->add_flag("!--no-confirm", args->o.confirm, "skip the full-duration rerun of the best rate");
    sweep->callback([&ctx, args] { ctx.run = [args](Context& c) { return run_bench(c, *args, bench::run_sweep); }; });

    CLI::App* report = cmd->add_subcommand("report", "print the Markdown table of a bench/run.sh results file");
    auto file = std::make_shared<std::string>();
    report->add_option("file", *file, "results JSON written by bench/run.sh")->required();
    report->callback([&ctx, file] {
        ctx.run = [file](Context& c) -> int {
            std::string err;
            if (bench::print_report(*file, err) != 0) return c.fail(kFailed, err);
            return kOk;
        };
    });
}

}  // namespace pushctl
