#include "io/http_reply.hpp"

#include "io/http_routes.hpp"
#include "io/ws_conn.hpp"

#include <cstring>

namespace pushd {

int http_write_head(lws* wsi, int status, const char* content_type, size_t body_size) {
    unsigned char head[LWS_PRE + 1024];
    unsigned char* start = head + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = head + sizeof head - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(status), content_type, body_size, &p, end)) return 1;
    static const char kNoStore[] = "no-store";
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     reinterpret_cast<const unsigned char*>(kNoStore), sizeof kNoStore - 1, &p, end))
        return 1;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? 1 : 0;
}

int http_reply_begin(Server& server, lws* wsi, ConnData* conn, const char* uri) {
    if (!conn) return 1;
    const bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    const HttpReply reply = route_http(server, uri ? uri : "", is_get);
    if (http_write_head(wsi, reply.status, reply.content_type, reply.body.size())) return 1;
    conn->http = std::make_unique<HttpExchange>();
    conn->http->reply.assign(LWS_PRE + reply.body.size(), 0);
    std::memcpy(conn->http->reply.data() + LWS_PRE, reply.body.data(), reply.body.size());
    lws_callback_on_writable(wsi);
    return 0;
}

int http_reply_write(lws* wsi, ConnData* conn) {
    if (!conn || !conn->http || conn->http->reply.empty()) return 0;
    std::vector<unsigned char>& body = conn->http->reply;
    const int n = lws_write(wsi, body.data() + LWS_PRE, body.size() - LWS_PRE, LWS_WRITE_HTTP_FINAL);
    http_reply_drop(conn);
    if (n < 0) return -1;
    // Keep-alive: ready for the next request, or close if the client asked.
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void http_reply_drop(ConnData* conn) {
    if (!conn) return;
    conn->http.reset();
}

}  // namespace pushd
