// pushd: argv -> configuration -> loop -> run -> teardown. No logic here.
#include "core/config.hpp"
#include "io/log.hpp"
#include "io/loop.hpp"
#include "io/self_paths.hpp"
#include "io/server.hpp"
#include "io/tls_files.hpp"

#include <uv.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace {

// What the command line asks.
struct Options {
    std::string config_path;
    bool check_only = false;
    bool print_config = false;
    bool no_io_uring = false;
    std::string bus_coalesce_name = "auto";
};

// Parses argv into `o`; an exit status when pushd must exit now (--help,
// --version: 0; misuse: 2), else -1.
int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"pushd: a real-time WebSocket push server on Redis Streams"};
    app.add_option("-f,--config", o.config_path, "configuration file (YAML)")->capture_default_str();
    app.add_flag("--check", o.check_only, "validate the configuration and exit (0 valid, 2 not)");
    app.add_flag("--print-config", o.print_config, "print the effective configuration as Key=value lines and exit");
    app.add_flag("--no-io-uring", o.no_io_uring,
                 "write with one send() per connection instead of batching through io_uring");
    // Read as text: CLI11 prints a uint8_t enum's values as raw bytes in --help.
    app.add_option("--bus-coalesce", o.bus_coalesce_name,
                   "hold bus entries under load so that one write carries several frames: auto (default), off, "
                   "always (tests)")
        ->transform(CLI::IsMember({"auto", "off", "always"}, CLI::ignore_case));
    app.set_version_flag("-v,--version", std::string("pushd ") + PUSHD_VERSION);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;  // --help / --version print and succeed; misuse is 2
    }
    return -1;
}

void print_error(const char* what) {
    std::fprintf(stderr, "%spushd: %s\n", pushd::log_journal_prefix(pushd::LogLevel::error), what);
}

// Loads and checks the configuration (TLS files that cannot be used are a
// configuration error too), printing warnings; nullopt after printing the error.
std::optional<pushd::LoadedConfig> load(const Options& o, const pushd::EnvLookup& env) {
    pushd::ConfigLoadResult loaded = pushd::load_config_file(o.config_path, env);
    if (!loaded.ok()) {
        print_error(loaded.error().c_str());
        return std::nullopt;
    }
    for (const std::string& w : loaded->warnings)
        std::fprintf(stderr, "%spushd: warning: %s\n", pushd::log_journal_prefix(pushd::LogLevel::warn), w.c_str());
    if (const pushd::TlsConfig& tls = loaded->config.security.tls; !tls.cert.empty() && !o.print_config) {
        if (pushd::Status err = pushd::check_tls_files(tls); !err.ok()) {
            print_error(err.error().c_str());
            return std::nullopt;
        }
    }
    return std::move(loaded.value());
}

// Serves until stopped; the process exit status.
int serve(const Options& o, const pushd::Config& config, const pushd::EnvLookup& env) {
    pushd::LogLevel level = pushd::LogLevel::info;
    pushd::log_level_from_name(config.log.level, &level);
    pushd::log_set_level(level);
    pushd::LogFormat format = pushd::LogFormat::text;
    pushd::log_format_from_name(config.log.format, &format);
    pushd::log_set_format(format);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        print_error("cannot create the event loop");
        return 1;
    }
    int status;
    {
        pushd::Server server;
        server.config = config;
        server.config_path = o.config_path;
        server.env = env;
        server.loop = &loop;
        server.io_uring_allowed = !o.no_io_uring;
        server.bus_coalesce = o.bus_coalesce_name == "off"      ? pushd::CoalesceMode::off
                              : o.bus_coalesce_name == "always" ? pushd::CoalesceMode::always
                                                                : pushd::CoalesceMode::automatic;
        status = pushd::server_run(server);
    }
    uv_loop_close(&loop);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    // Installed: <sysconfdir>/pushd/pushd.yaml; in a build tree etc/pushd.yaml.
    const pushd::InstallPaths paths = pushd::self_install_paths();
    Options o;
    o.config_path = paths.config;
    if (int code = parse_options(argc, argv, o); code >= 0) return code;

    // Before anything is printed: configuration errors carry <3> under systemd.
    pushd::log_detect_journal();
    // The unit's EnvironmentFile fills in what the environment lacks, so that
    // `pushd --check` run by hand sees the secrets systemd hands the service.
    const pushd::EnvLookup env = pushd::env_with_file(paths.environment);
    std::optional<pushd::LoadedConfig> loaded = load(o, env);
    if (!loaded) return 2;
    if (o.print_config) {
        std::fputs(pushd::config_to_lines(loaded->config).c_str(), stdout);
        return 0;
    }
    if (o.check_only) {
        std::printf("%s: configuration OK\n", o.config_path.c_str());
        return 0;
    }
    return serve(o, loaded->config, env);
}
