// The numbers pushd answers with (PROTOCOL.md section 5): the `code` of a
// failed ack or an error frame, and the WebSocket close codes.
#pragma once

#include <cstdint>

namespace pushd {

// The `code` field of ack (status "error") and error frames.
enum class ReplyCode : int {
    bad_request = 400,          // malformed JSON or envelope
    not_authenticated = 401,    // a request before a successful auth
    forbidden = 403,            // not a member of the group
    conflict = 409,             // another user's token; a replay already running
    invalid_field = 422,        // a field out of its bounds
    rate_limited = 429,         // Limits.MessagesPerSecond, groups per connection
    storage_unavailable = 503,  // Redis did not answer: nothing was stored
};

// Close codes.
enum CloseCode : uint16_t {
    kCloseGoingAway = 1001,
    kCloseUnsupported = 1003,  // binary frame
    kClosePolicy = 1008,
    kCloseTooBig = 1009,
    kCloseAuth = 4001,
    kCloseBlocked = 4003,
    kCloseSlowConsumer = 4008,
    kCloseTooManySessions = 4009,
    kCloseDisconnected = 4010,  // by the HTTP API (/api/disconnect): the client may reconnect
};

}  // namespace pushd
