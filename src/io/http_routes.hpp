// The plain HTTP endpoints served on the WebSocket port.
#pragma once

#include <string>
#include <string_view>

namespace pushd {

struct Server;

struct HttpReply {
    int status = 200;
    const char* content_type = "text/plain; charset=utf-8";
    std::string body;
};

// Answers GET `path` (without query): /health, /stats, /metrics; 426 for the
// WebSocket path without an upgrade; 404 otherwise. `method_ok` false gives 405.
HttpReply route_http(Server& server, std::string_view path, bool method_ok);

}  // namespace pushd
