// Redis stream entries -> what the session logic delivers. Pure: the io
// layer reads entries (an id and field/value pairs) and hands them here.
//
// Streams and their fields (PROTOCOL.md section 6, and pushd's own):
//   group:<gid>   history, written by the append script (redis_schema):
//                 client_message_id, sender_id, msg_type, content, timestamp
//   bus           pushd's private fan-out stream, one entry per stored group
//                 message: group_id, message_id (the history entry id) and
//                 the history fields, so readers need no second lookup
//   notify        written by business services: target, data, id (optional)
//   inbox:<uid>   written by pushd: data, timestamp; its ids are the notify ids
//
// Entries written by other services (notify) are validated strictly:
// anything that cannot be delivered as documented is refused with a reason,
// so the reader can count it, log it once and go on.
#pragma once

#include "core/protocol.hpp"
#include "core/store.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pushd {

// One stream entry's fields, in the order Redis returns them.
using EntryFields = std::vector<std::pair<std::string, std::string>>;

// User ids one notify target may name at most (`user:a,b,...`).
inline constexpr size_t kMaxNotifyUsers = 10000;
// Bytes of a notification's data at most; larger entries are refused.
inline constexpr size_t kMaxNotificationDataBytes = 1 << 20;
// Nesting of a notification's data at most (as for client requests).
inline constexpr size_t kMaxNotificationDepth = 32;

enum class NotifyTargetKind { users, group, all };

struct NotifyTarget {
    NotifyTargetKind kind = NotifyTargetKind::all;
    std::vector<std::string> users;  // users: distinct ids, in the order given
    std::string group_id;            // group
};

// A notification read from `notify`, ready to deliver.
struct Notification {
    std::string id;  // the notify entry id: the notification_id
    NotifyTarget target;
    std::string data;          // a validated JSON object text, inserted verbatim
    int64_t timestamp_ms = 0;  // the id's time part
};

/* The value of the first field named `name`, or nullptr. */
const std::string* entry_field(const EntryFields& fields, std::string_view name);

/* Parses a notify target: "all"; "group:<gid>" (gid 1..128 bytes, no
 * control characters); "user:<id>[,<id>...]" (1..kMaxNotifyUsers ids, each
 * 1..128 bytes of UTF-8 without control characters once spaces around it
 * are trimmed; repeated ids count once). nullopt with *why otherwise. */
std::optional<NotifyTarget> parse_notify_target(std::string_view text, std::string* why);

/* A notify entry -> Notification: `target` and `data` are required, `data`
 * must be a JSON object (json_check.hpp) of at most kMaxNotificationDataBytes
 * nested at most kMaxNotificationDepth; the optional publisher `id` field is
 * ignored (the entry id is the notification_id). `id` must be a stream id.
 * nullopt with *why (e.g. "missing field 'data'") when malformed. */
std::optional<Notification> notification_from_notify_entry(std::string_view id, const EntryFields& fields,
                                                           std::string* why);

/* A group history entry (group:<gid>, id `id`) -> StoredMessage. Fields
 * sender_id, msg_type (integer) and content are required; client_message_id
 * defaults to ""; timestamp (integer ms) defaults to the id's time. Strings
 * must be valid UTF-8. nullopt with *why when malformed. */
std::optional<StoredMessage> message_from_history_entry(std::string_view group_id, std::string_view id,
                                                        const EntryFields& fields, std::string* why);

/* A bus entry -> StoredMessage: as a history entry plus group_id and
 * message_id (the history id, a stream id) from the fields. */
std::optional<StoredMessage> message_from_bus_entry(const EntryFields& fields, std::string* why);

/* An inbox entry -> StoredNotification (data required, revalidated as for
 * notify; timestamp defaults to the id's time). */
std::optional<StoredNotification> notification_from_inbox_entry(std::string_view id, const EntryFields& fields,
                                                                std::string* why);

}  // namespace pushd
