#include "core/api_request.hpp"

#include "core/auth.hpp"
#include "core/json_check.hpp"
#include "core/json_writer.hpp"
#include "core/protocol.hpp"
#include "core/stream_id.hpp"

#include <cjson/cJSON.h>

#include <cmath>
#include <memory>

namespace pushd {

namespace {

using JsonPtr = std::unique_ptr<cJSON, void (*)(cJSON*)>;

ApiParsed refuse(int status, std::string message) { return ApiParsed{std::nullopt, status, std::move(message)}; }
ApiParsed accept(ApiRequest request) { return ApiParsed{std::move(request), 0, {}}; }

const cJSON* member(const cJSON* obj, const char* name) { return cJSON_GetObjectItemCaseSensitive(obj, name); }

// A string member into `out`; false when it is absent or not a string.
bool string_member(const cJSON* obj, const char* name, std::string& out) {
    const cJSON* m = member(obj, name);
    if (!cJSON_IsString(m) || !m->valuestring) return false;
    out = m->valuestring;
    return true;
}

// An integer member within [min, max]: nullopt when absent, false in *ok
// when present but not such an integer.
std::optional<int64_t> int_member(const cJSON* obj, const char* name, int64_t min, int64_t max, bool* ok) {
    const cJSON* m = member(obj, name);
    if (!m) return std::nullopt;
    const double d = cJSON_IsNumber(m) ? m->valuedouble : NAN;
    if (!std::isfinite(d) || d != std::trunc(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
        *ok = false;
        return std::nullopt;
    }
    return static_cast<int64_t>(d);
}

ApiParsed parse_publish(const cJSON* body) {
    ApiPublish p;
    if (!string_member(body, "group_id", p.group_id) || !valid_group_id(p.group_id))
        return refuse(422, "group_id: required string of 1..128 bytes without control characters");
    if (!string_member(body, "sender_id", p.sender_id) || !valid_user_id(p.sender_id))
        return refuse(422, "sender_id: required user id of 1..128 bytes without control characters");
    if (!string_member(body, "content", p.content)) return refuse(422, "content: required string");
    bool ok = true;
    if (auto t = int_member(body, "msg_type", 0, INT32_MAX, &ok)) p.msg_type = *t;
    if (!ok) return refuse(422, "msg_type: integer 0..2147483647");
    if (const cJSON* id = member(body, "message_id")) {
        const bool text = cJSON_IsString(id) && id->valuestring && *id->valuestring &&
                          std::string_view(id->valuestring).size() <= kMaxMessageIdBytes;
        const bool integer = cJSON_IsNumber(id) && std::isfinite(id->valuedouble) &&
                             id->valuedouble == std::trunc(id->valuedouble) &&
                             std::fabs(id->valuedouble) <= static_cast<double>(kMaxIntegerMessageId);
        if (!text && !integer)
            return refuse(422, "message_id: a string of 1..128 bytes or an integer with |n| <= 2^53");
        p.message_id = text ? std::string(id->valuestring) : std::to_string(static_cast<int64_t>(id->valuedouble));
    }
    return accept(std::move(p));
}

ApiParsed parse_notify(const cJSON* body) {
    ApiNotify n;
    std::string why;
    if (!string_member(body, "target", n.target) || !parse_notify_target(n.target, &why))
        return refuse(422, "target: " + (why.empty() ? std::string("required string") : why));
    const cJSON* data = member(body, "data");
    if (!cJSON_IsObject(data)) return refuse(422, "data: required object");
    std::unique_ptr<char, void (*)(void*)> text(cJSON_PrintUnformatted(data), cJSON_free);
    if (!text) return refuse(422, "data: cannot be serialized");
    n.data = text.get();
    if (n.data.size() > kMaxNotificationDataBytes) return refuse(413, "data: larger than 1 MiB");
    return accept(std::move(n));
}

ApiParsed parse_user_body(ApiRoute route, const cJSON* body) {
    std::string user;
    if (!string_member(body, "user_id", user) || !valid_user_id(user))
        return refuse(422, "user_id: required user id of 1..128 bytes without control characters");
    if (route == ApiRoute::disconnect) {
        ApiDisconnect d{std::move(user), {}};
        if (member(body, "reason") && (!string_member(body, "reason", d.reason) || d.reason.size() > 120))
            return refuse(422, "reason: a string of at most 120 bytes");
        return accept(std::move(d));
    }
    bool ok = true;
    std::optional<int64_t> seconds = int_member(body, "seconds", 1, kApiMaxRevokeSeconds, &ok);
    if (!seconds) return refuse(422, "seconds: required integer 1..31536000");
    return accept(ApiRevoke{std::move(user), *seconds});
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `in` ('+' is a space); false on a broken escape.
bool url_decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); i++) {
        if (in[i] == '+') {
            out.push_back(' ');
        } else if (in[i] != '%') {
            out.push_back(in[i]);
        } else {
            if (i + 2 >= in.size()) return false;
            const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        }
    }
    return true;
}

// The query's parameters; a repeated name keeps its first value. False
// (with *why) on a broken escape.
bool query_params(std::string_view query, std::vector<std::pair<std::string, std::string>>& out, std::string* why) {
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty()) continue;
        const size_t eq = part.find('=');
        std::string name, value;
        if (!url_decode(part.substr(0, eq), name) ||
            !url_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), value)) {
            *why = "query: broken percent-encoding";
            return false;
        }
        bool seen = false;
        for (auto& [n, v] : out) seen = seen || n == name;
        if (!seen) out.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

