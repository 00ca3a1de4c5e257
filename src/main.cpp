// pushd: argv -> configuration -> loop -> run -> teardown. No logic here.
#include "core/config.hpp"
#include "io/log.hpp"
#include "io/loop.hpp"
#include "io/self_paths.hpp"
#include "io/server.hpp"
#include "io/tls_files.hpp"

#include <CLI/CLI.hpp>
#include <uv.h>

#include <cstdio>

int main(int argc, char** argv) {
    // Installed: <sysconfdir>/pushd/pushd.yaml; in a build tree etc/pushd.yaml.
    const pushd::InstallPaths paths = pushd::self_install_paths();
    std::string config_path = paths.config;
    bool check_only = false;
    bool print_config = false;
    bool no_io_uring = false;

    CLI::App app{"pushd: a real-time WebSocket push server on Redis Streams"};
    app.add_option("-f,--config", config_path, "configuration file (YAML)")->capture_default_str();
    app.add_flag("--check", check_only, "validate the configuration and exit (0 valid, 2 not)");
    app.add_flag("--print-config", print_config,
                 "print the effective configuration as Key=value lines and exit");
    app.add_flag("--no-io-uring", no_io_uring,
                 "write with one send() per connection instead of batching through io_uring");
    app.set_version_flag("-v,--version", std::string("pushd ") + PUSHD_VERSION);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;  // --help / --version print and succeed; misuse is 2
    }

    // Before anything is printed: configuration errors carry <3> under systemd.
    pushd::log_detect_journal();
    // The unit's EnvironmentFile fills in what the environment lacks, so that
    // `pushd --check` run by hand sees the secrets systemd hands the service.
    const pushd::EnvLookup env = pushd::env_with_file(paths.environment);
    pushd::ConfigLoadResult loaded = pushd::load_config_file(config_path, env);
    if (!loaded.ok()) {
        std::fprintf(stderr, "%spushd: %s\n", pushd::log_journal_prefix(pushd::LogLevel::error), loaded.error().c_str());
        return 2;
    }
    for (const std::string& w : loaded->warnings)
        std::fprintf(stderr, "%spushd: warning: %s\n", pushd::log_journal_prefix(pushd::LogLevel::warn), w.c_str());
    if (print_config) {
        std::fputs(pushd::config_to_lines(loaded->config).c_str(), stdout);
        return 0;
    }
    // TLS files that cannot be used are a configuration error too.
    if (const pushd::TlsConfig& tls = loaded->config.security.tls; !tls.cert.empty()) {
        if (std::string err = pushd::tls_files_problem(tls); !err.empty()) {
            std::fprintf(stderr, "%spushd: %s\n", pushd::log_journal_prefix(pushd::LogLevel::error), err.c_str());
            return 2;
        }
    }
    if (check_only) {
        std::printf("%s: configuration OK\n", config_path.c_str());
        return 0;
    }

    pushd::LogLevel level = pushd::LogLevel::info;
    pushd::log_level_from_name(loaded->config.log.level, &level);
    pushd::log_set_level(level);
    pushd::LogFormat format = pushd::LogFormat::text;
    pushd::log_format_from_name(loaded->config.log.format, &format);
    pushd::log_set_format(format);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        std::fprintf(stderr, "%spushd: cannot create the event loop\n", pushd::log_journal_prefix(pushd::LogLevel::error));
        return 1;
    }
    int status;
    {
        pushd::Server server;
        server.config = loaded->config;
        server.config_path = config_path;
        server.env = env;
        server.loop = &loop;
        server.io_uring_allowed = !no_io_uring;
        status = pushd::server_run(server);
    }
    uv_loop_close(&loop);
    return status;
}
