// Plain HTTP requests on the WebSocket port, on the lws side: the request
// goes to route_http (io/http_routes), its reply is written back through
// lws with keep-alive.
#pragma once

#include <libwebsockets.h>

namespace pushd {

struct ConnData;
struct Server;

/* Writes a reply's status line and headers (Content-Type, Content-Length,
 * Cache-Control: no-store); the body follows in a later write. Nonzero on
 * failure. */
int http_write_head(lws* wsi, int status, const char* content_type, size_t body_size);

/* LWS_CALLBACK_HTTP: answers `uri` (the path without the query): writes the
 * status line and headers now and keeps the body in `conn` for
 * HTTP_WRITEABLE. Returns nonzero when the connection should be dropped. */
int http_reply_begin(Server& server, lws* wsi, ConnData* conn, const char* uri);

/* LWS_CALLBACK_HTTP_WRITEABLE: writes the kept body and completes the
 * transaction. Returns -1 when the connection is to be closed. */
int http_reply_write(lws* wsi, ConnData* conn);

/* The connection closed or left HTTP: drops a body not written yet. */
void http_reply_drop(ConnData* conn);

}  // namespace pushd
