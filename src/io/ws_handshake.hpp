// Admission of a WebSocket upgrade, on the lws side: gathers the facts of
// the request (client address behind trusted proxies, path, Origin, the
// connection counts), applies core/access's checks in their order, verifies
// a token offered at the handshake and answers a refusal with its HTTP
// status. The decisions themselves are core/access's and core/auth's.
#pragma once

#include <libwebsockets.h>

namespace pushd {

struct ConnData;
struct Server;

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: decides whether the upgrade on
 * `wsi` may proceed, before anything is allocated for it. On admission
 * records the client address, the deflate offer and the verified token (if
 * one was offered) in `conn` and returns 0; otherwise answers the refusal
 * (counted by reason) and returns -1, and lws closes the connection. */
int ws_handshake_admit(Server& server, lws* wsi, ConnData* conn);

}  // namespace pushd
