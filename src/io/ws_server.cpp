#include "io/ws_server.hpp"

#include "io/log.hpp"
#include "io/server.hpp"
#include "io/ws_protocol.hpp"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/hub.hpp"

namespace pushd {
namespace {

// permessage-deflate, negotiated by lws's extension (which also inflates
// what clients send); what we send is compressed once per message in
// core/frame_deflate, not by lws per connection.
const lws_extension kExtensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate; client_max_window_bits"},
    {nullptr, nullptr, nullptr},
};

// lws keeps retrying a listen address it cannot bind instead of failing, so
// the address is tried here first: a port in use is a start-up error with a
// reason, not a server that silently never listens. Returns "" when it can
// be bound, else the reason.
std::string probe_listen(const std::string& host, int port) {
    const bool v6 = host.find(':') != std::string::npos;
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return "";  // a name: let lws resolve it
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<uint16_t>(port));
        if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return "";
        len = sizeof *a;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::strerror(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as lws does
    std::string err;
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) err = std::strerror(errno);
    close(fd);
    return err;
}

}  // namespace

int ws_server_start(Server& server) {
    const Config& cfg = server.config;
    if (std::string err = probe_listen(cfg.host, static_cast<int>(cfg.port)); !err.empty()) {
        LOG_ERROR("cannot listen on %s:%lld: %s", cfg.host.c_str(), static_cast<long long>(cfg.port),
                  err.c_str());
        return -1;
    }
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
    // TLS: the same port serves wss:// and https:// (main checked the
    // files with tls_files_problem, so lws does not fail on them).
    const TlsConfig& tls = cfg.security.tls;
    if (!tls.cert.empty()) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = tls.cert.c_str();
        info.ssl_private_key_filepath = tls.key.c_str();
        // HTTP/1.1 only: lws would also offer HTTP/2 and RFC 8441
        // WebSockets over it, which our upgrade checks (path, headers)
        // do not handle.
        info.alpn = "http/1.1";
    }
    // WebSocket-level heartbeat: the hub pings a connection silent for
    // Heartbeat.Interval and closes one silent for Heartbeat.Timeout with
    // 1001 (lws's own validity hangup drops the socket without a close
    // frame, and its pings have empty payloads whose pongs never reach us).
    // lws's hangup stays only as a backstop for a peer that does not even
    // let the close frame out; its own pings are off (a ping threshold not
    // below the hangup one means "hang up, never ping" to lws).
    server.retry_policy = lws_retry_bo_t{};
    server.retry_policy.secs_since_valid_hangup = static_cast<uint16_t>(cfg.heartbeat.timeout + 10);
    server.retry_policy.secs_since_valid_ping = server.retry_policy.secs_since_valid_hangup;
    info.retry_and_idle_policy = &server.retry_policy;
    if (cfg.compression.enabled) info.extensions = kExtensions;

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
    lws_context_destroy(server.lws);  // server.lws stays for the second call
}

void ws_server_destroy_finish(Server& server) {
    if (!server.lws) return;
    lws_context_destroy(server.lws);
    server.lws = nullptr;
}

}  // namespace pushd
