// Request frames of the client side (see requests.hpp).
#include "client/requests.hpp"

#include "core/json_writer.hpp"

namespace pushd::requests {
namespace {

// Appends {"type":TYPE,"message_id":ID and, with `data`, ,"data":{ ; the
// caller appends the data fields and close_request() the braces.
void open_request(std::string& out, std::string_view type, std::string_view id, bool data) {
    out += "{\"type\":";
    json_append_string(out, type);
    if (!id.empty()) {
        out += ",\"message_id\":";
        json_append_string(out, id);
    }
    if (data) out += ",\"data\":{";
}

// Appends ,"KEY":"VALUE" (or "KEY":"VALUE" as the first field).
void append_field(std::string& out, std::string_view key, std::string_view value, bool first = false) {
    if (!first) out += ',';
    json_append_string(out, key);
    out += ':';
    json_append_string(out, value);
}

void close_request(std::string& out) { out += "}}"; }

// A request whose data is {"group_id":G} plus one optional string field.
std::string group_request(std::string_view type, std::string_view id, std::string_view group_id,
                          std::string_view key = {}, std::string_view value = {}) {
    std::string out;
    open_request(out, type, id, true);
    append_field(out, "group_id", group_id, true);
    if (!value.empty()) append_field(out, key, value);
    close_request(out);
    return out;
}

}  // namespace

std::string ping(std::string_view id) {
    std::string out;
    open_request(out, "ping", id, false);
    out += '}';
    return out;
}

std::string auth(std::string_view id, std::string_view token, std::string_view since) {
    std::string out;
    open_request(out, "auth", id, true);
    append_field(out, "token", token, true);
    if (!since.empty()) append_field(out, "since", since);
    close_request(out);
    return out;
}

std::string join_group(std::string_view id, std::string_view group_id, std::string_view since) {
    return group_request("join_group", id, group_id, "since", since);
}

std::string leave_group(std::string_view id, std::string_view group_id) {
    return group_request("leave_group", id, group_id);
}

std::string send_message(std::string_view id, std::string_view group_id, std::string_view content, int msg_type) {
    std::string out;
    append_send_message(out, id, group_id, content, msg_type);
    return out;
}

void append_send_message(std::string& out, std::string_view id, std::string_view group_id, std::string_view content,
                         int msg_type) {
    open_request(out, "send_message", id, true);
    append_field(out, "group_id", group_id, true);
    out += ",\"msg_type\":";
    json_append_int(out, msg_type);
    append_field(out, "content", content);
    close_request(out);
}

std::string mark_read(std::string_view id, std::string_view group_id, std::string_view read_id) {
    return group_request("mark_read", id, group_id, "message_id", read_id);
}

}  // namespace pushd::requests
