// The pushd wire protocol (docs: PROTOCOL.md sections 2-4): parsing and
// validating client requests, and building every server -> client frame.
//
// Pure: text in, structs out; structs in, text out. No clocks: every
// timestamp is a parameter. Parsing uses cJSON (plus a linear pre-scan);
// building uses JsonWriter only, since frames are built on the hot path.
//
// Parsing rules, including the choices PROTOCOL.md leaves open:
//  - Nesting: objects and arrays count, the envelope is level 1; deeper than
//    32 is refused as malformed by a linear, non-recursive pre-scan before
//    cJSON runs ("nesting deeper than 32"), so any depth costs one pass over
//    the bytes. Its message_id is still reported when the envelope has a
//    readable top-level "message_id" (best effort over the raw text).
//  - JSON is read strictly (RFC 8259): a raw control character (< 0x20)
//    inside a string, or anything but whitespace after the value, makes the
//    frame "invalid JSON" (400). Such a frame reports no message_id.
//  - 400 (malformed), the first of, in this order: nesting; not JSON; root
//    not an object; `type` missing or not a string; bad message_id; unknown
//    `type`; message_id missing on any type but ping. The message_id is
//    reported whenever it was itself valid, whatever else is wrong.
//  - message_id: a string of 1..128 bytes (any content, echoed escaped), or
//    an integer: a JSON number written without fraction or exponent ("17",
//    not "17.0" or "1.7e1") with |value| <= 2^53, normalized to its decimal
//    string ("17"; "-0" becomes "0"). null, booleans, objects, arrays, other
//    numbers: bad message_id.
//  - `timestamp` is informational: never read, whatever its type.
//  - Unknown top-level fields and unknown fields inside `data` are ignored.
//    `ping` ignores `data` entirely.
//  - 422 (invalid_field) for a readable request whose `data` is wrong; the
//    first failing field is named, checked in the order listed here:
//      data            : required object (every type but ping)
//      auth            : token: non-empty string; since: optional stream id
//      send_message    : group_id, msg_type, content
//      join_group      : group_id; since: optional stream id
//      leave_group     : group_id
//      mark_read       : group_id, message_id (stream id)
//    group_id : string of 1..128 bytes, no control character (< 0x20, 0x7f).
//    msg_type : integer (as for message_id: no fraction or exponent) in
//               0..2147483647.
//    content  : string, may be empty (its size is bounded by MaxMessageBytes).
//    since    : a stream id string (see stream_id.hpp: "<ms>-<seq>" or
//               "<ms>", meaning <ms>-0); JSON null counts as absent.
//    Stream ids are stored normalized ("007-1" -> "7-1").
//  - Strings keep every character they encode, U+0000 included.
#pragma once

#include "core/status_codes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

enum class RequestType { ping, auth, send_message, join_group, leave_group, mark_read };

/* The wire name of a request type ("send_message"); a static string. */
std::string_view request_type_name(RequestType type);

// A request's message_id: a string of 1..kMaxMessageIdBytes bytes, or an
// integer with |n| <= kMaxIntegerMessageId (normalized to its decimal text).
inline constexpr size_t kMaxMessageIdBytes = 128;
inline constexpr uint64_t kMaxIntegerMessageId = uint64_t{1} << 53;

struct Request {
    RequestType type = RequestType::ping;
    std::optional<std::string> message_id;  // normalized: integer ids become their decimal string
    // data, by type (unused fields empty):
    std::string token;                 // auth
    std::optional<std::string> since;  // auth (notification id), join_group (message id); normalized
    std::string group_id;              // send_message, join_group, leave_group, mark_read
    int64_t msg_type = 0;              // send_message
    std::string content;               // send_message
    std::string read_message_id;       // mark_read's data.message_id; normalized stream id
};

enum class ParseStatus {
    ok,
    malformed,      // answer `error` 400 (never an ack)
    invalid_field,  // answer an `ack` 422 (auth: `auth_failed`)
};

