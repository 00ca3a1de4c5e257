#include "io/ws_handshake.hpp"

#include "core/frame_deflate.hpp"
#include "io/server.hpp"
#include "io/ws_conn.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace pushd {
namespace {

// A request header (for the URI token: the path without the query), or
// nullopt when absent or longer than `max` bytes.
std::optional<std::string> header_value(lws* wsi, lws_token_indexes token, size_t max = 8192) {
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0 || static_cast<size_t>(len) > max) return std::nullopt;
    // Repeated headers are joined with ',' by lws: room for the separators.
    std::string value(static_cast<size_t>(len) + 64, '\0');
    int n = lws_hdr_copy(wsi, value.data(), static_cast<int>(value.size()), token);
    if (n < 0) return std::nullopt;
    value.resize(static_cast<size_t>(n));
    return value;
}

// The socket's peer address (IPv4 as ::ffff:a.b.c.d); all zeros (::) when
// the socket cannot say.
IpAddr peer_address(lws* wsi) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    IpAddr addr{};
    if (getpeername(lws_get_socket_fd(wsi), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return addr;
    if (ss.ss_family == AF_INET) {
        std::array<uint8_t, 4> v4{};
        std::memcpy(v4.data(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, 4);
        return ipv4_mapped(v4);
    }
    if (ss.ss_family == AF_INET6) std::memcpy(addr.data(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, 16);
    return addr;
}

// The ?token= argument, whatever its length (the request head bounds it;
// core/auth refuses one over kMaxTokenBytes): lws_get_urlarg_by_name
// skips an argument longer than its buffer, which would let a long token
// pass as no token at all. An empty string for "token" or "token=".
std::optional<std::string> query_token(lws* wsi) {
    for (int i = 0;; i++) {
        const int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        std::string arg(static_cast<size_t>(std::max(len, 0)) + 1, '\0');
        const int n = lws_hdr_copy_fragment(wsi, arg.data(), static_cast<int>(arg.size()), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) return std::nullopt;  // no more arguments
        arg.resize(static_cast<size_t>(n));
        if (arg == "token") return std::string();
        if (arg.rfind("token=", 0) == 0) return arg.substr(6);
    }
}

// The token offered at the handshake: the Authorization header's Bearer
// token when present (it wins over the query), else ?token=. nullopt when
// neither was offered; an empty string when one was offered empty.
std::optional<std::string> handshake_token(lws* wsi) {
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (len > 0 && static_cast<size_t>(len) <= kMaxTokenBytes + 64) {
        std::string h(static_cast<size_t>(len) + 1, '\0');
        if (lws_hdr_copy(wsi, h.data(), len + 1, WSI_TOKEN_HTTP_AUTHORIZATION) >= 0) {
            h.resize(static_cast<size_t>(len));
            if (std::optional<std::string_view> bearer = bearer_token(h)) return std::string(*bearer);
        }
    } else if (len > 0) {
        return std::string();  // absurdly long: treated as an invalid token
    }
    return query_token(wsi);
}

const char* status_reason(int status) {
    switch (status) {
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case kHttpHeadTooLarge: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

// Answers a refused upgrade and closes. Written here rather than through
// lws_return_http_status: lws words the status line after the request's
// HTTP version, which it has not recorded for an upgrade, so it answers
// "HTTP/1.0", where clients such as Python's websockets read no status
// (contract section 1 says HTTP/1.1).
int refuse(Server& server, lws* wsi, HandshakeRefusal why) {
    server.counters.ws_handshakes_refused[static_cast<size_t>(why)]++;
    const std::string reply = http_refusal(refusal_http_status(why));
    std::vector<unsigned char> buf(LWS_PRE + reply.size());
    std::memcpy(buf.data() + LWS_PRE, reply.data(), reply.size());
    lws_write(wsi, buf.data() + LWS_PRE, reply.size(), LWS_WRITE_HTTP_HEADERS);
    return -1;
}

// Connections counted under `client`: open WebSocket ones, and pending
// ones from that peer address other than `self`.
size_t connections_from(const Server& server, const IpAddr& client, const ConnData* self) {
    size_t n = 0;
    if (auto it = server.per_ip.find(client); it != server.per_ip.end()) n += it->second;
    if (auto it = server.pending_per_ip.find(client); it != server.pending_per_ip.end()) n += it->second;
    if (self && self->pending_ip && self->peer == client) n--;
    return n;
}

// What the admission checks need to know about this upgrade request.
HandshakeFacts handshake_facts(Server& server, lws* wsi, const ConnData* conn) {
    HandshakeFacts facts;
    const IpAddr peer = peer_address(wsi);
    facts.client = peer;
    if (!server.access.trusted_proxies.empty()) {
        if (std::optional<std::string> xff = header_value(wsi, WSI_TOKEN_X_FORWARDED_FOR))
            facts.client = forwarded_client(peer, *xff, server.access.trusted_proxies);
    }
    facts.draining = server.draining;
    facts.path_ok = header_value(wsi, WSI_TOKEN_GET_URI).value_or(std::string()) == server.config.path;
    facts.from_client = connections_from(server, facts.client, conn);
    facts.total = server.hub->session_count() + server.pending - (conn && conn->pending ? 1 : 0);
    facts.origin = header_value(wsi, WSI_TOKEN_ORIGIN, 1024);
    if (!facts.origin && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0)
        facts.origin = std::string();  // too long to be an origin: only "*" allows it
    return facts;
}

}  // namespace

int ws_handshake_accept(Server& server, lws* wsi, ConnData* conn) {
    const LimitsConfig& limits = server.config.limits;
    conn->peer = peer_address(wsi);
    const bool by_peer = !cidr_list_contains(server.access.trusted_proxies, conn->peer);
    auto from_peer = server.pending_per_ip.find(conn->peer);
    if (server.pending >= static_cast<size_t>(limits.max_connections)) {
        server.counters.ws_handshakes_refused[static_cast<size_t>(HandshakeRefusal::capacity)]++;
        return -1;
    }
    if (by_peer && from_peer != server.pending_per_ip.end() &&
        from_peer->second >= static_cast<size_t>(limits.max_connections_per_ip)) {
        server.counters.ws_handshakes_refused[static_cast<size_t>(HandshakeRefusal::per_ip)]++;
        return -1;
    }
    conn->pending = true;
    server.pending++;
    if (by_peer) {
        conn->pending_ip = true;
        server.pending_per_ip[conn->peer]++;
    }
    return 0;
}

void ws_handshake_settle(Server& server, ConnData* conn) {
    if (!conn || !conn->pending) return;
    conn->pending = false;
    server.pending--;
    if (!conn->pending_ip) return;
    conn->pending_ip = false;
    auto it = server.pending_per_ip.find(conn->peer);
    if (it != server.pending_per_ip.end() && --it->second == 0) server.pending_per_ip.erase(it);
}

int ws_handshake_admit(Server& server, lws* wsi, ConnData* conn) {
    HandshakeFacts facts = handshake_facts(server, wsi, conn);
    HandshakeRefusal why = admit_handshake(server.access, server.config.limits, facts);
    if (why != HandshakeRefusal::none) {
        ws_handshake_settle(server, conn);  // answered: no longer holds a place
        return refuse(server, wsi, why);
    }
    // No per-connection state to track it in: it cannot be taken.
    if (!conn) return refuse(server, wsi, HandshakeRefusal::capacity);
    conn->client = facts.client;
    conn->deflate_window_ok =
        deflate_offer_allows_our_window(header_value(wsi, WSI_TOKEN_EXTENSIONS).value_or(std::string()));
    if (std::optional<std::string> token = handshake_token(wsi)) {
        AuthResult r =
            verify_token(*token, server.config.auth.access_secret, server.config.auth.user_claim, wall_ms() / 1000);
        if (r.error != AuthError::none || server.hub->token_revoked(r.token, wall_ms())) {
            ws_handshake_settle(server, conn);
            return refuse(server, wsi, HandshakeRefusal::token);
        }
        conn->handshake_token = std::make_unique<VerifiedToken>(std::move(r.token));
    }
    return 0;
}

std::string http_refusal(int status) {
    const std::string body = std::to_string(status) + " " + status_reason(status) + "\n";
    return "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) +
           "\r\nserver: pushd\r\ncontent-type: text/plain\r\ncontent-length: " + std::to_string(body.size()) +
           "\r\nconnection: close\r\n\r\n" + body;
}

}  // namespace pushd
