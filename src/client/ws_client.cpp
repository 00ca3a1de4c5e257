// WebSocket client hub: lws client context, per-connection records, and the
// on-demand service loop. See ws_client.hpp for the contract.
#include "client/ws_client.hpp"

#include <libwebsockets.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <map>

namespace pushd {

namespace {

// One frame waiting to be written, with LWS_PRE bytes of headroom in front
// of the payload as lws_write requires.
struct OutFrame {
    std::vector<unsigned char> buf;
    size_t len = 0;
    int protocol = LWS_WRITE_TEXT;  // lws_write_protocol bits
};

int64_t now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

constexpr const char* kProtocolName = "pushd-client";

// A connection's record. Owned by Impl::conns; lws points at it through the
// wsi's opaque user data while the socket lives, and WSI_DESTROY clears
// `wsi` so the record never refers to a freed wsi.
struct Conn {
    int id = 0;
    struct lws* wsi = nullptr;
    WsState st = WsState::connecting;
    ConnectOptions opts;
    std::string host_header;

    int http_status = 0;
    std::string error;
    // Why OpenSSL rejected the server's certificate ("self-signed
    // certificate"), when it did; lws's own error then says nothing useful.
    std::string tls_verify_error;

    std::deque<OutFrame> out;
    size_t out_bytes = 0;
    // The frame most recently handed to lws_write. With permessage-deflate
    // lws keeps reading the caller's buffer after lws_write returns (the
    // extension drains the rest of the input in later POLLOUTs, before the
    // next WRITEABLE callback), so the buffer lives until that callback.
    OutFrame in_flight;

    bool close_requested = false;  // close() called: send close after `out`
    int close_req_code = 1000;
    std::string close_req_reason;

    bool peer_closed = false;  // server's close frame seen
    int peer_code = 0;
    std::string peer_reason;
    int final_code = 0;  // close_code() once closed/failed

    bool rx_in_message = false;
    bool rx_binary = false;
    std::string rx;
    std::deque<WsMessage> inbox;
    size_t bytes_rx = 0;

    bool paused = false;
};

// An lws timer that ends lws_service's poll by a wait's deadline.
struct Waker {
    lws_sorted_usec_list_t sul;
    struct lws_context* ctx = nullptr;
};

}  // namespace

struct WsClientHub::Impl {
    WsHubOptions options;
    struct lws_context* ctx = nullptr;
    struct lws_protocols protocols[2];
    struct lws_extension extensions[2];
    Waker wake;  // wakes the poll at a wait's deadline
    std::map<int, std::unique_ptr<Conn>> conns;
    int next_id = 1;

    Conn* find(int id) const {
        auto it = conns.find(id);
        return it == conns.end() ? nullptr : it->second.get();
    }

