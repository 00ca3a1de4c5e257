#include "io/server.hpp"

#include <libwebsockets.h>

#include <ctime>
#include <random>

namespace pushd {

int64_t wall_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

namespace {

// A random tag so session ids differ across instances and restarts.
std::string instance_tag() {
    std::random_device rd;
    char buf[16];
    snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    return buf;
}

lws* wsi_of(Session* s) { return static_cast<lws*>(s->transport); }

}  // namespace

void server_init_logic(Server& server) {
    TransportOps transport;
    transport.wake = [](Session* s) { lws_callback_on_writable(wsi_of(s)); };
    transport.close = [](Session* s, uint16_t, const char*) {
        // The writer flushes what is queued, then sends the close frame
        // (session->close_code). A peer that never lets us write is cut
        // after 5 seconds.
        lws* wsi = wsi_of(s);
        lws_callback_on_writable(wsi);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 5);
    };
    transport.now_ms = wall_ms;
    server.store = std::make_unique<MemoryStore>(
        &server.config, [&server](const StoredMessage& m) { server.hub->deliver_group_message(m); });
    server.hub = std::make_unique<Hub>(&server.config, std::move(transport), server.store->ops(),
                                       instance_tag(), LWS_PRE);
    server.write_scratch = std::make_unique<uint8_t[]>(LWS_PRE + kWriteBatchBytes);
}

void server_stop(Server& server) {
    if (server.stopped) return;
    server.stopped = true;
    uv_stop(server.loop);
}

void server_connection_gone(Server& server) {
    if (server.draining && server.ws_sockets.empty()) server_stop(server);
}

ServerGauges server_gauges(const Server& server) {
    ServerGauges g;
    g.connections = server.hub->session_count();
    g.online_users = server.hub->user_count();
    g.groups = server.hub->group_count();
    g.queued_bytes = server.hub->queued_bytes();
    g.uptime_seconds = static_cast<double>(uv_now(server.loop) - server.start_ms) / 1000.0;
    g.draining = server.draining;
    return g;
}

}  // namespace pushd
