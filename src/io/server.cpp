#include "io/server.hpp"

namespace pushd {

void server_add_session(Server& server, ConnData* conn) {
    conn->prev = nullptr;
    conn->next = server.sessions;
    if (server.sessions) server.sessions->prev = conn;
    server.sessions = conn;
    server.session_count++;
}

void server_remove_session(Server& server, ConnData* conn) {
    if (conn->prev) conn->prev->next = conn->next;
    else server.sessions = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    conn->prev = conn->next = nullptr;
    server.session_count--;
    if (server.draining && server.session_count == 0 && !server.stopped) {
        server.stopped = true;
        uv_stop(server.loop);
    }
}

ServerGauges server_gauges(const Server& server) {
    ServerGauges g;
    g.connections = server.session_count;
    g.uptime_seconds = static_cast<double>(uv_now(server.loop) - server.start_ms) / 1000.0;
    g.draining = server.draining;
    return g;
}

}  // namespace pushd
