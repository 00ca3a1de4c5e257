#include "io/ws_protocol.hpp"

#include "io/http_routes.hpp"
#include "io/log.hpp"
#include "io/server.hpp"
#include "core/frame_deflate.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace pushd {
namespace {

Server& server_of(lws* wsi) {
    return *static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
}

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

std::string request_path(lws* wsi, lws_token_indexes token) {
    return header_value(wsi, token).value_or(std::string());
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
    char arg[kMaxTokenBytes + 8];
    const char* v = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
    if (v) return std::string(v);
    // lws returns NULL for "token=" with nothing after it as well.
    for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        if (std::strcmp(arg, "token") == 0 || std::strcmp(arg, "token=") == 0) return std::string();
    }
    return std::nullopt;
}

const char* status_reason(int status) {
    switch (status) {
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
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
    const int status = refusal_http_status(why);
    const std::string body = std::to_string(status) + " " + status_reason(status) + "\n";
    const std::string reply = "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) +
                              "\r\nserver: pushd\r\ncontent-type: text/plain\r\ncontent-length: " +
                              std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" + body;
    std::vector<unsigned char> buf(LWS_PRE + reply.size());
    std::memcpy(buf.data() + LWS_PRE, reply.data(), reply.size());
    lws_write(wsi, buf.data() + LWS_PRE, reply.size(), LWS_WRITE_HTTP_HEADERS);
    return -1;
}

// What the admission checks need to know about this upgrade request.
HandshakeFacts handshake_facts(Server& server, lws* wsi) {
    HandshakeFacts facts;
    const IpAddr peer = peer_address(wsi);
    facts.client = peer;
    if (!server.access.trusted_proxies.empty()) {
        if (std::optional<std::string> xff = header_value(wsi, WSI_TOKEN_X_FORWARDED_FOR))
            facts.client = forwarded_client(peer, *xff, server.access.trusted_proxies);
    }
    facts.draining = server.draining;
    facts.path_ok = request_path(wsi, WSI_TOKEN_GET_URI) == server.config.path;
    auto counted = server.per_ip.find(facts.client);
    facts.from_client = counted == server.per_ip.end() ? 0 : counted->second;
    facts.total = server.hub->session_count();
    facts.origin = header_value(wsi, WSI_TOKEN_ORIGIN, 1024);
    if (!facts.origin && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0)
        facts.origin = std::string();  // too long to be an origin: only "*" allows it
    return facts;
}

// Decides whether a WebSocket upgrade may proceed, before anything is
// allocated for it: the checks of core/access.hpp in their order, then the
// handshake token. Nonzero refuses it.
int on_filter_upgrade(lws* wsi, ConnData* conn) {
    Server& server = server_of(wsi);
    HandshakeFacts facts = handshake_facts(server, wsi);
    HandshakeRefusal why = admit_handshake(server.access, server.config.limits, facts);
    if (why != HandshakeRefusal::none) return refuse(server, wsi, why);
    // No per-connection memory to track it in: it cannot be taken.
    if (!conn) return refuse(server, wsi, HandshakeRefusal::capacity);
    conn->client = facts.client;
    conn->deflate_window_ok =
        deflate_offer_allows_our_window(header_value(wsi, WSI_TOKEN_EXTENSIONS).value_or(std::string()));
    if (std::optional<std::string> token = handshake_token(wsi)) {
        AuthResult r = verify_token(*token, server.config.auth.access_secret,
                                    server.config.auth.user_claim, wall_ms() / 1000);
        if (r.error != AuthError::none) return refuse(server, wsi, HandshakeRefusal::token);
        delete conn->handshake_token;
        conn->handshake_token = new VerifiedToken(std::move(r.token));
    }
    return 0;
}

void on_established(lws* wsi, ConnData* conn) {
    Server& server = server_of(wsi);
    server.counters.ws_connections_opened++;
    std::optional<VerifiedToken> token;
    if (conn->handshake_token) {
        token = std::move(*conn->handshake_token);
        delete conn->handshake_token;
        conn->handshake_token = nullptr;
    }
    server.ws_sockets.insert(wsi);
    server.per_ip[conn->client]++;
    conn->ip_counted = true;
    conn->session = server.hub->on_open(wsi, token, wall_ms());
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

// Closes from inside this connection's own callback: lws sends the close
// frame when the callback returns -1.
int close_now(Server& server, lws* wsi, ConnData* conn, Session* s, uint16_t code, const char* reason) {
    if (conn->deflate_active) {
        // While lws drains an inflated message it ignores -1 from this
        // callback (lws 4.1): close the asynchronous way instead; the rest
        // of the message is ignored (the session is closing).
        server.hub->close_session(s, code, reason);
        return 0;
    }
    s->closing = true;
    s->close_code = code;
    s->close_reason = reason;
    lws_close_reason(wsi, static_cast<lws_close_status>(code),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(reason)), std::strlen(reason));
    return -1;
}

int on_receive(lws* wsi, ConnData* conn, const char* in, size_t len) {
    Session* s = conn->session;
    if (!s || s->closing) return 0;
    Server& server = server_of(wsi);
    lws_validity_confirmed(wsi);  // any traffic shows the peer is alive
    server.hub->touch(s, wall_ms());
    if (lws_frame_is_binary(wsi)) {
        server.hub->count_protocol_close();
        return close_now(server, wsi, conn, s, kCloseUnsupported, "binary frames are not supported");
    }
    if (s->rx.size() + len > static_cast<size_t>(server.config.limits.max_message_bytes)) {
        server.hub->count_protocol_close();
        return close_now(server, wsi, conn, s, kCloseTooBig, "message too big");
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) {
        s->rx.append(in, len);
        // lws 4.1 inflates a compressed message in rx_buffer_size pieces,
        // but its libuv idle stops after one forced service even when more
        // inflated data waits, so the rest of the message would sit until
        // the client sends again. Waking lws's service (its event pipe) gets
        // the next pieces out (a spare wake-up when the rest is simply not
        // received yet).
        if (conn->deflate_active) lws_cancel_service(lws_get_context(wsi));
        return 0;
    }
    if (s->rx.empty()) {
        server.hub->on_text(s, std::string_view(in, len), wall_ms());  // the common case: no copy
    } else {
        s->rx.append(in, len);
        server.hub->on_text(s, s->rx, wall_ms());
        s->rx.clear();
        if (s->rx.capacity() > 16 * 1024) s->rx.shrink_to_fit();
    }
    return 0;
}

// Writes what is queued for `s`: every queued frame that fits, back to
// back, pre-framed, as one raw write (or one frame too big for the batch,
// from the frame itself). Whatever the socket does not take, lws keeps and
// sends before anything else, so the frame stays whole on the wire and its
// own control frames can only come between two of ours. Returns lws_write's
// result (negative: the socket is broken).
int write_queued(Server& server, lws* wsi, Session* s) {
    uint8_t* buf = server.write_scratch.get() + LWS_PRE;
    SharedFrame* big = nullptr;
    size_t n = server.hub->gather_output(s, buf, kWriteBatchBytes, &big);
    if (big) {
        int written = lws_write(wsi, const_cast<uint8_t*>(frame_wire(big)), frame_wire_len(big), LWS_WRITE_RAW);
        server.hub->consume_big(s);
        return written;
    }
    return lws_write(wsi, buf, n, LWS_WRITE_RAW);
}

// One write per writable callback, then re-arm while anything is left.
int on_writeable(lws* wsi, ConnData* conn) {
    Session* s = conn->session;
    if (!s) return 0;
    Server& server = server_of(wsi);
    if (!s->outq.empty()) {
        if (write_queued(server, wsi, s) < 0) return -1;
        if (!s->outq.empty() || s->closing) lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->closing && !conn->close_timer_armed) {
        // Returning -1 from a writable callback, or a timeout kill, makes lws
        // drop the socket without a close frame (it takes the socket as
        // broken). Returning -1 from the wsi's timer callback goes through
        // lws's orderly close, which sends the reason set here. Once only.
        conn->close_timer_armed = true;
        lws_close_reason(wsi, static_cast<lws_close_status>(s->close_code),
                         reinterpret_cast<unsigned char*>(const_cast<char*>(s->close_reason)),
                         std::strlen(s->close_reason));
        lws_set_timer_usecs(wsi, 1);
    }
    return 0;
}

// Takes `s` off the flush list (it is closing for good).
void unlist_flush(Server& server, Session* s) {
    if (!s->flush_listed) return;
    s->flush_listed = false;
    for (Session*& p : server.flush_pending)
        if (p == s) p = nullptr;
}

void on_closed(lws* wsi, ConnData* conn) {
    delete conn->handshake_token;
    conn->handshake_token = nullptr;
    Server& server = server_of(wsi);
    uncount_ip(server, conn);
    Session* s = conn->session;
    if (!s) return;
    conn->session = nullptr;
    unlist_flush(server, s);
    server.counters.ws_connections_closed++;
    server.hub->on_closed(s);
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
        return on_filter_upgrade(wsi, conn);
    case LWS_CALLBACK_ESTABLISHED:
        on_established(wsi, conn);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, conn);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, conn, static_cast<const char*>(in), len);
    case LWS_CALLBACK_RECEIVE_PONG:
        // Only pongs with a payload get here (lws drops empty ones): ours.
        lws_validity_confirmed(wsi);
        if (conn && conn->session) server_of(wsi).hub->touch(conn->session, wall_ms());
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (conn && conn->session) conn->session->peer_closed = true;
        return 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, conn);
        return 0;
    case LWS_CALLBACK_TIMER:
        // Armed by on_writeable once a closing session's output is out;
        // the close is asked of lws once.
        if (!conn || conn->close_requested || !conn->session || !conn->session->closing ||
            !conn->session->outq.empty()) {
            return 0;
        }
        conn->close_requested = true;
        return -1;
    case LWS_CALLBACK_WSI_DESTROY: {
        Server& server = server_of(wsi);
        if (server.ws_sockets.erase(wsi)) server_connection_gone(server);
        return 0;
    }
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const lws_protocols kProtocols[] = {
    // rx_buffer_size is allocated per connection by lws: small, since
    // messages are reassembled in the session anyway (128 instead of 1024
    // saves ~630 bytes of RSS per idle connection, measured at 10,000);
    // tx_packet_size bounds one batched write.
    {"pushd", callback, sizeof(ConnData), 128, 0, nullptr, kWriteBatchBytes},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

const lws_protocols* ws_protocols() { return kProtocols; }

void ws_wake(Server& server, Session* s) {
    if (s->flush_listed) return;
    s->flush_listed = true;
    server.flush_pending.push_back(s);
}

namespace {

// After a write of `done` of `w`'s bytes (0 on -EAGAIN): the rest goes to
// lws, which sends what the socket takes, keeps the remainder ahead of
// anything else and asks for POLLOUT itself, so the frame stays whole on
// the wire. Then the connection's queue continues from on_writeable.
void finish_write(Server& server, const BatchedWrite& w, int result) {
    Session* s = w.session;
    s->write_batched = false;
    if (result < 0 && result != -EAGAIN) {
        // Broken socket: lws notices on its next service of the fd.
        server.hub->drop_session(s, kCloseGoingAway, "write failed");
        return;
    }
    const size_t done = result > 0 ? static_cast<size_t>(result) : 0;
    int rest = 0;
    if (done < w.len) rest = lws_write(w.wsi, const_cast<uint8_t*>(w.bytes) + done, w.len - done, LWS_WRITE_RAW);
    if (w.head_frame) server.hub->consume_big(s);  // sent, or copied by lws
    if (rest < 0) {
        server.hub->drop_session(s, kCloseGoingAway, "write failed");
        return;
    }
    if (!s->outq.empty()) lws_callback_on_writable(w.wsi);
}

// Runs the batched sends queued so far and settles each.
void run_send_batch(Server& server) {
    if (server.batched.empty()) return;
    server.counters.send_submits++;
    server.counters.batched_sends += server.batched.size();
    const bool ran = server.send_batch->submit(
        [](void* ctx, uint32_t tag, int result) {
            Server& sv = *static_cast<Server*>(ctx);
            finish_write(sv, sv.batched[tag], result);
        },
        &server);
    if (!ran) {
        // The ring failed: nothing was sent; lws writes everything instead,
        // and this instance writes without io_uring from now on.
        log_printf(LogLevel::warn, "writes: io_uring failed, one send per connection from now on");
        for (const BatchedWrite& w : server.batched) finish_write(server, w, -EAGAIN);
    }
    server.batched.clear();
    server.send_arena_used = 0;
}

// Queues `s`'s output as one send of the batch: its single queued frame
// from the shared frame itself, several frames gathered into the arena.
// False when `s` must be written the usual way (TLS, a frame too big for one
// batched write).
bool batch_write(Server& server, lws* wsi, Session* s) {
    if (lws_is_ssl(wsi)) return false;
    if (server.send_batch->full() || kSendArenaBytes - server.send_arena_used < kWriteBatchBytes ||
        s->write_batched) {
        run_send_batch(server);
        // Settling that batch may have written or dropped `s` itself.
        if (s->closing || s->outq.empty() || lws_partial_buffered(wsi)) return true;
    }
    if (server.send_batch->broken()) return false;
    SharedFrame* head = s->outq.front();
    if (frame_wire_len(head) > kWriteBatchBytes) return false;
    BatchedWrite w{s, wsi, nullptr, 0, false};
    if (s->outq.frames() == 1) {
        w.bytes = frame_wire(head);
        w.len = static_cast<uint32_t>(frame_wire_len(head));
        w.head_frame = true;
    } else {
        uint8_t* dst = server.send_arena.get() + LWS_PRE + server.send_arena_used;
        SharedFrame* big = nullptr;
        w.bytes = dst;
        w.len = static_cast<uint32_t>(server.hub->gather_output(s, dst, kWriteBatchBytes, &big));
        server.send_arena_used += w.len;
    }
    const auto tag = static_cast<uint32_t>(server.batched.size());
    server.batched.push_back(w);
    s->write_batched = true;
    if (!server.send_batch->add(lws_get_socket_fd(wsi), w.bytes, w.len, tag)) {
        // Cannot happen (room was made above); settle it the usual way.
        server.batched.pop_back();
        finish_write(server, w, -EAGAIN);
    }
    return true;
}

}  // namespace

void ws_flush_pending(Server& server) {
    // Index loop: a write may not add sessions, but stay safe if it does.
    for (size_t i = 0; i < server.flush_pending.size(); i++) {
        Session* s = server.flush_pending[i];
        if (!s) continue;  // closed since it was listed
        s->flush_listed = false;
        if (s->closing || s->outq.empty() || s->peer_closed) continue;
        lws* wsi = static_cast<lws*>(s->transport);
        if (lws_partial_buffered(wsi)) {
            // lws still holds part of an earlier write: it asks for POLLOUT
            // itself and on_writeable continues after it.
            lws_callback_on_writable(wsi);
            continue;
        }
        if (server.send_batch && batch_write(server, wsi, s)) continue;
        if (write_queued(server, wsi, s) < 0) {
            // Broken socket: lws notices on its next service of the fd; make
            // sure that comes soon and nothing more is queued meanwhile.
            server.hub->drop_session(s, kCloseGoingAway, "write failed");
            continue;
        }
        if (!s->outq.empty()) lws_callback_on_writable(wsi);
    }
    server.flush_pending.clear();
    if (server.send_batch) run_send_batch(server);
}

}  // namespace pushd
