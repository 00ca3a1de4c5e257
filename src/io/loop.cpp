#include "io/loop.hpp"

#include "io/api_server.hpp"
#include "io/log.hpp"
#include "io/server.hpp"
#include "io/ws_server.hpp"

#include <malloc.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <cstring>
#include <string>

namespace pushd {
namespace {

Server& server_of(uv_handle_t* handle) { return *static_cast<Server*>(handle->data); }

void stop_loop(Server& server) { server_stop(server); }

void on_tick(uv_timer_t* timer) {
    Server& server = *static_cast<Server*>(timer->data);
    server.hub->tick(wall_ms());
    const uint64_t now = uv_now(server.loop);
    if (heap_trim_due(server.heap_trim, server.accepted, server.pending, now)) {
        malloc_trim(0);
        server.heap_trim = HeapTrimState{server.accepted, now};
    }
}

// Sent from a loop timer, not a thread: when the loop is stuck the pings
// stop, and systemd kills and restarts the instance after WatchdogSec.
void on_watchdog(uv_timer_t*) { sd_notify(0, "WATCHDOG=1"); }

// Starts the watchdog pings at half the interval systemd asked for
// (WATCHDOG_USEC, checked against WATCHDOG_PID); nothing when it asked none.
void start_watchdog(Server& server) {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    uint64_t every_ms = usec / 2000 > 0 ? usec / 2000 : 1;
    LOG_DEBUG("systemd watchdog: WATCHDOG=1 every %llu ms", static_cast<unsigned long long>(every_ms));
    sd_notify(0, "WATCHDOG=1");
    uv_timer_start(&server.watchdog_timer, on_watchdog, every_ms, every_ms);
}

void on_redis_tick(uv_timer_t* timer) { server_redis_tick(*static_cast<Server*>(timer->data)); }

void on_drain_deadline(uv_timer_t* timer) {
    Server& server = server_of(reinterpret_cast<uv_handle_t*>(timer));
    LOG_WARN("shutdown: %llu connection(s) did not close in time; dropping them",
             static_cast<unsigned long long>(server.hub->session_count()));
    stop_loop(server);
}

// SIGTERM / SIGINT. uv_signal callbacks run on the loop, not in signal
// context, so acting here is safe. A repeated signal (lws sends itself
// SIGINT when its deprecated context empties) changes nothing.
void on_stop_signal(uv_signal_t* handle, int signum) {
    Server& server = server_of(reinterpret_cast<uv_handle_t*>(handle));
    if (server.draining) return;
    server.draining = true;
    LOG_INFO("%s: shutting down, closing %llu connection(s)", strsignal(signum),
             static_cast<unsigned long long>(server.hub->session_count()));
    sd_notify(0, "STOPPING=1");
    server_redis_draining(server);
    ws_server_begin_drain(server);
    // Leave a quarter second of ShutdownTimeout for teardown after the drain.
    uint64_t budget_ms = static_cast<uint64_t>(server.config.shutdown_timeout) * 1000;
    uint64_t drain_ms = budget_ms > 500 ? budget_ms - 250 : budget_ms / 2;
    uv_timer_start(&server.drain_timer, on_drain_deadline, drain_ms, 0);
    server_connection_gone(server);  // stops the loop when nothing is left to drain
}

// SIGHUP: re-read the file; apply what can change at run time, say what
// cannot. An invalid file changes nothing.
void on_reload_signal(uv_signal_t* handle, int) {
    Server& server = server_of(reinterpret_cast<uv_handle_t*>(handle));
    sd_notify(0, "RELOADING=1");
    ConfigLoadResult loaded = load_config_file(server.config_path, server.env);
    if (!loaded.ok()) {
        server.counters.reloads_failed++;
        LOG_ERROR("reload refused, configuration unchanged: %s", loaded.error().c_str());
        sd_notify(0, "READY=1");
        return;
    }
    for (const std::string& w : loaded->warnings) LOG_WARN("%s", w.c_str());
    for (const std::string& key : config_restart_only_changes(server.config, loaded->config)) {
        LOG_WARN("reload: %s changed; it takes effect after a restart", key.c_str());
    }
    server.config.security = loaded->config.security;
    server.config.limits = loaded->config.limits;
    server.config.log = loaded->config.log;
    server_apply_security(server);
    LogLevel level = LogLevel::info;
    log_level_from_name(server.config.log.level, &level);
    log_set_level(level);
    LogFormat format = LogFormat::text;
    log_format_from_name(server.config.log.format, &format);
    log_set_format(format);
    server.counters.reloads_ok++;
    LOG_INFO("reload: configuration applied from %s", server.config_path.c_str());
    sd_notify(0, "READY=1");
}

void close_own_handles(Server& server) {
    uv_handle_t* handles[] = {
        reinterpret_cast<uv_handle_t*>(&server.sig_term),       reinterpret_cast<uv_handle_t*>(&server.sig_int),
        reinterpret_cast<uv_handle_t*>(&server.sig_hup),        reinterpret_cast<uv_handle_t*>(&server.drain_timer),
        reinterpret_cast<uv_handle_t*>(&server.tick_timer),     reinterpret_cast<uv_handle_t*>(&server.redis_timer),
        reinterpret_cast<uv_handle_t*>(&server.watchdog_timer),
    };
    for (uv_handle_t* h : handles) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
    }
}

}  // namespace