struct ParseResult {
    ParseStatus status = ParseStatus::malformed;
    // ok: complete. invalid_field: type and message_id set (so the caller
    // can ack 422 / answer auth_failed). malformed: unspecified.
    Request request;
    // The readable message_id, for error replies; set on ok and
    // invalid_field when the request has one, and on malformed whenever the
    // message_id itself could be read and was valid.
    std::optional<std::string> message_id;
    // Human-readable reason for 400/422, e.g. "data.group_id: required
    // string of 1..128 bytes without control characters"; empty on ok.
    std::string message;
};

/* True when `g` is a group id a request may name: 1..128 bytes without
 * control characters (< 0x20, 0x7f). UTF-8 is not checked here (frames are
 * checked as a whole before parsing). */
bool valid_group_id(std::string_view g);

/* Parses and validates one client frame (a whole, reassembled text
 * message, already checked as UTF-8 and against MaxMessageBytes). Never
 * throws; every outcome is in the returned status. `text` need not be
 * NUL-terminated and is not retained. */
ParseResult parse_request(std::string_view text);

// ---- server -> client frames ----------------------------------------------
// Every builder returns one complete JSON object text. Envelope field order:
// type, message_id (when present), timestamp (integer ms), data (when the
// type has data). Exactly the fields PROTOCOL.md documents, nothing more.
// String arguments must be valid UTF-8; they are escaped as needed.

/* {"type":"pong"[,"message_id"],"timestamp":now_ms} */
std::string build_pong(const std::optional<std::string>& message_id, int64_t now_ms);

/* auth_success, data {"user_id","session_id","expires_at":expires_at_ms}. */
std::string build_auth_success(const std::optional<std::string>& message_id, std::string_view user_id,
                               std::string_view session_id, int64_t expires_at_ms, int64_t now_ms);

/* auth_failed, data {"message"} ("invalid token", "token expired", "auth timeout", ...). */
std::string build_auth_failed(const std::optional<std::string>& message_id, std::string_view message, int64_t now_ms);

/* error, data {"code","message"}; message_id when one could be read. */
std::string build_error(const std::optional<std::string>& message_id, ReplyCode code, std::string_view message,
                        int64_t now_ms);

struct AckExtra {
    std::optional<std::string> server_message_id;  // send_message: the stored entry's id
    bool duplicate = false;                        // send_message retry inside the dedup window
    bool truncated = false;                        // join_group since older than the retained history
    std::optional<size_t> replayed;                // join_group with since: messages replayed before the ack
};

/* Successful ack: top-level message_id = the request's; data
 * {"message_id","success":true[,"server_message_id"][,"duplicate":true][,"replayed":N][,"truncated":true]}. */
std::string build_ack_ok(std::string_view message_id, int64_t now_ms, const AckExtra& extra = {});

/* Failed ack: data {"message_id","success":false,"code","message"}. */
std::string build_ack_fail(std::string_view message_id, ReplyCode code, std::string_view message, int64_t now_ms);

struct StoredMessage {
    std::string group_id, message_id, client_message_id, sender_id;
    int64_t msg_type = 0;
    std::string content;
    int64_t timestamp_ms = 0;
};

/* new_message for a stored group message. Top-level message_id is
 * m.message_id and top-level timestamp is m.timestamp_ms, so a live and a
 * replayed copy are byte-identical except for the trailing "replay":true.
 * data: group_id, message_id, client_message_id, sender_id, msg_type,
 * content, timestamp[, replay:true]. */
std::string build_new_message(const StoredMessage& m, bool replay);

class JsonWriter;
/* The fields of new_message's data for `m` (group_id ... timestamp) into
 * an open object: the one place a stored message becomes JSON, shared by
 * the push and the HTTP API's history. */
void write_message_fields(JsonWriter& w, const StoredMessage& m);

/* notification: top-level message_id = notification_id, top-level
 * timestamp = timestamp_ms; data {"notification_id","data":<object>,
 * "timestamp"[,"replay":true]}. `data_json_object` is inserted verbatim and
 * must be a valid JSON object text (the caller validated the publisher's
 * data); an empty view is written as {}. */
std::string build_notification(std::string_view notification_id, std::string_view data_json_object,
                               int64_t timestamp_ms, bool replay);

}  // namespace pushd
