// Server -> client frame builders (see protocol.hpp). JsonWriter only: these
// run once per reply and once per pushed message.
#include "core/json_writer.hpp"
#include "core/protocol.hpp"

namespace pushd {

/* Opens the envelope: {"type":T[,"message_id":M],"timestamp":TS */
static void begin_envelope(JsonWriter& w, std::string_view type, const std::string_view* message_id,
                           int64_t timestamp_ms) {
    w.begin_object().field_str("type", type);
    if (message_id) w.field_str("message_id", *message_id);
    w.field_int("timestamp", timestamp_ms);
}

/* Same, with the optional message_id of a reply. */
static void begin_reply(JsonWriter& w, std::string_view type, const std::optional<std::string>& message_id,
                        int64_t now_ms) {
    std::string_view id;
    if (message_id) id = *message_id;
    begin_envelope(w, type, message_id ? &id : nullptr, now_ms);
}

std::string build_pong(const std::optional<std::string>& message_id, int64_t now_ms) {
    JsonWriter w(64 + (message_id ? message_id->size() : 0));
    begin_reply(w, "pong", message_id, now_ms);
    w.end_object();
    return w.take();
}

std::string build_auth_success(const std::optional<std::string>& message_id, std::string_view user_id,
                               std::string_view session_id, int64_t expires_at_ms, int64_t now_ms) {
    JsonWriter w(128 + user_id.size() + session_id.size() + (message_id ? message_id->size() : 0));
    begin_reply(w, "auth_success", message_id, now_ms);
    w.key("data")
        .begin_object()
        .field_str("user_id", user_id)
        .field_str("session_id", session_id)
        .field_int("expires_at", expires_at_ms)
        .end_object();
    w.end_object();
    return w.take();
}

std::string build_auth_failed(const std::optional<std::string>& message_id, std::string_view message, int64_t now_ms) {
    JsonWriter w(96 + message.size() + (message_id ? message_id->size() : 0));
    begin_reply(w, "auth_failed", message_id, now_ms);
    w.key("data").begin_object().field_str("message", message).end_object();
    w.end_object();
    return w.take();
}

std::string build_error(const std::optional<std::string>& message_id, ReplyCode code, std::string_view message,
                        int64_t now_ms) {
    JsonWriter w(96 + message.size() + (message_id ? message_id->size() : 0));
    begin_reply(w, "error", message_id, now_ms);
    w.key("data").begin_object().field_int("code", static_cast<int>(code)).field_str("message", message).end_object();
    w.end_object();
    return w.take();
}

std::string build_ack_ok(std::string_view message_id, int64_t now_ms, const AckExtra& extra) {
    JsonWriter w(128 + 2 * message_id.size());
    begin_envelope(w, "ack", &message_id, now_ms);
    w.key("data").begin_object().field_str("message_id", message_id).field_bool("success", true);
    if (extra.server_message_id) w.field_str("server_message_id", *extra.server_message_id);
    if (extra.duplicate) w.field_bool("duplicate", true);
    if (extra.replayed) w.field_int("replayed", static_cast<int64_t>(*extra.replayed));
    if (extra.truncated) w.field_bool("truncated", true);
    w.end_object();
    w.end_object();
    return w.take();
}

std::string build_ack_fail(std::string_view message_id, ReplyCode code, std::string_view message, int64_t now_ms) {
    JsonWriter w(128 + 2 * message_id.size() + message.size());
    begin_envelope(w, "ack", &message_id, now_ms);
    w.key("data")
        .begin_object()
        .field_str("message_id", message_id)
        .field_bool("success", false)
        .field_int("code", static_cast<int>(code))
        .field_str("message", message)
        .end_object();
    w.end_object();
    return w.take();
}

std::string build_new_message(const StoredMessage& m, bool replay) {
    JsonWriter w(192 + 2 * m.message_id.size() + m.group_id.size() + m.client_message_id.size() + m.sender_id.size() +
                 m.content.size() + m.content.size() / 8);
    std::string_view id = m.message_id;
    begin_envelope(w, "new_message", &id, m.timestamp_ms);
    w.key("data").begin_object();
    write_message_fields(w, m);
    if (replay) w.field_bool("replay", true);
    w.end_object();
    w.end_object();
    return w.take();
}

void write_message_fields(JsonWriter& w, const StoredMessage& m) {
    w.field_str("group_id", m.group_id)
        .field_str("message_id", m.message_id)
        .field_str("client_message_id", m.client_message_id)
        .field_str("sender_id", m.sender_id)
        .field_int("msg_type", m.msg_type)
        .field_str("content", m.content)
        .field_int("timestamp", m.timestamp_ms);
}

std::string build_notification(std::string_view notification_id, std::string_view data_json_object,
                               int64_t timestamp_ms, bool replay) {
    JsonWriter w(160 + 2 * notification_id.size() + data_json_object.size());
    begin_envelope(w, "notification", &notification_id, timestamp_ms);
    w.key("data")
        .begin_object()
        .field_str("notification_id", notification_id)
        .field_raw("data", data_json_object.empty() ? std::string_view("{}") : data_json_object)
        .field_int("timestamp", timestamp_ms);
    if (replay) w.field_bool("replay", true);
    w.end_object();
    w.end_object();
    return w.take();
}

}  // namespace pushd
