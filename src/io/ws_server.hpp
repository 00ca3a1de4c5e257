// The libwebsockets context of an instance: one vhost on our libuv loop
// (lws as a foreign-loop guest), serving WebSocket and HTTP on one port.
#pragma once

#include <string>

namespace pushd {

struct Server;

// lws keeps retrying a listen address it cannot bind instead of failing,
// so an address is tried here first. "" when `host`:`port` can be bound (or
// host is a name, left to lws), else the reason.
std::string probe_listen(const std::string& host, int port);

// Creates the lws context on server.loop and binds the listener on
// config.host:config.port, with TLS when Security.TLS.Cert/Key are set
// (check them with check_tls_files first). Returns 0, or -1 after
// logging why (port in use, event library plugin missing...). The listener
// is up when this returns 0.
int ws_server_start(Server& server);

// Stops accepting (closes the listen socket) and asks every open WebSocket
// connection to close with 1001. Connections leave through
// server_remove_session as their closes complete.
void ws_server_begin_drain(Server& server);

// Starts destroying the lws context. lws closes its libuv handles
// asynchronously, so the caller must then run the loop until it has no more
// handles, and call ws_server_destroy_finish.
void ws_server_destroy(Server& server);

// Frees the lws context once the loop has closed its handles: on a foreign
// loop lws 4.x frees it only on this second lws_context_destroy (without it
// every run leaked the whole context, ~330 KB, found by LeakSanitizer).
void ws_server_destroy_finish(Server& server);

}  // namespace pushd