    // One lws service round, woken no later than `deadline_us`.
    void run_once(int64_t deadline_us);
    bool wait_for(const std::function<bool()>& condition, int timeout_ms);
    bool queue(int id, std::string payload, int protocol);
};

// Re-arms itself 1 ms ahead. lws runs the timers that are due and then
// sleeps until the next one still pending: a timer that was due before the
// poll no longer bounds it, and the poll could sleep for seconds (on an
// unrelated lws timer) past the deadline. Re-arming keeps one pending; the
// wait cancels it when it ends.
static void wake_cb(lws_sorted_usec_list_t* sul) {
    Waker* w = lws_container_of(sul, Waker, sul);
    lws_sul_schedule(w->ctx, 0, &w->sul, wake_cb, 1000);
}

// Marks `c` gone: final state and close code from what was seen.
static void finish(Conn* c, const char* why) {
    if (c->st == WsState::closed || c->st == WsState::failed) return;
    bool was_open = c->st == WsState::open || c->st == WsState::closing;
    c->st = was_open ? WsState::closed : WsState::failed;
    if (c->peer_closed)
        c->final_code = c->peer_code;
    else if (c->close_requested && was_open)
        c->final_code = c->close_req_code;
    else
        c->final_code = 1006;
    if (c->error.empty() && why) c->error = why;
    c->out.clear();
    c->out_bytes = 0;
}

static int on_writeable(Conn* c, struct lws* wsi) {
    c->in_flight = OutFrame();  // lws is done with it: this is the next callback
    if (!c->out.empty()) {
        c->in_flight = std::move(c->out.front());
        c->out.pop_front();
        OutFrame& f = c->in_flight;
        c->out_bytes -= f.len;
        int n = lws_write(wsi, f.buf.data() + LWS_PRE, f.len, static_cast<enum lws_write_protocol>(f.protocol));
        if (n < 0) {
            c->error = "lws_write failed";
            return -1;
        }
        if (!c->out.empty() || c->close_requested) lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_requested) {
        lws_close_reason(wsi, static_cast<enum lws_close_status>(c->close_req_code),
                         reinterpret_cast<unsigned char*>(c->close_req_reason.data()), c->close_req_reason.size());
        return -1;  // lws sends the close frame and awaits the server's reply
    }
    return 0;
}

static void on_receive(Conn* c, struct lws* wsi, const void* in, size_t len) {
    if (!c->rx_in_message) {
        c->rx_in_message = true;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
        c->rx.clear();
    }
    if (len) c->rx.append(static_cast<const char*>(in), len);
    c->bytes_rx += len;
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        c->inbox.push_back(WsMessage{c->rx_binary, std::move(c->rx)});
        c->rx = std::string();
        c->rx_in_message = false;
    }
}

// Appends the caller's extra headers to the upgrade request. `*p` points
// into lws's buffer with `room` bytes left.
static int append_headers(Conn* c, char** p, size_t room) {
    for (const auto& [name, value] : c->opts.headers) {
        size_t need = name.size() + 2 + value.size() + 2;
        if (need >= room) {
            c->error = "handshake headers too long";
            return -1;
        }
        std::memcpy(*p, name.data(), name.size());
        *p += name.size();
        std::memcpy(*p, ": ", 2);
        *p += 2;
        std::memcpy(*p, value.data(), value.size());
        *p += value.size();
        std::memcpy(*p, "\r\n", 2);
        *p += 2;
        room -= need;
    }
    return 0;
}

// The upgrade succeeded: the connection is open; what waited is written.
static void on_established(Conn* c, struct lws* wsi) {
    c->wsi = wsi;
    if (c->http_status == 0) c->http_status = 101;
    if (c->st == WsState::connecting) c->st = WsState::open;
    if (c->paused) lws_rx_flow_control(wsi, 0);
    if (!c->out.empty() || c->close_requested) lws_callback_on_writable(wsi);
}

// The connection failed (refused upgrade, TLS, network): why, in c->error.
static void on_connection_error(Conn* c, struct lws* wsi, void* in, size_t len) {
    if (!c->tls_verify_error.empty()) {
        c->error = "tls handshake: certificate not trusted: " + c->tls_verify_error;
        finish(c, nullptr);
        return;
    }
    if (c->http_status == 0) c->http_status = static_cast<int>(lws_http_client_http_response(wsi));
    if (in) {
        const char* msg = static_cast<const char*>(in);
        c->error.assign(msg, strnlen(msg, len ? len : 256));
    }
    if (c->error.empty()) c->error = "connection error";
    finish(c, nullptr);
}

// The server's close frame: its code and reason.
static void on_peer_close(Conn* c, void* in, size_t len) {
    const auto* b = static_cast<const unsigned char*>(in);
    c->peer_closed = true;
    if (len >= 2) {
        c->peer_code = (b[0] << 8) | b[1];
        c->peer_reason.assign(reinterpret_cast<const char*>(b + 2), len - 2);
    } else {
        c->peer_code = 1005;  // close frame without a status code
    }
}

