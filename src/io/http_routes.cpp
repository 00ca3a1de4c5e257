#include "io/http_routes.hpp"

#include "io/process_stats.hpp"
#include "io/server.hpp"

namespace pushd {
namespace {

HttpReply health(const Server& server) {
    if (server.draining) return {503, "text/plain; charset=utf-8", "DEGRADED: shutting down"};
    if (Status redis = server_redis_status(server); !redis.ok())
        return {503, "text/plain; charset=utf-8", "DEGRADED: " + redis.error()};
    return {200, "text/plain; charset=utf-8", "OK"};
}

}  // namespace

HttpReply route_http(Server& server, std::string_view path, bool method_ok) {
    server.counters.http_requests++;
    // PROTOCOL.md section 1: GET /health, /stats, /metrics; anything else
    // (another method included) is 404.
    if (!method_ok) return {404, "text/plain; charset=utf-8", "not found"};
    if (path == "/health") return health(server);
    if (path == "/stats") {
        return {200, "application/json",
                render_stats_json(server_gauges(server), server.counters, server.hub->counters())};
    }
    if (path == "/metrics") {
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                render_prometheus(server_metric_families(read_process_stats(), server_gauges(server), server.counters,
                                                         server.hub->counters()))};
    }
    if (path == server.config.path) {
        return {426, "text/plain; charset=utf-8", "WebSocket upgrade required"};
    }
    return {404, "text/plain; charset=utf-8", "not found"};
}

}  // namespace pushd
