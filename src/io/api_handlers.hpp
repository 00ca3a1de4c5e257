// Carries out a checked HTTP API request (core/api_request) against the
// store, the bus and the presence view, and answers with core/api_reply.
// Every answer comes through `respond` exactly once, possibly before the
// call returns; the caller must not assume its connection still exists by
// then (io/api_server addresses answers by request id).
#pragma once

#include "core/api_reply.hpp"
#include "core/api_request.hpp"

#include <functional>

namespace pushd {

struct Server;

using ApiRespond = std::function<void(ApiAnswer)>;

void api_carry_out(Server& server, ApiRequest request, ApiRespond respond);

}  // namespace pushd
