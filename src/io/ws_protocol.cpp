#include "io/ws_protocol.hpp"

#include "io/http_reply.hpp"
#include "io/read_again.hpp"
#include "io/server.hpp"
#include "io/ws_conn.hpp"
#include "io/ws_handshake.hpp"
#include "io/ws_mask_check.hpp"
#include "io/ws_write.hpp"

#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

namespace pushd {
namespace {

// RFC 6455 section 7.4.1: protocol error (an unmasked client frame).
constexpr uint16_t kCloseProtocolError = 1002;

Server& server_of(lws* wsi) { return *static_cast<Server*>(lws_context_user(lws_get_context(wsi))); }

// A connection was accepted: its ConnData, the watch of its request head
// and frames' masks, the connection limits.
int on_accept(Server& server, lws* wsi) {
    ConnData* conn = conn_attach(wsi);
    server.accepted++;
    conn->fd = lws_get_socket_fd(wsi);
    mask_check_watch(conn->fd, lws_is_ssl(wsi));
    return ws_handshake_accept(server, wsi, conn);
}

// Asks lws to send `code` and `reason` in the close frame it sends next.
void set_close_reason(lws* wsi, uint16_t code, const char* reason) {
    lws_close_reason(wsi, static_cast<lws_close_status>(code),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(reason)), std::strlen(reason));
}

void on_established(Server& server, lws* wsi, ConnData* conn) {
    server.counters.ws_connections_opened++;
    std::optional<VerifiedToken> token;
    if (conn->handshake_token) token = std::move(*conn->handshake_token);
    conn->handshake_token.reset();
    ws_handshake_settle(server, conn);
    conn->ws_counted = true;
    server.ws_open++;
    server.per_ip[conn->client]++;
    conn->ip_counted = true;
    conn->session = server.hub->on_open(conn, token, wall_ms());
    // lws answers an option query only for an extension active on the
    // connection: that is how we learn permessage-deflate was negotiated.
    conn->deflate_active = server.config.compression.enabled &&
                           lws_set_extension_option(wsi, "permessage-deflate", "compression_level", "1") == 0;
    conn->session->deflate = conn->deflate_active && conn->deflate_window_ok;
}

// The connection no longer counts against Limits.MaxConnectionsPerIp.
void uncount_ip(Server& server, ConnData* conn) {
    if (!conn->ip_counted) return;
    conn->ip_counted = false;
    auto it = server.per_ip.find(conn->client);
    if (it != server.per_ip.end() && --it->second == 0) server.per_ip.erase(it);
}

// Tells lws the peer is alive (its validity hangup is only the backstop of
// our heartbeat: Heartbeat.Timeout + 10 s), once a second at most. Each
// confirmation re-inserts the connection's timer in lws 4.1's one sorted
// list of every connection's timers, a walk of ~all of them: per message
// from a publisher that was ~7% of the server's CPU in the closed loop
// (issue 16, bench/README.md).
void confirm_alive(lws* wsi, ConnData* conn, int64_t now_ms) {
    const auto second = static_cast<uint8_t>(now_ms / 1000);
    if (conn->validity_s == second) return;
    conn->validity_s = second;
    lws_validity_confirmed(wsi);
}

// Closes from inside this connection's own receive callback: the hub marks
// the session closing (as for any close), and lws sends the close frame
// when the callback returns -1.
int close_now(Server& server, lws* wsi, ConnData* conn, uint16_t code, const char* reason) {
    server.hub->count_protocol_close();
    server.hub->close_session(conn->session, code, reason);
    // While lws drains an inflated message it ignores -1 from this callback
    // (lws 4.1): then the close goes the asynchronous way the hub just
    // started; the rest of the message is ignored (the session is closing).
    if (conn->deflate_active) return 0;
    set_close_reason(wsi, code, reason);
    conn->close_requested = true;
    read_again_forget(conn->fd);
    return -1;
}

int on_receive(Server& server, lws* wsi, ConnData* conn, const char* in, size_t len) {
    Session* s = conn->session;
    if (!s || s->closing) return 0;
    if (mask_check_unmasked(conn->fd)) return close_now(server, wsi, conn, kCloseProtocolError, "unmasked frame");
    const int64_t now_ms = wall_ms();
    confirm_alive(wsi, conn, now_ms);  // any traffic shows the peer is alive
    server.hub->touch(s, now_ms);
    if (lws_frame_is_binary(wsi))
        return close_now(server, wsi, conn, kCloseUnsupported, "binary frames are not supported");
    const size_t held = conn->rx ? conn->rx->size() : 0;
    if (held + len > static_cast<size_t>(server.config.limits.max_message_bytes))
        return close_now(server, wsi, conn, kCloseTooBig, "message too big");
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) {
        if (!conn->rx) conn->rx = std::make_unique<std::string>();
        conn->rx->append(in, len);
        // lws 4.1 inflates a compressed message in rx_buffer_size pieces,
        // but its libuv idle stops after one forced service even when more
        // inflated data waits, so the rest of the message would sit until
        // the client sends again. Waking lws's service (its event pipe) gets
        // the next pieces out (a spare wake-up when the rest is simply not
        // received yet).
        if (conn->deflate_active) lws_cancel_service(lws_get_context(wsi));
        return 0;
    }
    if (!held) {
        server.hub->on_text(s, std::string_view(in, len), wall_ms());  // the common case: no copy
        return 0;
    }
    // The message is whole: the buffer goes with it (an idle connection
    // keeps none).
    std::unique_ptr<std::string> message = std::move(conn->rx);
    message->append(in, len);
    server.hub->on_text(s, *message, wall_ms());
    return 0;
}

