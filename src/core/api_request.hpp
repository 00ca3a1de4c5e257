// The HTTP API's requests (PROTOCOL.md section 9), from method, path, query
// and body to a checked request or the answer its fault gets. Pure: the io
// layer reads the request, calls route_api() and then parse_api_body() or
// parse_api_query(), and carries the request out.
//
// Checks run in the contract's order: 401 (the API key), 404 (the path),
// 405 (the method), 413 (the body's size), 400 (not a JSON object), 422 (a
// field). Errors answer {"error": {"code": N, "message": "..."}}.
#pragma once

#include "core/bus_entry.hpp"
#include "core/status_codes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pushd {

enum class ApiRoute { publish, notify, disconnect, revoke, presence, history };

// A request's route, or the status that refuses it before its body is read.
struct ApiRouting {
    std::optional<ApiRoute> route;
    int status = 0;  // 0: routed; else 401, 404 or 405
};

/* True when `authorization` (the header's value, or nullopt) is
 * "apikey <key>" with a key of `keys`, compared in constant time (the time
 * depends on the lengths only, never on where the texts differ). */
bool api_key_accepted(const std::optional<std::string>& authorization, const std::vector<std::string>& keys);

/* Routes `method` `path` (without its query) for a request whose key
 * check gave `key_ok`: 401, then 404 for an unknown /api/ path, then 405. */
ApiRouting route_api(std::string_view method, std::string_view path, bool key_ok);

struct ApiPublish {
    std::string group_id;
    std::string sender_id;
    std::string content;
    int64_t msg_type = 1;
    std::optional<std::string> message_id;  // normalized as send_message's
};
struct ApiNotify {
    std::string target;  // as checked by parse_notify_target
    std::string data;    // the JSON object's text
};
struct ApiDisconnect {
    std::string user_id;
    std::string reason;  // "" when not given
};
struct ApiRevoke {
    std::string user_id;
    int64_t seconds = 0;
};
struct ApiPresence {
    std::optional<std::string> group;
    std::optional<std::string> user;
};
struct ApiHistory {
    std::string group_id;
    std::optional<std::string> since;  // a stream id
    int64_t limit = 100;
};
using ApiRequest = std::variant<ApiPublish, ApiNotify, ApiDisconnect, ApiRevoke, ApiPresence, ApiHistory>;

// A checked request, or the status (400, 413, 422) and message refusing it.
struct ApiParsed {
    std::optional<ApiRequest> request;
    int status = 0;
    std::string message;
};

// History's limit bounds (section 9).
inline constexpr int64_t kApiHistoryMaxLimit = 1000;
// The seconds a revocation may last at most (one year).
inline constexpr int64_t kApiMaxRevokeSeconds = 31536000;

/* The body of a POST route (publish, notify, disconnect, revoke), at most
 * `max_bytes` (Limits.MaxMessageBytes; larger: 413). */
ApiParsed parse_api_body(ApiRoute route, std::string_view body, size_t max_bytes);

/* The query of a GET route (presence, history): "a=1&b=2", percent-encoded. */
ApiParsed parse_api_query(ApiRoute route, std::string_view query);

/* The error body: {"error":{"code":N,"message":"..."}}. */
std::string api_error_body(int status, std::string_view message);

}  // namespace pushd
