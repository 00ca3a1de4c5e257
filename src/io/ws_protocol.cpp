#include "io/ws_protocol.hpp"

#include "io/http_routes.hpp"
#include "io/log.hpp"
#include "io/server.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

namespace pushd {
namespace {

Server& server_of(lws* wsi) {
    return *static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
}

// The request path without the query string.
std::string request_path(lws* wsi, lws_token_indexes token) {
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0) return {};
    std::string path(static_cast<size_t>(len) + 1, '\0');
    if (lws_hdr_copy(wsi, path.data(), len + 1, token) < 0) return {};
    path.resize(static_cast<size_t>(len));
    return path;
}

void free_http_reply(ConnData* conn) {
    std::free(conn->http_buf);
    conn->http_buf = nullptr;
    conn->http_len = 0;
}

// Writes the status line and headers now and keeps the body for
// HTTP_WRITEABLE. Returns nonzero when the connection should be dropped.
int begin_http_reply(lws* wsi, ConnData* conn, const HttpReply& reply) {
    unsigned char head[LWS_PRE + 1024];
    unsigned char* start = head + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = head + sizeof head - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(reply.status),
                                    reply.content_type, reply.body.size(), &p, end))
        return 1;
    static const char kNoStore[] = "no-store";
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     reinterpret_cast<const unsigned char*>(kNoStore),
                                     sizeof kNoStore - 1, &p, end))
        return 1;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return 1;
    free_http_reply(conn);
    conn->http_buf = static_cast<unsigned char*>(std::malloc(LWS_PRE + reply.body.size() + 1));
    if (!conn->http_buf) return 1;
    std::memcpy(conn->http_buf + LWS_PRE, reply.body.data(), reply.body.size());
    conn->http_len = reply.body.size();
    lws_callback_on_writable(wsi);
    return 0;
}

int on_http(lws* wsi, ConnData* conn, const char* uri) {
    Server& server = server_of(wsi);
    bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    HttpReply reply = route_http(server, uri ? uri : "", is_get);
    return begin_http_reply(wsi, conn, reply);
}

int on_http_writeable(lws* wsi, ConnData* conn) {
    if (!conn->http_buf) return 0;
    int n = lws_write(wsi, conn->http_buf + LWS_PRE, conn->http_len, LWS_WRITE_HTTP_FINAL);
    free_http_reply(conn);
    if (n < 0) return -1;
    // Keep-alive: ready for the next request, or close if the client asked.
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

// Decides whether a WebSocket upgrade may proceed. Nonzero refuses it.
int on_filter_upgrade(lws* wsi) {
    Server& server = server_of(wsi);
    if (server.draining) {
        server.counters.ws_handshakes_refused++;
        lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, nullptr);
        return -1;
    }
    std::string path = request_path(wsi, WSI_TOKEN_GET_URI);
    if (path != server.config.path) {
        server.counters.ws_handshakes_refused++;
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, nullptr);
        return -1;
    }
    return 0;
}

void on_established(lws* wsi, ConnData* conn) {
    Server& server = server_of(wsi);
    conn->wsi = wsi;
    conn->established = true;
    server.counters.ws_connections_opened++;
    server_add_session(server, conn);
}

int on_writeable(lws* wsi, ConnData* conn) {
    if (conn->closing) {
        // lws sends the close frame set by lws_close_reason when we return -1.
        return -1;
    }
    return 0;
}

void on_closed(lws* wsi, ConnData* conn) {
    if (!conn->established) return;
    Server& server = server_of(wsi);
    conn->established = false;
    server.counters.ws_connections_closed++;
    server_remove_session(server, conn);
}

int callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
    auto* conn = static_cast<ConnData*>(user);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, conn, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_http_writeable(wsi, conn);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (conn) free_http_reply(conn);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter_upgrade(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        on_established(wsi, conn);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, conn);
    case LWS_CALLBACK_RECEIVE:
        return 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, conn);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const lws_protocols kProtocols[] = {
    {"pushd", callback, sizeof(ConnData), 4096, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

const lws_protocols* ws_protocols() { return kProtocols; }

}  // namespace pushd