// The lws protocol callback: finds the Conn of `wsi` and translates (long:
// one translating switch over lws's client events, each case a line or a call).
static int hub_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
    // Per-connection state is the Conn behind the opaque pointer; `user` is
    // only used as lws documents it for certificate verification.
    Conn* c = wsi ? static_cast<Conn*>(lws_get_opaque_user_data(wsi)) : nullptr;
    if (!c) return 0;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: return append_headers(c, static_cast<char**>(in), len);

    case LWS_CALLBACK_CLIENT_CONFIRM_EXTENSION_SUPPORTED:
        return c->opts.permessage_deflate ? 0 : 1;  // nonzero: do not offer

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        // The server's status line was read (also for a refused upgrade);
        // the header table is freed soon after, so read it now.
        c->http_status = static_cast<int>(lws_http_client_http_response(wsi));
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED: on_established(c, wsi); return 0;

    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        // Once per certificate of the chain, `user` the X509_STORE_CTX and
        // `len` OpenSSL's verdict. Only recorded: lws fails the handshake
        // (unless tls_insecure, when lws may accept it after all).
        if (len == 0 && user && !c->opts.tls_insecure && c->tls_verify_error.empty())
            c->tls_verify_error =
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(static_cast<X509_STORE_CTX*>(user)));
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: on_connection_error(c, wsi, in, len); return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE: on_receive(c, wsi, in, len); return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(c, wsi);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(c, in, len);
        return 0;  // lws echoes the close and ends the connection

    case LWS_CALLBACK_CLIENT_CLOSED: finish(c, "closed"); return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        finish(c, "connection destroyed");
        c->in_flight = OutFrame();
        c->wsi = nullptr;
        lws_set_opaque_user_data(wsi, nullptr);
        return 0;

    default: return 0;
    }
}

void WsClientHub::Impl::run_once(int64_t deadline_us) {
    int64_t left = deadline_us - now_us();
    if (left < 0) left = 0;
    lws_sul_schedule(ctx, 0, &wake.sul, wake_cb, left);
    lws_service(ctx, 0);
}

bool WsClientHub::Impl::wait_for(const std::function<bool()>& condition, int timeout_ms) {
    if (condition()) return true;
    if (!ctx) return false;
    int64_t deadline = now_us() + int64_t(timeout_ms) * 1000;
    while (now_us() < deadline) {
        run_once(deadline);
        if (condition()) {
            lws_sul_cancel(&wake.sul);
            return true;
        }
    }
    lws_sul_cancel(&wake.sul);
    return condition();
}

bool WsClientHub::Impl::queue(int id, std::string payload, int protocol) {
    Conn* c = find(id);
    if (!c || c->st != WsState::open || !c->wsi || c->close_requested) return false;
    OutFrame f;
    f.len = payload.size();
    f.protocol = protocol;
    f.buf.resize(LWS_PRE + payload.size());
    if (!payload.empty()) std::memcpy(f.buf.data() + LWS_PRE, payload.data(), payload.size());
    c->out_bytes += f.len;
    c->out.push_back(std::move(f));
    lws_callback_on_writable(c->wsi);
    return true;
}

WsClientHub::WsClientHub(const WsHubOptions& options) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.options = options;
    std::memset(&m.wake.sul, 0, sizeof(m.wake.sul));
    std::memset(m.protocols, 0, sizeof(m.protocols));
    std::memset(m.extensions, 0, sizeof(m.extensions));
    m.protocols[0].name = kProtocolName;
    m.protocols[0].callback = hub_callback;
    m.protocols[0].rx_buffer_size = options.rx_buffer_size;
    m.extensions[0].name = "permessage-deflate";
    m.extensions[0].callback = lws_extension_callback_pm_deflate;
    m.extensions[0].client_offer = "permessage-deflate; client_max_window_bits";

    lws_set_log_level(options.lws_log_level, nullptr);

    struct lws_context_creation_info info;
    std::memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = m.protocols;
    info.extensions = m.extensions;
    info.gid = -1;
    info.uid = -1;
    // Room for long upgrade requests (a JWT in the query and in a header).
    info.pt_serv_buf_size = 16384;
    info.max_http_header_data = 8192;
    if (options.enable_tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        if (!options.tls_ca_file.empty()) info.client_ssl_ca_filepath = m.options.tls_ca_file.c_str();
    }
    m.ctx = lws_create_context(&info);
    m.wake.ctx = m.ctx;
}