int server_run(Server& server) {
    signal(SIGPIPE, SIG_IGN);
    server.start_ms = uv_now(server.loop);
    server.sig_term.data = server.sig_int.data = server.sig_hup.data = &server;
    server.drain_timer.data = &server;
    server.tick_timer.data = &server;
    server.redis_timer.data = &server;
    server_init_logic(server);
    uv_signal_init(server.loop, &server.sig_term);
    uv_signal_init(server.loop, &server.sig_int);
    uv_signal_init(server.loop, &server.sig_hup);
    uv_timer_init(server.loop, &server.drain_timer);
    uv_timer_init(server.loop, &server.tick_timer);
    uv_timer_init(server.loop, &server.redis_timer);
    uv_timer_init(server.loop, &server.watchdog_timer);
    // Auth timeouts and token expiries fire within a quarter second.
    uv_timer_start(&server.tick_timer, on_tick, 250, 250);
    uv_signal_start(&server.sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&server.sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&server.sig_hup, on_reload_signal, SIGHUP);

    server_apply_security(server);
    int status = 0;
    if (ws_server_start(server) != 0 || api_server_start(server) != 0) {
        status = 1;
    } else {
        LOG_INFO("pushd %s listening on %s:%lld, WebSocket path %s", PUSHD_VERSION, server.config.host.c_str(),
                 static_cast<long long>(server.config.port), server.config.path.c_str());
        sd_notifyf(0, "READY=1\nSTATUS=serving on port %lld", static_cast<long long>(server.config.port));
        start_watchdog(server);
        // Redis connects in the background: the instance serves meanwhile
        // and /health answers 503 until both links are up.
        server_start_redis(server);
        uv_timer_start(&server.redis_timer, on_redis_tick, 1000, 1000);
        uv_run(server.loop, UV_RUN_DEFAULT);
    }

    // Teardown: our handles, then the lws context, whose libuv handles close
    // asynchronously, so the loop runs until nothing is left.
    close_own_handles(server);
    server_stop_redis(server);
    ws_server_destroy(server);
    uv_run(server.loop, UV_RUN_DEFAULT);
    ws_server_destroy_finish(server);
    server.redis_bus.reset();
    server.hub.reset();
    server.redis_presence.reset();
    server.redis_store.reset();
    server.redis_commands.reset();
    server.redis_bus_links.clear();
    server.redis_commands_link.reset();
    server.redis_cluster.reset();
    if (status == 0) LOG_INFO("shutdown complete");
    return status;
}

}  // namespace pushd
