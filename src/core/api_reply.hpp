// The HTTP API's answers (PROTOCOL.md section 9), as JSON texts. Pure: the
// io layer (io/api_server) carries a request out and answers with these.
// Errors are api_error_body() (core/api_request.hpp).
#pragma once

#include "core/protocol.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pushd {

// An answer: the HTTP status and its JSON body.
struct ApiAnswer {
    int status = 200;
    std::string body;
};

/* 200 {"message_id", "client_message_id", "duplicate"} (publish). */
ApiAnswer api_published(std::string_view server_message_id, std::string_view client_message_id, bool duplicate);

/* 200 {"notification_id"} (notify). */
ApiAnswer api_notified(std::string_view notification_id);

/* 200 {} (disconnect, revoke). */
ApiAnswer api_done();

/* 200 {"messages": [new_message data, oldest first], "truncated"} (history). */
ApiAnswer api_history(const std::vector<StoredMessage>& messages, bool truncated);

/* `status` with {"error": {"code": status, "message": message}}. */
ApiAnswer api_failed(int status, std::string_view message);

}  // namespace pushd
