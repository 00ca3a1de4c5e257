// The io layer's state of one accepted connection, from its adoption by
// lws (LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED) until lws frees it
// (LWS_CALLBACK_WSI_DESTROY, which lws 4.1 sends for every server wsi).
// HTTP requests and WebSocket sessions share the protocol, so both halves
// live here. What the core logic owns of a WebSocket connection is its
// Session; what only the transport reads or writes is here.
#pragma once

#include "core/auth.hpp"
#include "core/cidr.hpp"

#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pushd {

struct Session;

// The HTTP half of a connection: only plain HTTP requests (/health,
// /stats, /metrics) have one, so a WebSocket connection pays a pointer.
struct HttpExchange {
    // The reply body waiting for HTTP_WRITEABLE (LWS_PRE headroom first).
    std::vector<unsigned char> reply;
};

// Every idle WebSocket connection carries one, so its fields are ordered to
// pack (88 bytes): what only some connections need hangs off a pointer.
struct ConnData {
    lws* wsi = nullptr;

    // WebSocket half.
    Session* session = nullptr;  // from ESTABLISHED to CLOSED (owned by the hub)
    // Verified at the handshake, handed to the hub at ESTABLISHED.
    std::unique_ptr<VerifiedToken> handshake_token;
    // Reassembly of a message arriving in several frames or receive
    // callbacks (allocated by the first piece); bounded by
    // Limits.MaxMessageBytes.
    std::unique_ptr<std::string> rx;

    // HTTP half (nullptr until a reply is made, dropped once written or on close).
    std::unique_ptr<HttpExchange> http;

    // Counted from accept in Server::pending (and under `peer` in
    // Server::pending_per_ip while pending_ip) until it upgrades, turns out
    // to be plain HTTP, or closes: a connection that may still become a
    // WebSocket holds its place against the connection limits.
    IpAddr peer{};
    // The client's address (the peer, or from X-Forwarded-For behind a
    // trusted proxy), found at the handshake; counted in Server::per_ip
    // from ESTABLISHED until CLOSED while ip_counted.
    IpAddr client{};

    int fd = -1;  // its socket, kept for io/ws_mask_check after lws closed it
    bool pending = false;
    bool pending_ip = false;
    bool ip_counted = false;
    // Counted in Server::ws_open from ESTABLISHED until lws frees it (lws
    // may still be flushing the close frame after CLOSED).
    bool ws_counted = false;
    // The client's permessage-deflate offer (if any) accepts our window.
    bool deflate_window_ok = false;
    // permessage-deflate is active on the connection (lws inflates input).
    bool deflate_active = false;

    // Write path (io/ws_write). Listed for the end-of-iteration flush.
    bool flush_listed = false;
    // Its write is queued in the current send batch: nothing more may be
    // sent before it.
    bool write_batched = false;
    // The peer sent a close frame: lws answers it and nothing more is written.
    bool peer_closed = false;

    // The orderly close was asked of lws once (its timer armed, then -1
    // returned once): a second request makes lws 4.1 drop the socket at
    // once, losing the close frame (issue 17, failure 1).
    bool close_timer_armed = false;
    bool close_requested = false;

    // The second of the last lws_validity_confirmed (wall clock, modulo 256:
    // it fits the padding): confirmed once a second at most (io/ws_protocol).
    uint8_t validity_s = 0;
};

/* Creates the ConnData of `wsi` and hangs it on the wsi's opaque user data
 * (lws keeps the pointer; conn_detach takes ownership back). Returns it. */
ConnData* conn_attach(lws* wsi);

/* The ConnData of `wsi`, or nullptr when it has none (not adopted through
 * our callback). */
inline ConnData* conn_of(const lws* wsi) { return static_cast<ConnData*>(lws_get_opaque_user_data(wsi)); }

/* Takes the ConnData back from `wsi` (lws is freeing it): the caller
 * destroys it. nullptr when it had none. */
std::unique_ptr<ConnData> conn_detach(lws* wsi);

}  // namespace pushd
