#include "io/api_server.hpp"

#include "core/api_request.hpp"
#include "io/api_handlers.hpp"
#include "io/http_reply.hpp"
#include "io/http_routes.hpp"
#include "io/log.hpp"
#include "io/server.hpp"
#include "io/ws_server.hpp"

#include <libwebsockets.h>

#include <cstring>
#include <optional>
#include <string>

namespace pushd {
namespace {

// One API connection's request (HTTP/1.1 keep-alive: one at a time). It
// hangs on the wsi's opaque user data from its first request until lws
// frees the wsi.
struct ApiConn {
    uint64_t request = 0;  // being carried out (Server::api_waiting); 0: none
    std::optional<ApiRoute> route;
    ApiParsed refusal;  // status != 0: answered with it once the body is read
    std::string body;   // at most Limits.MaxMessageBytes + 1 bytes kept
    size_t body_seen = 0;
    std::optional<ApiAnswer> answer;  // ready to write
    bool head_sent = false;
};

ApiConn* api_conn_of(lws* wsi) { return static_cast<ApiConn*>(lws_get_opaque_user_data(wsi)); }

Server& server_of(lws* wsi) { return *static_cast<Server*>(lws_context_user(lws_get_context(wsi))); }

std::optional<std::string> header(lws* wsi, lws_token_indexes token) {
    const int n = lws_hdr_total_length(wsi, token);
    if (n <= 0) return std::nullopt;
    std::string value(static_cast<size_t>(n) + 1, '\0');
    if (lws_hdr_copy(wsi, value.data(), n + 1, token) < 0) return std::nullopt;
    value.resize(static_cast<size_t>(n));
    return value;
}

// The request's method: lws keeps the URI under a token per method.
std::string_view method_of(lws* wsi) {
    static const std::pair<lws_token_indexes, std::string_view> kMethods[] = {
        {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},   {WSI_TOKEN_PUT_URI, "PUT"},
        {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
        {WSI_TOKEN_HEAD_URI, "HEAD"},
    };
    for (const auto& [token, name] : kMethods) {
        if (lws_hdr_total_length(wsi, token) > 0) return name;
    }
    return "OTHER";
}

void append_encoded(std::string& out, std::string_view text) {
    static const char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
}

// The query as "a=1&b=2", percent-encoded: lws hands it over decoded, one
// fragment per '&'-separated parameter, and parse_api_query decodes.
std::string query_of(lws* wsi) {
    std::string query;
    const int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total <= 0) return query;
    std::string fragment(static_cast<size_t>(total) + 1, '\0');
    for (int n = 0;; n++) {
        const int len = lws_hdr_copy_fragment(wsi, fragment.data(), total + 1, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (len < 0) break;
        const std::string_view f(fragment.data(), static_cast<size_t>(len));
        if (!query.empty()) query += '&';
        const size_t eq = f.find('=');
        append_encoded(query, f.substr(0, eq));
        if (eq != std::string_view::npos) {
            query += '=';
            append_encoded(query, f.substr(eq + 1));
        }
    }
    return query;
}

void answer(lws* wsi, ApiConn* conn, ApiAnswer a) {
    conn->answer = std::move(a);
    conn->head_sent = false;
    lws_callback_on_writable(wsi);
}

// Hands a checked request to io/api_handlers; its answer finds the
// connection again by request id (it may have closed meanwhile).
void carry_out(Server& server, lws* wsi, ApiConn* conn, ApiRequest request) {
    conn->request = ++server.api_next_request;
    server.api_waiting[conn->request] = wsi;
    const uint64_t id = conn->request;
    api_carry_out(server, std::move(request), [&server, id](ApiAnswer a) {
        const auto it = server.api_waiting.find(id);
        if (it == server.api_waiting.end()) return;  // the client left
        lws* w = it->second;
        server.api_waiting.erase(it);
        ApiConn* c = api_conn_of(w);
        if (!c) return;
        c->request = 0;
        answer(w, c, std::move(a));
    });
}

void finish(Server& server, lws* wsi, ApiConn* conn, ApiParsed parsed) {
    if (!parsed.request) return answer(wsi, conn, api_failed(parsed.status, parsed.message));
    carry_out(server, wsi, conn, std::move(*parsed.request));
}

// A request's head is in: /health, /stats, /metrics as on the WebSocket
// port; /api/* checked in the contract's order (401, 404, 405, then 413,
// 400 and 422 once the body is read); anything else 404.
int on_request(Server& server, lws* wsi, const char* uri) {
    ApiConn* conn = api_conn_of(wsi);
    if (!conn) {
        conn = new ApiConn();
        lws_set_opaque_user_data(wsi, conn);
    }
    *conn = ApiConn{};
    const std::string_view path = uri ? uri : "";
    const std::string_view method = method_of(wsi);
    if (path == "/health" || path == "/stats" || path == "/metrics") {
        HttpReply r = route_http(server, path, method == "GET");
        return answer(wsi, conn, ApiAnswer{r.status, std::move(r.body)}), 0;
    }
    if (!path.starts_with("/api/")) return answer(wsi, conn, api_failed(404, "not found")), 0;
    const ApiRouting routing =
        route_api(method, path, api_key_accepted(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), server.config.api.keys));
    const size_t max = static_cast<size_t>(server.config.limits.max_message_bytes);
    const std::optional<std::string> length = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    const bool body_follows = length && *length != "0" && method != "GET" && method != "HEAD";
    if (routing.status) {
        conn->refusal = ApiParsed{std::nullopt, routing.status,
                                  routing.status == 401   ? "missing or wrong API key"
                                  : routing.status == 404 ? "not found"
                                                          : "method not allowed"};
    } else if (length && length->size() > 12) {
        conn->refusal = ApiParsed{std::nullopt, 413, "body larger than Limits.MaxMessageBytes"};
    } else if (length && std::strtoull(length->c_str(), nullptr, 10) > max) {
        conn->refusal = ApiParsed{std::nullopt, 413, "body larger than Limits.MaxMessageBytes"};
    }
    conn->route = routing.route;
    if (body_follows) return 0;  // answered at HTTP_BODY_COMPLETION
    if (conn->refusal.status) return finish(server, wsi, conn, std::move(conn->refusal)), 0;
    if (*conn->route == ApiRoute::presence || *conn->route == ApiRoute::history)
        return finish(server, wsi, conn, parse_api_query(*conn->route, query_of(wsi))), 0;
    return finish(server, wsi, conn, parse_api_body(*conn->route, "", max)), 0;
}

void on_body(Server& server, ApiConn* conn, const char* in, size_t len) {
    const size_t keep = static_cast<size_t>(server.config.limits.max_message_bytes) + 1;
    conn->body_seen += len;
    if (conn->body.size() < keep) conn->body.append(in, std::min(len, keep - conn->body.size()));
}

void on_body_done(Server& server, lws* wsi, ApiConn* conn) {
    if (conn->refusal.status) return finish(server, wsi, conn, std::move(conn->refusal));
    const size_t max = static_cast<size_t>(server.config.limits.max_message_bytes);
    if (conn->body_seen > max) return finish(server, wsi, conn, ApiParsed{std::nullopt, 413, "body too large"});
    std::string body = std::move(conn->body);
    finish(server, wsi, conn, parse_api_body(*conn->route, body, max));
}

// The answer goes out in two writes (head, then body), each when lws says
// the socket can take it.
int on_writeable(lws* wsi, ApiConn* conn) {
    if (!conn || !conn->answer) return 0;
    const ApiAnswer& a = *conn->answer;
    const char* type = a.body.starts_with("{") ? "application/json" : "text/plain; charset=utf-8";
    if (!conn->head_sent) {
        if (http_write_head(wsi, a.status, type, a.body.size())) return -1;
        conn->head_sent = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    std::string out(LWS_PRE, '\0');
    out += a.body;
    const int n =
        lws_write(wsi, reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE, a.body.size(), LWS_WRITE_HTTP_FINAL);
    conn->answer.reset();
    if (n < 0) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void on_gone(Server& server, lws* wsi) {
    ApiConn* conn = api_conn_of(wsi);
    if (!conn) return;
    if (conn->request) server.api_waiting.erase(conn->request);
    lws_set_opaque_user_data(wsi, nullptr);
    delete conn;
}

int api_callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
    switch (reason) {
    case LWS_CALLBACK_HTTP: return on_request(server_of(wsi), wsi, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_BODY:
        if (ApiConn* conn = api_conn_of(wsi)) on_body(server_of(wsi), conn, static_cast<const char*>(in), len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (ApiConn* conn = api_conn_of(wsi)) on_body_done(server_of(wsi), wsi, conn);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_writeable(wsi, api_conn_of(wsi));
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_WSI_DESTROY: on_gone(server_of(wsi), wsi); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const lws_protocols kApiProtocols[] = {
    {"pushd-api", api_callback, 0, 4096, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

int api_server_start(Server& server) {
    const ApiConfig& api = server.config.api;
    if (api.listen.empty()) return 0;
    const std::optional<HostPort> hp = parse_host_port(api.listen);  // validated by config
    if (!hp) return -1;
    if (std::string err = probe_listen(hp->host, hp->port); !err.empty()) {
        if (api.listen_explicit) {
            LOG_ERROR("cannot listen on Api.Listen %s: %s", api.listen.c_str(), err.c_str());
            return -1;
        }
        LOG_WARN("the HTTP API is off: its default address %s: %s (set Api.Listen, or \"\" to turn it off)",
                 api.listen.c_str(), err.c_str());
        return 0;
    }
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    const bool any = hp->host == "0.0.0.0" || hp->host == "::";
    info.iface = any ? nullptr : hp->host.c_str();
    info.port = hp->port;
    if (hp->host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = kApiProtocols;
    info.vhost_name = "pushd-api";
    server.api_vhost = lws_create_vhost(server.lws, &info);
    if (!server.api_vhost) {
        LOG_ERROR("cannot serve the HTTP API on %s", api.listen.c_str());
        return -1;
    }
    LOG_INFO("HTTP API on %s (%zu key(s))", api.listen.c_str(), api.keys.size());
    return 0;
}

}  // namespace pushd
