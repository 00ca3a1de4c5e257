// The client side of RFC 6455 framing, for the load generator (pushd-bench)
// and the tests' raw client: masked client frames out, an incremental parser
// of server frames in, and the text of the HTTP upgrade (request and the
// check of its 101).
//
// Pure: bytes in, bytes or callbacks out; no sockets, no clocks, no
// randomness (the caller supplies mask keys and the handshake nonce).
//
// What the parser accepts (server -> client, RFC 6455 section 5):
//   - unmasked frames only (a masked server frame is a protocol error);
//   - no extensions: RSV1..3 must be 0 (the client never offers
//     permessage-deflate, so a server must not set them);
//   - opcodes 0 (continuation), 1 (text), 2 (binary), 8 (close), 9 (ping),
//     10 (pong); any other is a protocol error;
//   - 7-, 16- and 64-bit payload lengths (the 64-bit one with its top bit
//     clear); non-minimal length encodings are tolerated;
//   - fragmented data messages, with control frames interleaved between
//     their fragments; a continuation without a message in progress, or a
//     new data frame inside one, is a protocol error;
//   - control frames with FIN set and at most 125 bytes of payload;
//   - a data message (all its fragments together) of at most
//     `max_message_bytes`, else too_big (checked from the headers, before
//     any of the payload is buffered).
// Text messages are NOT checked for valid UTF-8: the generator only scans
// them for a few ASCII markers, and checking would cost time per delivery.
//
// Handshake: check_upgrade_response verifies Sec-WebSocket-Accept (SHA-1 +
// base64 of the key and the RFC's GUID, a few dozen lines here) as well as
// the status line, Upgrade and Connection, and refuses a response that
// negotiates an extension the request did not offer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pushd::ws {

enum class Opcode : uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Close status used when a close frame carries no code (RFC 6455 7.1.5).
inline constexpr int kCloseNoStatus = 1005;

/* Appends one masked client frame to `out`: header (7/16/64-bit length as
 * the size requires), the 4-byte `mask_key` (written big-endian, i.e. its
 * first byte is mask_key >> 24) and the payload XORed with it. `fin` false
 * makes a non-final fragment (then later frames must use
 * Opcode::continuation). `rsv1` marks a compressed message (permessage-
 * deflate; first frame only). Control frames must be final and at most 125
 * bytes: the caller's duty, not checked. Never fails. */
void append_client_frame(std::string& out, Opcode op, std::string_view payload, uint32_t mask_key, bool fin = true,
                         bool rsv1 = false);

/* A masked final text frame holding `payload`. */
std::string client_text_frame(std::string_view payload, uint32_t mask_key);

/* Appends a masked close frame with status `code` (2 bytes, big-endian) and
 * `reason` (truncated to 123 bytes so the frame stays a legal control frame). */
void append_client_close(std::string& out, int code, std::string_view reason, uint32_t mask_key);

/* Standard base64 (with '=' padding) of `bytes`. */
std::string base64_encode(std::string_view bytes);

/* The 20-byte SHA-1 digest of `data` (FIPS 180-4), as raw bytes. */
std::string sha1(std::string_view data);

/* The Sec-WebSocket-Accept value a server must answer to `key`:
 * base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). */
std::string websocket_accept(std::string_view key);

/* The Sec-WebSocket-Key for a 16-byte nonce: base64 of those bytes. Only the
 * first 16 bytes of `nonce16` are used; fewer are zero-padded. */
std::string make_websocket_key(std::string_view nonce16);

/* The HTTP/1.1 upgrade request for `path` (which may hold a query) on
 * `host` (the Host header's value, e.g. "127.0.0.1:8889"), with `key` as
 * Sec-WebSocket-Key and version 13; no subprotocol, no Origin; with
 * `extensions` non-empty, a Sec-WebSocket-Extensions header offering them
 * (e.g. "permessage-deflate"). Ends with the blank line. */
std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            std::string_view extensions = {});

enum class UpgradeStatus {
    incomplete,  // no blank line yet: read more (and call again with all of it)
    ok,          // a valid 101 for `key`
    refused,     // a well-formed response other than 101 (http_status says which)
    bad,         // malformed, wrong accept value, missing upgrade headers, too long
};

struct UpgradeCheck {
    UpgradeStatus status = UpgradeStatus::incomplete;
    size_t header_bytes = 0;  // when not incomplete: bytes up to and including the blank line;
                              // anything after them is already WebSocket frames
    int http_status = 0;      // status code from the status line, when it could be read
    std::string error;        // why, for refused and bad
    bool deflate = false;     // ok, and the server accepted permessage-deflate
};

// Longest response head accepted before the blank line.
inline constexpr size_t kMaxUpgradeResponseBytes = 16384;

/* Checks the server's answer to an upgrade request sent with `key`.
 * `received` is every byte read so far on the connection. Header names are
 * matched case-insensitively; "Connection" must contain the token
 * "upgrade", "Upgrade" must be "websocket", Sec-WebSocket-Accept must equal
 * websocket_accept(key), and no Sec-WebSocket-Extensions may be present,
 * except permessage-deflate when `deflate_offered` (then .deflate is set). */
