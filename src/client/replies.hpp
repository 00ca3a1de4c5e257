// The client side of the protocol's server frames (contract sections 2 and
// 4): a reader that turns one frame into a Reply, and a cheap scan of its
// kind for the load generator's hot path. Written once for pushctl,
// pushd-bench and the tests.
//
// Pure: text in, a struct out; cJSON does the parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

// What a client needs to know of one server frame. Fields the frame does not
// carry keep their defaults.
struct Reply {
    std::string type;        // "ack", "new_message", "error", ...
    std::string message_id;  // top level: the request's id on a reply, the server's id on
                             // new_message, the notification_id on notification
    int64_t timestamp = 0;   // ms since the epoch
    // data.*
    bool success = true;            // ack: false on failure
    int code = 0;                   // error, failed ack: the reply code (400, 403, 503, ...)
    std::string message;            // error, auth_failed, failed ack: why
    std::string data_message_id;    // ack: the request's message_id; new_message: the server id
    std::string group_id;           // new_message
    std::string sender_id;          // new_message
    std::string content;            // new_message
    std::string server_message_id;  // ack of send_message
    bool duplicate = false;         // ack of a retried send_message
    int64_t replayed = -1;          // ack of join_group with since: messages replayed; -1: absent
    bool truncated = false;         // ack of join_group with since: history was trimmed
    bool replay = false;            // new_message, notification: a replayed copy
    std::string user_id;            // auth_success
    std::string session_id;         // auth_success
};

/* Reads one server frame. nullopt when `text` is not a JSON object with a
 * string "type"; unknown types are read like any other. */
std::optional<Reply> read_reply(std::string_view text);

// A frame's kind as the load generator tells them apart.
enum class ReplyKind { new_message, notification, ack_ok, ack_failed, auth_success, auth_failed, error, other };

/* The kind of `text` without parsing it: the value of the first "type" key
 * (pushd and the reference server both write it first) and, for an ack, of
 * the first "success" after it (absent counts as failed). Cheap enough for
 * every delivery; read_reply is the reader for anything else. */
ReplyKind peek_reply_kind(std::string_view text);

}  // namespace pushd
