// The libwebsockets protocol callback: translates lws events into calls on
// the server and its modules. No logic of its own beyond the translation.
#pragma once

#include <libwebsockets.h>

namespace pushd {

// The protocol table for the vhost (one protocol plus the terminator). The
// first protocol is the default, so clients need no subprotocol.
const lws_protocols* ws_protocols();

}  // namespace pushd
