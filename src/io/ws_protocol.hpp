// The libwebsockets protocol callback: translates lws events into calls on
// the modules that handle them (io/ws_handshake, io/ws_write,
// io/http_reply, the hub). One switch with short cases; the per-connection
// state is io/ws_conn's ConnData.
#pragma once

#include <libwebsockets.h>

namespace pushd {

// The protocol table for the vhost (one protocol plus the terminator). The
// first protocol is the default, so clients need no subprotocol.
const lws_protocols* ws_protocols();

}  // namespace pushd
