// Admission of a WebSocket upgrade, on the lws side: gathers the facts of
// the request (client address behind trusted proxies, path, Origin, the
// connection counts), applies core/access's checks in their order, verifies
// a token offered at the handshake and answers a refusal with its HTTP
// status. The decisions themselves are core/access's and core/auth's.
#pragma once

#include <libwebsockets.h>

#include <string>

namespace pushd {

struct ConnData;
struct Server;

// How long a connection may take, from accept, to send its request head
// (a WebSocket handshake or a plain HTTP request); lws's own default was
// 10 s. Also lws's limit for a TLS accept and for a connection waiting for
// a header buffer.
inline constexpr int kHandshakeDeadlineSeconds = 5;
// The largest request head, in bytes as sent up to its blank line: room
// for a token of core/auth's kMaxTokenBytes (8 KiB) both as ?token= and in
// Authorization, plus 4 KiB for the rest. A token longer than
// kMaxTokenBytes within it gets 401; a longer head on a plain-TCP
// connection gets 431 from io/ws_mask_check, which sees the bytes before
// lws (lws 4.1 would close it without an answer, as it still does under TLS).
inline constexpr size_t kMaxRequestHeadBytes = 20 * 1024;
// lws's own limit (max_http_header_data; its default was 4,096) sits above
// ours: lws keeps less than the bytes sent (no names, no CRLFs), so with
// this room ours is always the one that answers.
inline constexpr size_t kLwsHeadBytes = kMaxRequestHeadBytes + 1024;
// HTTP status for a request head over kMaxRequestHeadBytes (RFC 6585).
inline constexpr int kHttpHeadTooLarge = 431;
// Connections our listener accepts per loop iteration at most, so a burst
// of connects cannot hold up the established connections (io/ws_server).
inline constexpr int kAcceptsPerIteration = 64;

/* LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED (after conn_attach): counts
 * the accepted connection as pending. Returns -1, and lws closes it at
 * once, when the pending connections alone already reach
 * Limits.MaxConnections, or those from its peer address
 * Limits.MaxConnectionsPerIp; 0 otherwise. */
int ws_handshake_accept(Server& server, lws* wsi, ConnData* conn);

/* The connection upgraded, turned out to be plain HTTP, or is going: it is
 * no longer pending. Idempotent. */
void ws_handshake_settle(Server& server, ConnData* conn);

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: decides whether the upgrade on
 * `wsi` may proceed, before anything is allocated for it; the connection
 * limits count the open WebSocket connections and the other pending ones
 * (ws_handshake_accept). On admission
 * records the client address, the deflate offer and the verified token (if
 * one was offered) in `conn` and returns 0; otherwise answers the refusal
 * (counted by reason) and returns -1, and lws closes the connection. */
int ws_handshake_admit(Server& server, lws* wsi, ConnData* conn);

/* The whole HTTP/1.1 answer refusing a request with `status` (a 4xx or
 * 5xx), "connection: close" and a one-line body, ready to write. */
std::string http_refusal(int status);

}  // namespace pushd
