#include "core/api_reply.hpp"

#include "core/api_request.hpp"
#include "core/json_writer.hpp"

namespace pushd {

ApiAnswer api_published(std::string_view server_message_id, std::string_view client_message_id, bool duplicate) {
    JsonWriter w(96 + server_message_id.size() + client_message_id.size());
    w.begin_object()
        .field_str("message_id", server_message_id)
        .field_str("client_message_id", client_message_id)
        .field_bool("duplicate", duplicate)
        .end_object();
    return {200, w.take()};
}

ApiAnswer api_notified(std::string_view notification_id) {
    JsonWriter w(48 + notification_id.size());
    w.begin_object().field_str("notification_id", notification_id).end_object();
    return {200, w.take()};
}

ApiAnswer api_done() { return {200, "{}"}; }

ApiAnswer api_history(const std::vector<StoredMessage>& messages, bool truncated) {
    size_t size = 48;
    for (const StoredMessage& m : messages) size += 160 + m.content.size() + m.group_id.size() + m.sender_id.size();
    JsonWriter w(size);
    w.begin_object().key("messages").begin_array();
    for (const StoredMessage& m : messages) {
        w.begin_object();
        write_message_fields(w, m);
        w.end_object();
    }
    w.end_array().field_bool("truncated", truncated).end_object();
    return {200, w.take()};
}

ApiAnswer api_failed(int status, std::string_view message) { return {status, api_error_body(status, message)}; }

}  // namespace pushd
