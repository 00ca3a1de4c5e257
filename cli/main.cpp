// pushctl: the operators' tool. Parses the command line, runs the chosen
// subcommand, and is the one place that prints errors and picks the exit
// status (0 success, 1 the operation failed, 2 usage or configuration).
#include "context.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    pushctl::Context ctx;
    CLI::App app{"pushctl: operate pushd instances"};
    app.set_version_flag("-v,--version", std::string("pushctl ") + PUSHD_VERSION);
    app.add_option("-f,--config", ctx.config_path, "pushd configuration file")->capture_default_str();
    app.add_option("--server", ctx.server, "a pushd's HTTP address")->capture_default_str();
    app.require_subcommand(1);
    pushctl::set_health_command(&app, ctx);
    pushctl::set_stats_command(&app, ctx);
    pushctl::set_token_command(&app, ctx);
    pushctl::set_bench_command(&app, ctx);
    pushctl::set_notify_command(&app, ctx);
    pushctl::set_group_command(&app, ctx);
    pushctl::set_publish_command(&app, ctx);
    pushctl::set_tail_command(&app, ctx);
    pushctl::set_listen_command(&app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::fprintf(stderr, "pushctl: %s (see --help)\n", e.what());
        return pushctl::kUsage;
    }
    int status = ctx.run ? ctx.run(ctx) : pushctl::kUsage;
    std::fflush(stdout);
    if (ctx.error) {
        std::fprintf(stderr, "pushctl: %s\n", ctx.error->message.c_str());
        return ctx.error->status;
    }
    return status;
}
