// Server frames read on the client side (see replies.hpp).
#include "client/replies.hpp"

#include <cJSON.h>

#include <memory>

namespace pushd {
namespace {

std::string string_at(const cJSON* o, const char* name) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int64_t int_at(const cJSON* o, const char* name, int64_t fallback) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? static_cast<int64_t>(v->valuedouble) : fallback;
}

bool true_at(const cJSON* o, const char* name) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name)); }

void read_data(const cJSON* data, Reply& r) {
    r.success = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(data, "success"));
    r.code = static_cast<int>(int_at(data, "code", 0));
    r.message = string_at(data, "message");
    r.data_message_id = string_at(data, "message_id");
    r.group_id = string_at(data, "group_id");
    r.sender_id = string_at(data, "sender_id");
    r.content = string_at(data, "content");
    r.server_message_id = string_at(data, "server_message_id");
    r.duplicate = true_at(data, "duplicate");
    r.replayed = int_at(data, "replayed", -1);
    r.truncated = true_at(data, "truncated");
    r.replay = true_at(data, "replay");
    r.user_id = string_at(data, "user_id");
    r.session_id = string_at(data, "session_id");
}

// The position after `key` and the ':' (and spaces) that follow it, from `from`; npos when absent.
size_t value_after(std::string_view m, std::string_view key, size_t from) {
    size_t k = m.find(key, from);
    if (k == std::string_view::npos) return k;
    size_t p = k + key.size();
    while (p < m.size() && (m[p] == ' ' || m[p] == ':')) ++p;
    return p;
}

}  // namespace

std::optional<Reply> read_reply(std::string_view text) {
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(cJSON_ParseWithLength(text.data(), text.size()), cJSON_Delete);
    if (!cJSON_IsObject(root.get())) return std::nullopt;
    const cJSON* type = cJSON_GetObjectItemCaseSensitive(root.get(), "type");
    if (!cJSON_IsString(type)) return std::nullopt;
    Reply r;
    r.type = type->valuestring;
    r.message_id = string_at(root.get(), "message_id");
    r.timestamp = int_at(root.get(), "timestamp", 0);
    const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
    if (cJSON_IsObject(data)) read_data(data, r);
    return r;
}

ReplyKind peek_reply_kind(std::string_view m) {
    size_t p = value_after(m, "\"type\"", 0);
    if (p >= m.size() || m[p] != '"') return ReplyKind::other;
    size_t e = m.find('"', p + 1);
    if (e == std::string_view::npos) return ReplyKind::other;
    std::string_view t = m.substr(p + 1, e - p - 1);
    if (t == "new_message") return ReplyKind::new_message;
    if (t == "notification") return ReplyKind::notification;
    if (t == "ack") {
        size_t v = value_after(m, "\"success\"", e);
        return (v < m.size() && m[v] == 't') ? ReplyKind::ack_ok : ReplyKind::ack_failed;
    }
    if (t == "auth_success") return ReplyKind::auth_success;
    if (t == "auth_failed") return ReplyKind::auth_failed;
    if (t == "error") return ReplyKind::error;
    return ReplyKind::other;
}

}  // namespace pushd
