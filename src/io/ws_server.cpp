#include "io/ws_server.hpp"

#include "io/log.hpp"
#include "io/server.hpp"
#include "io/ws_handshake.hpp"
#include "io/ws_protocol.hpp"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

// `host` (an IPv4 or IPv6 literal; 0.0.0.0 and :: are every address) and
// `port` as a socket address in *ss / *len; false when host is a name.
bool socket_address(const std::string& host, int port, sockaddr_storage* ss, socklen_t* len) {
    *ss = sockaddr_storage{};
    if (host.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        *len = sizeof *a;
        return inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) == 1;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *a;
    return inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
}

// The listener is ours whenever Host is an address, for two reasons. lws
// 4.1 accepts everything waiting on its listener in one go (its accept
// loop runs while poll() says more is waiting), so a burst of connects
// stalled every established client (issue 17: ~0.4 s for 5,000); ours
// accepts kAcceptsPerIteration, then lets the loop serve the others. And
// lws 4.1 (Debian 12) sets no SO_REUSEPORT on its listener (its
// ALLOW_LISTEN_SHARE option only lifts Windows' exclusive bind), so
// ReusePort needs our own. Every accepted connection is adopted by the
// vhost, which then serves it exactly as one it accepted itself. Returns
// the listening descriptor, or -1 with *err set.
int open_own_listener(const std::string& host, int port, bool reuse_port, std::string* err) {
    sockaddr_storage ss;
    socklen_t len;
    if (!socket_address(host, port, &ss, &len)) {
        *err = "ReusePort needs an IP address as Host, got '" + host + "'";  // config validation says so first
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::strerror(errno);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if ((reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, SOMAXCONN) != 0) {
        *err = std::strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

// Our listener is readable: accepts up to kAcceptsPerIteration connections
// and hands each to lws (which closes it itself when it cannot adopt it).
// The poll is level-triggered, so what is left waits for the next loop
// iteration, after the established connections were served.
void on_own_accept(uv_poll_t* poll, int status, int) {
    Server& server = *static_cast<Server*>(poll->data);
    if (status < 0) return;
    const bool tls = !server.config.security.tls.cert.empty();
    for (int i = 0; i < kAcceptsPerIteration; i++) {
        int fd = accept4(server.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) LOG_WARN("accept: %s", std::strerror(errno));
            return;
        }
        // lws sets TCP_NODELAY only on what its own listener accepts. Without
        // it Nagle holds every write while one segment is unacknowledged, and
        // the client's delayed ACK makes that up to 40 ms: under load each
        // connection's frames queued in the kernel for ~17 ms (issue 16).
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        lws_sock_file_fd_type desc;
        desc.sockfd = fd;
        int type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (tls ? LWS_ADOPT_ALLOW_SSL : 0);
        if (!lws_adopt_descriptor_vhost(server.vhost, static_cast<lws_adoption_type>(type), desc, nullptr, nullptr))
            LOG_WARN("could not adopt an accepted connection");
    }
}

void close_own_listener(Server& server) {
    if (server.listen_fd < 0) return;
    auto* h = reinterpret_cast<uv_handle_t*>(&server.listen_poll);
    if (!uv_is_closing(h)) uv_close(h, nullptr);
    close(server.listen_fd);
    server.listen_fd = -1;
}

// Opens our own listener when Host is an address, or checks that lws will
// be able to bind the name. Returns 0, or -1 after logging why.
int prepare_listener(Server& server) {
    const Config& cfg = server.config;
    sockaddr_storage ss;
    socklen_t len;
    if (socket_address(cfg.host, static_cast<int>(cfg.port), &ss, &len)) {
        std::string err;
        server.listen_fd = open_own_listener(cfg.host, static_cast<int>(cfg.port), cfg.reuse_port, &err);
        if (server.listen_fd < 0) {
            LOG_ERROR("cannot listen on %s:%lld%s: %s", cfg.host.c_str(), static_cast<long long>(cfg.port),
                      cfg.reuse_port ? " (ReusePort)" : "", err.c_str());
            return -1;
        }
    } else if (std::string err = probe_listen(cfg.host, static_cast<int>(cfg.port)); !err.empty()) {
        LOG_ERROR("cannot listen on %s:%lld: %s", cfg.host.c_str(), static_cast<long long>(cfg.port), err.c_str());
        return -1;
    }
    return 0;
}

// TLS: the same port serves wss:// and https:// (main checked the files
// with check_tls_files, so lws does not fail on them).
void set_tls(const TlsConfig& tls, lws_context_creation_info& info) {
    if (tls.cert.empty()) return;
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = tls.cert.c_str();
    info.ssl_private_key_filepath = tls.key.c_str();
    // HTTP/1.1 only: lws would also offer HTTP/2 and RFC 8441 WebSockets
    // over it, which our upgrade checks (path, headers) do not handle.
    info.alpn = "http/1.1";
}

// WebSocket-level heartbeat: the hub pings a connection silent for
// Heartbeat.Interval and closes one silent for Heartbeat.Timeout with 1001
// (lws's own validity hangup drops the socket without a close frame, and
// its pings have empty payloads whose pongs never reach us). lws's hangup
// stays only as a backstop for a peer that does not even let the close
// frame out; its own pings are off (a ping threshold not below the hangup
// one means "hang up, never ping" to lws).
void set_heartbeat_backstop(Server& server, lws_context_creation_info& info) {
    server.retry_policy = lws_retry_bo_t{};
    server.retry_policy.secs_since_valid_hangup = static_cast<uint16_t>(server.config.heartbeat.timeout + 10);
    server.retry_policy.secs_since_valid_ping = server.retry_policy.secs_since_valid_hangup;
    info.retry_and_idle_policy = &server.retry_policy;
}

// The limits of lws's HTTP phase (io/ws_handshake.hpp): how long a
// connection may take to send its request head, and how large it may be.
void set_handshake_limits(lws_context_creation_info& info) {
    info.timeout_secs = kHandshakeDeadlineSeconds;          // TLS accept, waiting for a header buffer
    info.timeout_secs_ah_idle = kHandshakeDeadlineSeconds;  // the request head, from accept
    info.max_http_header_data = static_cast<unsigned short>(kLwsHeadBytes);
}

// Serves our own listener on the loop: its connections go to the vhost.
int serve_own_listener(Server& server) {
    const Config& cfg = server.config;
    server.vhost = lws_get_vhost_by_name(server.lws, cfg.name.c_str());
    server.listen_poll.data = &server;
    if (!server.vhost || uv_poll_init(server.loop, &server.listen_poll, server.listen_fd) != 0 ||
        uv_poll_start(&server.listen_poll, UV_READABLE, on_own_accept) != 0) {
        LOG_ERROR("cannot serve the listener on %s:%lld", cfg.host.c_str(), static_cast<long long>(cfg.port));
        return -1;
    }
    return 0;
}

}  // namespace

// lws keeps retrying a listen address it cannot bind instead of failing, so
// the address is tried here first: a port in use is a start-up error with a
// reason, not a server that silently never listens. Returns "" when it can
// be bound, else the reason.
std::string probe_listen(const std::string& host, int port) {
    sockaddr_storage ss;
    socklen_t len;
    if (!socket_address(host, port, &ss, &len)) return "";  // a name: let lws resolve it
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::strerror(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as lws does
    std::string err;
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) err = std::strerror(errno);
    close(fd);
    return err;
}

int ws_server_start(Server& server) {
    const Config& cfg = server.config;
    if (prepare_listener(server) != 0) return -1;
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    void* foreign_loops[1] = {server.loop};
    info.foreign_loops = foreign_loops;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN | LWS_SERVER_OPTION_SKIP_SERVER_CANONICAL_NAME;
    // "0.0.0.0" and "::" mean every address; anything else binds that one.
    const bool any = cfg.host == "0.0.0.0" || cfg.host == "::";
    if (cfg.host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.iface = any ? nullptr : cfg.host.c_str();
    // With our own listener the vhost serves what it adopts and binds nothing.
    info.port = server.listen_fd >= 0 ? CONTEXT_PORT_NO_LISTEN_SERVER : static_cast<int>(cfg.port);
    info.protocols = ws_protocols();
    info.vhost_name = cfg.name.c_str();
    info.server_string = "pushd";
    info.user = &server;
    // lws checks the fd limit to size its tables; 0 means "use the rlimit".
    info.fd_limit_per_thread = 0;
    set_tls(cfg.security.tls, info);
    set_heartbeat_backstop(server, info);
    set_handshake_limits(info);
    if (cfg.compression.enabled) info.extensions = kExtensions;

    server.lws = lws_create_context(&info);
    if (!server.lws) {
        LOG_ERROR(
            "cannot listen on %s:%lld (address in use, or the libuv event library "
            "plugin libwebsockets-evlib-uv is missing)",
            cfg.host.c_str(), static_cast<long long>(cfg.port));
        close_own_listener(server);
        return -1;
    }
    return server.listen_fd >= 0 ? serve_own_listener(server) : 0;
}

void ws_server_begin_drain(Server& server) {
    close_own_listener(server);
    if (!server.lws) return;
    // Closes the listen socket; established connections keep working. lws
    // raises SIGINT at itself once the deprecated context has no connections
    // left: our handler treats a second signal during drain as a no-op.
    lws_context_deprecate(server.lws, nullptr);
    server.hub->for_each_session(
        [&](Session* s) { server.hub->close_session(s, kCloseGoingAway, "server shutting down"); });
}

void ws_server_destroy(Server& server) {
    close_own_listener(server);
    if (!server.lws) return;
    lws_context_destroy(server.lws);  // server.lws stays for the second call
}

void ws_server_destroy_finish(Server& server) {
    if (!server.lws) return;
    lws_context_destroy(server.lws);
    server.lws = nullptr;
}

}  // namespace pushd
