#include "io/ws_server.hpp"

#include "io/log.hpp"
#include "io/server.hpp"
#include "io/ws_protocol.hpp"

#include <libwebsockets.h>

#include <cstring>

#include "core/hub.hpp"

namespace pushd {

int ws_server_start(Server& server) {
    const Config& cfg = server.config;
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);

    void* foreign_loops[1] = {server.loop};
    info.foreign_loops = foreign_loops;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_SKIP_SERVER_CANONICAL_NAME;
    // "0.0.0.0" and "::" mean every address; anything else binds that one.
    const bool any_v4 = cfg.host == "0.0.0.0";
    const bool any = any_v4 || cfg.host == "::";
    if (cfg.host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.iface = any ? nullptr : cfg.host.c_str();
    info.port = static_cast<int>(cfg.port);
    info.protocols = ws_protocols();
    info.vhost_name = cfg.name.c_str();
    info.server_string = "pushd";
    info.user = &server;
    // lws checks the fd limit to size its tables; 0 means "use the rlimit".
    info.fd_limit_per_thread = 0;
    // WebSocket-level heartbeat: lws pings a connection idle for
    // Heartbeat.Interval and hangs up one silent for Heartbeat.Timeout (any
    // received frame confirms it, see on_receive).
    server.retry_policy = lws_retry_bo_t{};
    server.retry_policy.secs_since_valid_ping = static_cast<uint16_t>(cfg.heartbeat.interval);
    server.retry_policy.secs_since_valid_hangup = static_cast<uint16_t>(cfg.heartbeat.timeout);
    info.retry_and_idle_policy = &server.retry_policy;

    server.lws = lws_create_context(&info);
    if (!server.lws) {
        LOG_ERROR("cannot listen on %s:%lld (address in use, or the libuv event library "
                  "plugin libwebsockets-evlib-uv is missing)",
                  cfg.host.c_str(), static_cast<long long>(cfg.port));
        return -1;
    }
    return 0;
}

void ws_server_begin_drain(Server& server) {
    if (!server.lws) return;
    // Closes the listen socket; established connections keep working. lws
    // raises SIGINT at itself once the deprecated context has no connections
    // left: our handler treats a second signal during drain as a no-op.
    lws_context_deprecate(server.lws, nullptr);
    server.hub->for_each_session([&](Session* s) {
        server.hub->close_session(s, kCloseGoingAway, "server shutting down");
    });
}

void ws_server_destroy(Server& server) {
    if (!server.lws) return;
    lws_context_destroy(server.lws);
    server.lws = nullptr;
}

}  // namespace pushd