WsClientHub::~WsClientHub() {
    if (impl_->ctx) {
        lws_sul_cancel(&impl_->wake.sul);
        lws_context_destroy(impl_->ctx);  // fires WSI_DESTROY for live sockets
        impl_->ctx = nullptr;
    }
}

bool WsClientHub::ok() const { return impl_->ctx != nullptr; }

int WsClientHub::connect(const ConnectOptions& options) {
    Impl& m = *impl_;
    int id = m.next_id++;
    auto owned = std::make_unique<Conn>();
    Conn* c = owned.get();
    c->id = id;
    c->opts = options;
    if (c->opts.path.empty() || c->opts.path[0] != '/') c->opts.path = "/" + c->opts.path;
    c->host_header = options.host + ":" + std::to_string(options.port);
    m.conns.emplace(id, std::move(owned));

    if (!m.ctx) {
        c->error = "no lws context";
        finish(c, nullptr);
        return id;
    }
    if (options.tls && !m.options.enable_tls) {
        c->error = "tls requested but the hub was created without enable_tls";
        finish(c, nullptr);
        return id;
    }

    struct lws_client_connect_info ci;
    std::memset(&ci, 0, sizeof(ci));
    ci.context = m.ctx;
    ci.address = c->opts.host.c_str();
    ci.port = c->opts.port;
    ci.path = c->opts.path.c_str();
    if (c->opts.tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (c->opts.tls_insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    if (!c->opts.local_address.empty())
        ci.iface = c->opts.local_address.c_str();  // lws binds the socket to it before connect
    ci.host = c->host_header.c_str();
    ci.protocol = nullptr;  // no subprotocol offered
    ci.local_protocol_name = kProtocolName;
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    struct lws* wsi = lws_client_connect_via_info(&ci);
    if (!wsi) {
        // Failed synchronously; CONNECTION_ERROR may already have run.
        c->wsi = nullptr;
        if (c->error.empty()) c->error = "connect failed";
        finish(c, nullptr);
    }
    return id;
}

bool WsClientHub::wait_open(int id, int timeout_ms) {
    impl_->wait_for(
        [&] {
            Conn* c = impl_->find(id);
            return !c || c->st != WsState::connecting;
        },
        timeout_ms);
    Conn* c = impl_->find(id);
    return c && c->st == WsState::open;
}

WsState WsClientHub::state(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->st : WsState::unknown;
}

bool WsClientHub::is_open(int id) const { return state(id) == WsState::open; }

int WsClientHub::handshake_status(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->http_status : 0;
}

std::string WsClientHub::error(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->error : std::string("unknown connection id");
}

bool WsClientHub::send_text(int id, std::string text) { return impl_->queue(id, std::move(text), LWS_WRITE_TEXT); }

bool WsClientHub::send_binary(int id, std::string bytes) {
    return impl_->queue(id, std::move(bytes), LWS_WRITE_BINARY);
}

bool WsClientHub::send_fragments(int id, std::vector<std::string> parts, bool binary) {
    Conn* c = impl_->find(id);
    if (parts.empty() || !c || c->st != WsState::open || c->close_requested) return false;
    for (size_t i = 0; i < parts.size(); i++) {
        int proto = i == 0 ? (binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
        if (i + 1 < parts.size()) proto |= LWS_WRITE_NO_FIN;
        impl_->queue(id, std::move(parts[i]), proto);
    }
    return true;
}

bool WsClientHub::send_ping(int id, std::string payload) {
    if (payload.size() > 125) return false;
    return impl_->queue(id, std::move(payload), LWS_WRITE_PING);
}

bool WsClientHub::close(int id, int code, std::string reason) {
    Conn* c = impl_->find(id);
    if (!c) return false;
    if (c->st == WsState::connecting) {
        c->error = "closed by client while connecting";
        if (c->wsi) lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        finish(c, nullptr);
        return true;
    }
    if (c->st != WsState::open) return false;
    if (reason.size() > 123) reason.resize(123);
    c->close_requested = true;
    c->close_req_code = code;
    c->close_req_reason = std::move(reason);
    c->st = WsState::closing;
    if (c->wsi) lws_callback_on_writable(c->wsi);
    return true;
}

bool WsClientHub::wait_closed(int id, int timeout_ms) {
    return impl_->wait_for(
        [&] {
            Conn* c = impl_->find(id);
            return !c || c->st == WsState::closed || c->st == WsState::failed;
        },
        timeout_ms);
}

int WsClientHub::close_code(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->final_code : 0;
}

std::string WsClientHub::close_reason(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->peer_reason : std::string();
}

bool WsClientHub::closed_by_client(int id) const {
    Conn* c = impl_->find(id);
    return c && c->close_requested;
}

std::optional<WsMessage> WsClientHub::recv(int id, int timeout_ms) {
    impl_->wait_for(
        [&] {
            Conn* c = impl_->find(id);
            return !c || !c->inbox.empty() || c->st == WsState::closed || c->st == WsState::failed;
        },
        timeout_ms);
    Conn* c = impl_->find(id);
    if (!c || c->inbox.empty()) return std::nullopt;
    WsMessage msg = std::move(c->inbox.front());
    c->inbox.pop_front();
    return msg;
}

std::optional<std::string> WsClientHub::recv_text(int id, int timeout_ms) {
    auto msg = recv(id, timeout_ms);
    if (!msg) return std::nullopt;
    return std::move(msg->data);
}

size_t WsClientHub::pending_messages(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->inbox.size() : 0;
}

size_t WsClientHub::bytes_received(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->bytes_rx : 0;
}

size_t WsClientHub::unsent_bytes(int id) const {
    Conn* c = impl_->find(id);
    return c ? c->out_bytes : 0;
}

void WsClientHub::pause_reading(int id, bool paused) {
    Conn* c = impl_->find(id);
    if (!c) return;
    c->paused = paused;
    if (c->wsi && (c->st == WsState::open || c->st == WsState::closing)) lws_rx_flow_control(c->wsi, paused ? 0 : 1);
}

bool WsClientHub::wait_for(const std::function<bool()>& condition, int timeout_ms) {
    return impl_->wait_for(condition, timeout_ms);
}

void WsClientHub::service(int duration_ms) {
    impl_->wait_for([] { return false; }, duration_ms);
}

void WsClientHub::forget(int id) {
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) return;
    Conn* c = it->second.get();
    if (c->wsi) {
        lws_set_opaque_user_data(c->wsi, nullptr);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    impl_->conns.erase(it);
}

std::vector<int> WsClientHub::ids() const {
    std::vector<int> out;
    out.reserve(impl_->conns.size());
    for (const auto& [id, c] : impl_->conns) out.push_back(id);
    return out;
}

size_t WsClientHub::open_count() const {
    size_t n = 0;
    for (const auto& [id, c] : impl_->conns)
        if (c->st == WsState::open) n++;
    return n;
}

const char* ws_state_name(WsState state) {
    switch (state) {
    case WsState::connecting: return "connecting";
    case WsState::open: return "open";
    case WsState::closing: return "closing";
    case WsState::closed: return "closed";
    case WsState::failed: return "failed";
    case WsState::unknown: return "unknown";
    }
    return "?";
}

}  // namespace pushd
