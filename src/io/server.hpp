// The one struct a running pushd instance hangs everything off: its
// configuration, loop, lws context, connections and counters. No globals:
// several instances could run on several threads, each with its own Server.
#pragma once

#include "core/config.hpp"
#include "core/metrics.hpp"

#include <uv.h>

#include <cstdint>
#include <string>

struct lws;
struct lws_context;

namespace pushd {

// Per-connection state, placed in the memory lws allocates per connection
// (lws zeroes it; plain members only). HTTP requests and WebSocket sessions
// share the protocol, so both halves live here.
struct ConnData {
    // WebSocket half: linked into Server::sessions while established.
    lws* wsi;
    ConnData* prev;
    ConnData* next;
    bool established;
    bool closing;          // a close frame is due at the next writable
    uint16_t close_code;
    // HTTP half: the reply waiting for HTTP_WRITEABLE (malloc'd, LWS_PRE
    // headroom before `http_body`), freed once written or on close.
    unsigned char* http_buf;
    size_t http_len;
};

struct Server {
    Config config;
    std::string config_path;
    EnvLookup env;

    uv_loop_t* loop = nullptr;
    lws_context* lws = nullptr;

    // Every established WebSocket connection, for shutdown and (later)
    // reload-time checks. Never walked on a per-message path.
    ConnData* sessions = nullptr;
    uint64_t session_count = 0;

    ServerCounters counters;
    uint64_t start_ms = 0;        // uv_now at start

    bool draining = false;        // SIGTERM/SIGINT seen: closing everything
    bool stopped = false;         // the loop has been asked to stop
    uv_signal_t sig_term{};
    uv_signal_t sig_int{};
    uv_signal_t sig_hup{};
    uv_timer_t drain_timer{};
};

// Links an established connection into server.sessions.
void server_add_session(Server& server, ConnData* conn);

// Unlinks a connection; when draining and none are left, stops the loop.
void server_remove_session(Server& server, ConnData* conn);

// Gauges of this instance now (connections, users, groups, uptime).
ServerGauges server_gauges(const Server& server);

}  // namespace pushd
