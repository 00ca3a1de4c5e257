// WebSocket client hub on the libwebsockets client API: many connections in
// one lws context, serviced on demand by the thread that owns the hub.
//
// Used by the integration tests (many clients against a real pushd) and by
// `pushctl listen`. There is no background thread: every call that waits
// (wait_open, recv_text, wait_closed, wait_for, service) runs the lws poll
// loop itself until its condition holds or its timeout passes. Calls that do
// not wait (connect, send_*, close, pause_reading) only queue work, which the
// next waiting call carries out.
//
// Event loop: the plain lws poll loop (lws_service), not libuv. The hub owns
// its context outright, nothing else shares its loop, and a synchronous
// context teardown keeps the destructor simple. lws_service ignores its
// timeout argument (it sleeps until the next lws timer or socket event), so
// every wait arms an lws timer (sul) at its own deadline to wake the poll,
// re-armed 1 ms ahead each time it fires until the wait ends (see wake_cb).
//
// Connection ids are small positive integers, never reused within a hub. A
// connection's record (received messages, close code, handshake status)
// outlives its socket, so results can be read after it closed; forget(id)
// frees it.
//
// Signals: a signal interrupts the poll but not a wait, which goes on until
// its condition or timeout. A program that must react to SIGINT (pushctl
// listen) waits in short slices and checks its flag between them.
//
// Not thread-safe: one hub, one thread. Several hubs in one process are fine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pushd {

// What connect() should do. Only host and port are required.
struct ConnectOptions {
    std::string host = "127.0.0.1";  // IPv4 literal (127.0.0.x) or a name
    uint16_t port = 0;
    std::string path = "/ws";  // may carry a query: "/ws?token=..."
    // Extra request headers, sent verbatim as "Name: value", e.g.
    // {"Authorization", "Bearer <jwt>"} or {"Origin", "https://a.example"}.
    std::vector<std::pair<std::string, std::string>> headers;
    bool permessage_deflate = false;  // offer RFC 7692 in the handshake
    // Local address to bind the socket to before connecting (e.g.
    // "127.0.0.2", to appear as another client on loopback); empty: any.
    std::string local_address;
    // wss://: TLS to the server. Needs a hub created with enable_tls.
    bool tls = false;
    // With tls: accept a self-signed, expired or other-name certificate
    // (development servers, tests). Off: the system CAs must vouch for it.
    bool tls_insecure = false;
};

// Where a connection is in its life. Terminal states: closed, failed.
enum class WsState {
    connecting,  // TCP connect or HTTP upgrade in progress
    open,        // handshake done (101), messages flow
    closing,     // close() called; close frame queued or sent, waiting for the peer
    closed,      // was open, the connection is gone (see close_code)
    failed,      // never opened: refused (see handshake_status) or unreachable
    unknown,     // no such id (never issued, or forgotten)
};

// One whole message as received (fragments already reassembled).
struct WsMessage {
    bool binary = false;
    std::string data;
};

// Tuning for a hub; the defaults suit tests and pushctl.
struct WsHubOptions {
    // Per-connection receive buffer lws allocates for each socket. A message
    // larger than this still arrives whole: lws hands it over in pieces of at
    // most this size and the hub reassembles it (no upper bound on a whole
    // message but memory). Kept modest because it is paid per connection.
    size_t rx_buffer_size = 64 * 1024;
    // lws log bitmask (LLL_ERR | LLL_WARN ...); 0 silences lws. lws logging is
    // process-wide: the last hub created sets it.
    int lws_log_level = 0;
    // Initialise OpenSSL and a client TLS context so connections may use
    // ConnectOptions::tls. Off by default: it costs loading the system CA
    // store for every hub. Keep at most one such hub alive at a time: lws
    // 4.1 tears down OpenSSL's globals when a TLS context is destroyed, and
    // two alive at once leave ~700 KB that LeakSanitizer reports.
    bool enable_tls = false;
    // With enable_tls: a PEM file of CAs to trust besides the system ones.
    std::string tls_ca_file;
};

// Many WebSocket client connections sharing one lws context.
class WsClientHub {
public:
    // Creates the lws client context. Check ok() afterwards: on failure every
    // connect() returns a connection in state failed.
    explicit WsClientHub(const WsHubOptions& options = {});

    // Destroys the context, which drops every connection still open without a
    // close handshake (the server sees the TCP connection end).
    ~WsClientHub();

    WsClientHub(const WsClientHub&) = delete;
    WsClientHub& operator=(const WsClientHub&) = delete;

    // True when the lws context was created.
    bool ok() const;

    // Starts connecting and returns the new connection's id (> 0) at once.
    // The handshake proceeds inside later waiting calls; use wait_open().
    // A connection that cannot even be started (bad options, no context) is
    // returned in state failed with error() saying why.
    int connect(const ConnectOptions& options);

