// The libwebsockets protocol callback: translates lws events into calls on
// the server and its modules. No logic of its own beyond the translation.
#pragma once

#include <libwebsockets.h>

namespace pushd {

// The protocol table for the vhost (one protocol plus the terminator). The
// first protocol is the default, so clients need no subprotocol.
const lws_protocols* ws_protocols();

struct Server;
struct Session;

// Output was queued for `s`: lists it for ws_flush_pending (once).
void ws_wake(Server& server, Session* s);

// Writes the queued output of every listed session directly, once per loop
// iteration, after everything that could queue more (reads, Redis replies,
// a bus slice) has run. Why not lws_callback_on_writable for every message:
// on libuv 1.44 each POLLOUT arm and disarm costs an EPOLL_CTL_DEL plus an
// ADD (uv_poll_start stops the watcher first), ~4 epoll_ctl per message,
// which was a third of the CPU per delivery at low rates. A direct write is
// one send(); lws is only asked for POLLOUT when the socket does not take
// everything, and its buffered remainder always goes out first.
void ws_flush_pending(Server& server);

}  // namespace pushd
