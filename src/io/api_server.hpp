// The HTTP API's listener (PROTOCOL.md section 9): a second lws vhost on
// Api.Listen, on the same context and loop as the WebSocket port. It serves
// /api/* (io/api_handlers carries the requests out) and GET /health,
// /stats, /metrics; nothing of it is reachable from the WebSocket port,
// whose vhost has no /api/ route.
#pragma once

namespace pushd {

struct Server;

/* Creates the API vhost when Api.Listen is set (after the lws context).
 * Returns 0, or -1 after logging why when an explicitly configured address
 * cannot be bound (the default one in use is a warning: the API stays off). */
int api_server_start(Server& server);

}  // namespace pushd