const std::string* param(const std::vector<std::pair<std::string, std::string>>& params, std::string_view name) {
    for (const auto& [n, v] : params)
        if (n == name) return &v;
    return nullptr;
}

ApiParsed parse_history(const std::vector<std::pair<std::string, std::string>>& params) {
    ApiHistory h;
    const std::string* group = param(params, "group");
    if (!group || !valid_group_id(*group) || !utf8_valid(*group))
        return refuse(422, "group: required group id of 1..128 bytes without control characters");
    h.group_id = *group;
    if (const std::string* since = param(params, "since")) {
        std::optional<StreamId> id = parse_stream_id(*since);
        if (!id) return refuse(422, "since: must be a stream id (\"<ms>-<seq>\")");
        h.since = format_stream_id(*id);
    }
    if (const std::string* limit = param(params, "limit")) {
        int64_t v = 0;
        bool digits = !limit->empty() && limit->size() <= 4;
        for (char c : *limit) digits = digits && c >= '0' && c <= '9';
        if (digits) v = std::stoll(*limit);
        if (!digits || v < 1 || v > kApiHistoryMaxLimit) return refuse(422, "limit: integer 1..1000");
        h.limit = v;
    }
    return accept(std::move(h));
}

ApiParsed parse_presence(const std::vector<std::pair<std::string, std::string>>& params) {
    const std::string* group = param(params, "group");
    const std::string* user = param(params, "user");
    if ((group != nullptr) == (user != nullptr)) return refuse(422, "exactly one of group and user is required");
    if (group && (!valid_group_id(*group) || !utf8_valid(*group)))
        return refuse(422, "group: group id of 1..128 bytes without control characters");
    if (user && !valid_user_id(*user)) return refuse(422, "user: user id of 1..128 bytes without control characters");
    ApiPresence p;
    if (group) p.group = *group;
    if (user) p.user = *user;
    return accept(std::move(p));
}

}  // namespace

bool api_key_accepted(const std::optional<std::string>& authorization, const std::vector<std::string>& keys) {
    static constexpr std::string_view kScheme = "apikey ";
    if (!authorization || authorization->size() <= kScheme.size() ||
        authorization->compare(0, kScheme.size(), kScheme) != 0) {
        return false;
    }
    const std::string_view given = std::string_view(*authorization).substr(kScheme.size());
    bool match = false;
    for (const std::string& key : keys) {
        // Every byte of every key is compared: no early exit reveals where
        // a guess went wrong.
        unsigned diff = given.size() != key.size();
        for (size_t i = 0; i < key.size(); i++)
            diff |= static_cast<unsigned char>(key[i]) ^ static_cast<unsigned char>(i < given.size() ? given[i] : 0);
        match |= diff == 0;
    }
    return match;
}

ApiRouting route_api(std::string_view method, std::string_view path, bool key_ok) {
    struct Row {
        std::string_view path;
        std::string_view method;
        ApiRoute route;
    };
    static constexpr Row kRoutes[] = {
        {"/api/publish", "POST", ApiRoute::publish},       {"/api/notify", "POST", ApiRoute::notify},
        {"/api/disconnect", "POST", ApiRoute::disconnect}, {"/api/revoke", "POST", ApiRoute::revoke},
        {"/api/presence", "GET", ApiRoute::presence},      {"/api/history", "GET", ApiRoute::history},
    };
    if (!key_ok) return {std::nullopt, 401};
    for (const Row& r : kRoutes) {
        if (r.path != path) continue;
        if (r.method != method) return {std::nullopt, 405};
        return {r.route, 0};
    }
    return {std::nullopt, 404};
}

ApiParsed parse_api_body(ApiRoute route, std::string_view body, size_t max_bytes) {
    if (body.size() > max_bytes) return refuse(413, "body larger than Limits.MaxMessageBytes");
    if (!utf8_valid(body)) return refuse(400, "body is not valid UTF-8");
    JsonPtr root(cJSON_ParseWithLength(body.data(), body.size()), cJSON_Delete);
    if (!root || !cJSON_IsObject(root.get())) return refuse(400, "body is not a JSON object");
    if (body.find("\\u0000") != std::string_view::npos) return refuse(422, "strings must not contain U+0000");
    switch (route) {
    case ApiRoute::publish: return parse_publish(root.get());
    case ApiRoute::notify: return parse_notify(root.get());
    case ApiRoute::disconnect:
    case ApiRoute::revoke: return parse_user_body(route, root.get());
    default: return refuse(405, "not a POST route");
    }
}

ApiParsed parse_api_query(ApiRoute route, std::string_view query) {
    std::vector<std::pair<std::string, std::string>> params;
    std::string why;
    if (!query_params(query, params, &why)) return refuse(422, why);
    if (route == ApiRoute::history) return parse_history(params);
    if (route == ApiRoute::presence) return parse_presence(params);
    return refuse(405, "not a GET route");
}

std::string api_error_body(int status, std::string_view message) {
    JsonWriter w(64 + message.size());
    w.begin_object().key("error").begin_object().field_int("code", status).field_str("message", message);
    w.end_object().end_object();
    return w.take();
}

}  // namespace pushd
