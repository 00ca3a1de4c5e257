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
    CLI::Option* config =
        app.add_option("-f,--config", ctx.config_path, "pushd configuration file")->capture_default_str();
    app.add_option("--server", ctx.server,
                   "a pushd's address, http://host:port or https://host:port (listen uses ws:// or wss://); "
                   "default: the pushd the configuration file describes (https://127.0.0.1:<Port> when "
                   "Security.TLS.Cert is set), or " +
                       std::string(pushctl::kDefaultServer) + " without one");
    app.add_flag("--insecure", ctx.tls_insecure,
                 "https/wss: accept any server certificate (self-signed, expired, another name); "
                 "default: the system CAs (and --cacert) must vouch for it");
    app.add_option("--cacert", ctx.ca_file, "https/wss: also trust the CA certificates in this PEM file");
    app.require_subcommand(1);
    pushctl::set_health_command(&app, ctx);
    pushctl::set_stats_command(&app, ctx);
    pushctl::set_token_command(&app, ctx);
    pushctl::set_notify_command(&app, ctx);
    pushctl::set_group_command(&app, ctx);
    pushctl::set_publish_command(&app, ctx);
    pushctl::set_tail_command(&app, ctx);
    pushctl::set_listen_command(&app, ctx);
    pushctl::set_presence_command(&app, ctx);
    pushctl::set_control_commands(&app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::fprintf(stderr, "pushctl: %s (see --help)\n", e.what());
        return pushctl::kUsage;
    }
    ctx.config_given = config->count() > 0;
    // Contract section 8: a -f file that is missing, unreadable or invalid
    // is exit 2 for every command, also those that need nothing from it.
    if (ctx.config_given && !ctx.config()) {
        std::fprintf(stderr, "pushctl: %s\n", ctx.error->message.c_str());
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