UpgradeCheck check_upgrade_response(std::string_view received, std::string_view key, bool deflate_offered = false);

enum class ParseError {
    none,
    masked,            // a server frame with the MASK bit
    reserved_bits,     // RSV1..3 set (no extension was negotiated)
    bad_opcode,        // opcode 3-7 or 11-15
    bad_control,       // control frame not final or longer than 125 bytes
    bad_continuation,  // continuation without a message, or data frame inside one
    bad_length,        // 64-bit length with the top bit set
    bad_close,         // close payload of exactly 1 byte
    too_big,           // a data message over max_message_bytes
};

/* A short description of `e` ("server frame is masked", ...). Static; never NULL. */
const char* parse_error_text(ParseError e);

/* The close code a client should send for `e`: 1009 for too_big, 1002 for
 * the others, 1000 for none. */
int parse_error_close_code(ParseError e);

// What the parser calls. Function pointers plus one context pointer, so a
// caller can keep one sink per connection without allocations. Any of them
// may be null (that event is then ignored).
struct FrameSink {
    void* ctx = nullptr;
    // A whole data message: opcode is text or binary (of its first frame).
    // `payload` is valid only during the call.
    void (*on_message)(void* ctx, Opcode op, std::string_view payload) = nullptr;
    // A ping or pong frame with its payload (valid only during the call).
    void (*on_control)(void* ctx, Opcode op, std::string_view payload) = nullptr;
    // A close frame: its code (kCloseNoStatus when it had no payload) and reason.
    void (*on_close)(void* ctx, int code, std::string_view reason) = nullptr;
};

enum class FeedStatus {
    ok,      // every byte consumed; call again with the next bytes
    closed,  // a close frame was parsed; bytes after it were ignored
    error,   // protocol violation (see error()); the connection must be dropped
};

/* Incremental parser of the server -> client byte stream. Feed bytes as they
 * arrive, in any split; whole messages come out of the sink. An unfragmented
 * frame that lies wholly inside one feed() buffer is handed to the sink
 * straight from that buffer (no copy); split or fragmented ones are
 * assembled in an internal buffer that never exceeds max_message_bytes.
 * After closed or error, feed() consumes nothing and returns the same status.
 * Not thread-safe; cheap to move; one per connection. */
class FrameParser {
public:
    explicit FrameParser(size_t max_message_bytes = 1 << 20) : max_message_bytes_(max_message_bytes) {}

    /* Consumes `len` bytes at `data`, calling `sink` for each complete
     * message, control frame and close frame, in stream order. The sink must
     * not call feed() on this parser. */
    FeedStatus feed(const uint8_t* data, size_t len, const FrameSink& sink);
    FeedStatus feed(std::string_view bytes, const FrameSink& sink) {
        return feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), sink);
    }

    /* Accept RSV1 on the first frame of a data message (permessage-deflate
     * was negotiated); message_compressed() then tells, during on_message,
     * whether that message's payload is compressed (the caller inflates). */
    void set_allow_rsv1(bool allow) { allow_rsv1_ = allow; }
    bool message_compressed() const { return msg_rsv1_; }

    ParseError error() const { return error_; }
    // The code of the close frame once feed() returned closed.
    int close_code() const { return close_code_; }
    // True while a message is partly received (fragments or a split frame).
    bool in_message() const { return in_message_ || state_ == State::payload || hdr_len_ > 0; }
    // Bytes currently held in the assembly buffer.
    size_t buffered_bytes() const { return msg_.size() + ctl_.size(); }

private:
    // Takes the current frame's payload bytes from data[pos..len) (moves
    // pos); ends the frame when it is complete.
    FeedStatus take_payload(const uint8_t* data, size_t len, size_t& pos, const FrameSink& sink);
    enum class State : uint8_t { header, payload, closed, failed };

    FeedStatus fail(ParseError e);
    // Checks a complete header in hdr_ and sets up the frame; false on error.
    bool begin_frame();
    // Called when the current frame's payload is complete.
    FeedStatus end_frame(const FrameSink& sink);

    size_t max_message_bytes_;
    bool allow_rsv1_ = false;
    bool frame_rsv1_ = false;  // the current frame's RSV1
    bool msg_rsv1_ = false;    // the current message's first frame had RSV1
    State state_ = State::header;
    ParseError error_ = ParseError::none;
    int close_code_ = 0;

    uint8_t hdr_[14] = {};
    uint8_t hdr_len_ = 0;

    // Current frame.
    Opcode op_ = Opcode::continuation;
    bool fin_ = false;
    uint64_t remaining_ = 0;

    // Data message being assembled (fragments or a frame split across feeds).
    bool in_message_ = false;
    Opcode msg_op_ = Opcode::text;
    std::string msg_;
    // Control frame split across feeds (at most 125 bytes).
    std::string ctl_;
};

}  // namespace pushd::ws