    // Runs the loop until connection `id` is open (true) or has failed or
    // closed, or `timeout_ms` passed (false).
    bool wait_open(int id, int timeout_ms);

    // Current state of `id`; WsState::unknown for an id the hub does not know.
    WsState state(int id) const;

    // True while `id` is open (handshake done, no close started).
    bool is_open(int id) const;

    // The HTTP status the server answered the upgrade request with: 101 on
    // success, e.g. 401/403/429/503/404 when it refused, 0 when no HTTP
    // answer was read (connection refused, reset, timeout).
    int handshake_status(int id) const;

    // Why a connection failed or closed, as lws or the hub put it (e.g.
    // "HS: ws upgrade response not 101", "connect failed", "tls handshake:
    // certificate not trusted: self-signed certificate"); empty otherwise.
    std::string error(int id) const;

    // Queues one text message as a single frame. False when `id` is not open
    // (or closing); the message is then dropped.
    bool send_text(int id, std::string text);

    // Queues one binary message as a single frame; as send_text otherwise.
    bool send_binary(int id, std::string bytes);

    // Queues one message sent as parts.size() frames: the first with opcode
    // text (or binary) and no FIN, then continuation frames, FIN on the last.
    // Parts may be empty strings. False when `id` is not open or `parts` is
    // empty.
    bool send_fragments(int id, std::vector<std::string> parts, bool binary = false);

    // Queues a WebSocket ping control frame (payload at most 125 bytes).
    // lws answers server pings by itself; this is for tests of the server's
    // pong handling or liveness.
    bool send_ping(int id, std::string payload = {});

    // Closes from the client side: after the frames already queued are sent,
    // sends a close frame with `code` (and `reason`, at most 123 bytes) and
    // waits (inside later waiting calls) for the server's close reply. A
    // connection still connecting is simply dropped. False when `id` is
    // already closing, closed, failed or unknown.
    bool close(int id, int code = 1000, std::string reason = {});

    // Runs the loop until `id` is closed or failed (true), or `timeout_ms`
    // passed (false). True at once for a connection that is already gone.
    bool wait_closed(int id, int timeout_ms);

    // The close code of a closed connection:
    //  - the code in the server's close frame (e.g. 1001, 1003, 1009, 4001,
    //    4008) when the server closed it;
    //  - 1005 when the server's close frame carried no code;
    //  - the code the client sent when the client closed it (close());
    //  - 1006 when the connection ended without a close frame (TCP dropped)
    //    or never opened; also when the server's close frame arrived while
    //    this client still had a partly written frame (lws then drops the
    //    connection without reporting the close frame);
    //  - 0 while the connection is connecting, open or closing.
    int close_code(int id) const;

    // The reason text from the server's close frame (may be empty).
    std::string close_reason(int id) const;

    // True when the close handshake was started by this client (close()).
    bool closed_by_client(int id) const;

    // Runs the loop until a whole message is available on `id` and returns
    // its payload (text or binary; see recv()), or nullopt when `timeout_ms`
    // passed or the connection is gone with nothing left to read. Messages
    // come out in the order received; messages received before the close
    // can still be read after it.
    std::optional<std::string> recv_text(int id, int timeout_ms);

    // As recv_text, keeping the frame type.
    std::optional<WsMessage> recv(int id, int timeout_ms);

    // Number of whole messages received on `id` and not yet read.
    size_t pending_messages(int id) const;

    // Total payload bytes received on `id` (whole messages and partial), for
    // slow-consumer tests.
    size_t bytes_received(int id) const;

    // Bytes queued on `id` that lws has not yet been handed to write.
    size_t unsent_bytes(int id) const;

    // Stops (paused=true) or resumes reading from `id`'s socket, through
    // lws_rx_flow_control: while paused the kernel buffers fill and the
    // server sees a slow consumer. No effect on a connection that is gone.
    void pause_reading(int id, bool paused);

    // Runs the loop until `condition()` is true (true) or `timeout_ms`
    // passed (false, after a last check). `condition` is checked before the
    // first and after every loop iteration; it may call the non-waiting
    // accessors of this hub but not its waiting calls.
    bool wait_for(const std::function<bool()>& condition, int timeout_ms);

    // Runs the loop for `duration_ms` milliseconds, doing whatever is due
    // (sending queued frames, reading). For "nothing must arrive within N ms"
    // checks and for pushctl-style event loops.
    void service(int duration_ms);

    // Drops the record of `id`. A connection still alive is dropped without
    // a close handshake. The id is never reused.
    void forget(int id);

    // Ids of the connections currently known (not forgotten), any state.
    std::vector<int> ids() const;

    // Number of connections in state open.
    size_t open_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A readable name for a state ("open", "closed", ...), for test messages.
const char* ws_state_name(WsState state);

}  // namespace pushd