// Writes the queue; once a closing session's output is out, arms the
// wsi's timer, whose callback asks lws for the orderly close. Returning -1
// from a writable callback, or a timeout kill, makes lws drop the socket
// without a close frame (it takes the socket as broken); returning -1 from
// the timer callback goes through lws's orderly close, which sends the
// reason set here. Armed once only.
int on_writeable(Server& server, lws* wsi, ConnData* conn) {
    Session* s = conn ? conn->session : nullptr;
    if (!s) return 0;
    if (!s->outq.empty()) return ws_write_on_writeable(server, conn);
    if (s->closing && !conn->close_timer_armed) {
        conn->close_timer_armed = true;
        set_close_reason(wsi, s->close_code, s->close_reason);
        lws_set_timer_usecs(wsi, 1);
    }
    return 0;
}

// The timer armed by on_writeable: the close is asked of lws once, when
// the closing session's output is out.
int on_timer(ConnData* conn) {
    if (!conn || conn->close_requested || !conn->session || !conn->session->closing || !conn->session->outq.empty()) {
        return 0;
    }
    conn->close_requested = true;
    return -1;
}

// A closing connection ends without the orderly close it was waiting for:
// lws's pending timeout (transport close: 5 s) killed it because the peer
// took neither the rest of its output nor the close frame. Its stream may
// end inside a frame, so it is reset (SO_LINGER 0) rather than ended in
// order, which the peer would take for a complete stream (issue 17,
// failure 2). lws closes the descriptor after this callback.
void reset_if_cut(ConnData* conn) {
    const Session* s = conn->session;
    if (!s || !s->closing || conn->close_requested || conn->peer_closed) return;
    linger hard{1, 0};
    setsockopt(lws_get_socket_fd(conn->wsi), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
}

void on_closed(Server& server, ConnData* conn) {
    if (!conn) return;
    reset_if_cut(conn);
    conn->handshake_token.reset();
    uncount_ip(server, conn);
    Session* s = conn->session;
    if (!s) return;
    conn->session = nullptr;
    ws_write_unlist(server, conn);
    server.counters.ws_connections_closed++;
    server.hub->on_closed(s);
}

// lws frees the connection: its ConnData goes with it.
void on_destroy(Server& server, lws* wsi) {
    std::unique_ptr<ConnData> conn = conn_detach(wsi);
    if (!conn) return;
    mask_check_forget(conn->fd);
    ws_handshake_settle(server, conn.get());
    on_closed(server, conn.get());  // normally done at CLOSED already
    ws_write_unlist(server, conn.get());
    if (!conn->ws_counted) return;
    server.ws_open--;
    server_connection_gone(server);
}

int callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
    ConnData* conn = conn_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: return on_accept(server_of(wsi), wsi);
    case LWS_CALLBACK_HTTP:
        if (conn) mask_check_forget(conn->fd);      // plain HTTP: no frames to watch
        ws_handshake_settle(server_of(wsi), conn);  // plain HTTP is not limited
        return http_reply_begin(server_of(wsi), wsi, conn, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_WRITEABLE: return http_reply_write(wsi, conn);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: http_reply_drop(conn); return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return ws_handshake_admit(server_of(wsi), wsi, conn);
    case LWS_CALLBACK_ESTABLISHED:
        if (!conn) return -1;
        on_established(server_of(wsi), wsi, conn);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(server_of(wsi), wsi, conn);
    case LWS_CALLBACK_RECEIVE:
        return conn ? on_receive(server_of(wsi), wsi, conn, static_cast<const char*>(in), len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        // Only pongs with a payload get here (lws drops empty ones): ours.
        if (!conn) return 0;
        confirm_alive(wsi, conn, wall_ms());
        if (conn->session) server_of(wsi).hub->touch(conn->session, wall_ms());
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (conn) conn->peer_closed = true;
        return 0;
    case LWS_CALLBACK_CLOSED: on_closed(server_of(wsi), conn); return 0;
    case LWS_CALLBACK_TIMER: return on_timer(conn);
    case LWS_CALLBACK_WSI_DESTROY: on_destroy(server_of(wsi), wsi); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const lws_protocols kProtocols[] = {
    // No per-session data from lws: each connection's ConnData hangs on
    // its opaque user data (io/ws_conn). rx_buffer_size is allocated per
    // connection by lws: small, since messages are reassembled in ConnData
    // anyway (128 instead of 1024 saves ~630 bytes of RSS per idle
    // connection, measured at 10,000); tx_packet_size bounds one batched
    // write.
    {"pushd", callback, 0, 128, 0, nullptr, kWriteBatchBytes},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

const lws_protocols* ws_protocols() { return kProtocols; }

}  // namespace pushd
