#include "core/bus_entry.hpp"

#include "core/json_check.hpp"
#include "core/stream_id.hpp"

#include <charconv>
#include <unordered_set>

namespace pushd {
namespace {

constexpr size_t kMaxIdBytes = 128;  // group and user ids, as in requests

bool has_control(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

bool valid_id_text(std::string_view s) {
    return !s.empty() && s.size() <= kMaxIdBytes && !has_control(s) && utf8_valid(s);
}

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

bool parse_int(std::string_view s, int64_t& out) {
    if (s.empty()) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool set_why(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return false;
}

// The fields a history entry and a bus entry share.
bool read_message_fields(const EntryFields& f, StoredMessage& m, uint64_t id_ms, std::string* why) {
    const std::string* sender = entry_field(f, "sender_id");
    const std::string* type = entry_field(f, "msg_type");
    const std::string* content = entry_field(f, "content");
    if (!sender) return set_why(why, "missing field 'sender_id'");
    if (!type) return set_why(why, "missing field 'msg_type'");
    if (!content) return set_why(why, "missing field 'content'");
    if (!parse_int(*type, m.msg_type)) return set_why(why, "msg_type is not an integer");
    const std::string* client_id = entry_field(f, "client_message_id");
    if (!utf8_valid(*sender) || !utf8_valid(*content) || (client_id && !utf8_valid(*client_id)))
        return set_why(why, "invalid UTF-8");
    m.sender_id = *sender;
    m.content = *content;
    m.client_message_id = client_id ? *client_id : std::string();
    m.timestamp_ms = static_cast<int64_t>(id_ms);
    if (const std::string* ts = entry_field(f, "timestamp")) {
        int64_t v = 0;
        if (parse_int(*ts, v)) m.timestamp_ms = v;
    }
    return true;
}

}  // namespace

const std::string* entry_field(const EntryFields& fields, std::string_view name) {
    for (const auto& [k, v] : fields) {
        if (k == name) return &v;
    }
    return nullptr;
}

std::optional<NotifyTarget> parse_notify_target(std::string_view text, std::string* why) {
    NotifyTarget t;
    if (text == "all") {
        t.kind = NotifyTargetKind::all;
        return t;
    }
    if (text.starts_with("group:")) {
        std::string_view gid = text.substr(6);
        if (!valid_id_text(gid)) {
            set_why(why, "target group id must be 1..128 bytes without control characters");
            return std::nullopt;
        }
        t.kind = NotifyTargetKind::group;
        t.group_id = std::string(gid);
        return t;
    }
    if (text.starts_with("user:")) {
        t.kind = NotifyTargetKind::users;
        std::unordered_set<std::string_view> seen;
        std::string_view rest = text.substr(5);
        for (;;) {
            size_t comma = rest.find(',');
            std::string_view id = trim_spaces(rest.substr(0, comma));
            if (!valid_id_text(id)) {
                set_why(why, "target user ids must be 1..128 bytes without control characters");
                return std::nullopt;
            }
            if (seen.insert(id).second) {
                if (t.users.size() >= kMaxNotifyUsers) {
                    set_why(why, "target names more than " + std::to_string(kMaxNotifyUsers) + " users");
                    return std::nullopt;
                }
                t.users.emplace_back(id);
            }
            if (comma == std::string_view::npos) break;
            rest = rest.substr(comma + 1);
        }
        return t;
    }
    set_why(why, "unknown target form (expected user:<id>[,<id>...], group:<gid> or all)");
    return std::nullopt;
}

std::optional<Notification> notification_from_notify_entry(std::string_view id, const EntryFields& fields,
                                                           std::string* why) {
    auto sid = parse_stream_id(id);
    if (!sid) {
        set_why(why, "entry id is not a stream id");
        return std::nullopt;
    }
    const std::string* target = entry_field(fields, "target");
    const std::string* data = entry_field(fields, "data");
    if (!target) {
        set_why(why, "missing field 'target'");
        return std::nullopt;
    }
    if (!data) {
        set_why(why, "missing field 'data'");
        return std::nullopt;
    }
    if (data->size() > kMaxNotificationDataBytes) {
        set_why(why, "data is larger than " + std::to_string(kMaxNotificationDataBytes) + " bytes");
        return std::nullopt;
    }
    std::string data_why;
    if (!json_object_text_valid(*data, kMaxNotificationDepth, &data_why)) {
        set_why(why, "data is not a JSON object: " + data_why);
        return std::nullopt;
    }
    auto t = parse_notify_target(*target, why);
    if (!t) return std::nullopt;
    Notification n;
    n.id = format_stream_id(*sid);
    n.target = std::move(*t);
    n.data = *data;
    n.timestamp_ms = static_cast<int64_t>(sid->ms);
    return n;
}

std::optional<StoredMessage> message_from_history_entry(std::string_view group_id, std::string_view id,
                                                        const EntryFields& fields, std::string* why) {
    auto sid = parse_stream_id(id);
    if (!sid) {
        set_why(why, "entry id is not a stream id");
        return std::nullopt;
    }
    StoredMessage m;
    if (!read_message_fields(fields, m, sid->ms, why)) return std::nullopt;
    m.group_id = std::string(group_id);
    m.message_id = format_stream_id(*sid);
    return m;
}

std::optional<StoredMessage> message_from_bus_entry(const EntryFields& fields, std::string* why) {
    const std::string* gid = entry_field(fields, "group_id");
    const std::string* mid = entry_field(fields, "message_id");
    if (!gid || !valid_id_text(*gid)) {
        set_why(why, "missing or invalid field 'group_id'");
        return std::nullopt;
    }
    if (!mid) {
        set_why(why, "missing field 'message_id'");
        return std::nullopt;
    }
    return message_from_history_entry(*gid, *mid, fields, why);
}

std::optional<StoredNotification> notification_from_inbox_entry(std::string_view id, const EntryFields& fields,
                                                                std::string* why) {
    auto sid = parse_stream_id(id);
    if (!sid) {
        set_why(why, "entry id is not a stream id");
        return std::nullopt;
    }
    const std::string* data = entry_field(fields, "data");
    std::string data_why;
    if (!data || !json_object_text_valid(*data, kMaxNotificationDepth, &data_why)) {
        set_why(why, data ? "data is not a JSON object: " + data_why : "missing field 'data'");
        return std::nullopt;
    }
    StoredNotification n;
    n.id = format_stream_id(*sid);
    n.data = *data;
    n.timestamp_ms = static_cast<int64_t>(sid->ms);
    if (const std::string* ts = entry_field(fields, "timestamp")) {
        int64_t v = 0;
        if (parse_int(*ts, v)) n.timestamp_ms = v;
    }
    return n;
}

}  // namespace pushd
