// Who may open a WebSocket connection: the handshake checks of PROTOCOL.md
// section 5 in their order (blacklist, per-IP, total, Origin; the token is
// checked by the caller afterwards), over a policy parsed once from
// Security.* (at start and at each reload, never per handshake).
//
// Pure: the caller gathers the facts (peer address, headers, counts) from
// its sockets and passes them in.
#pragma once

#include "core/cidr.hpp"
#include "core/config.hpp"
#include "core/metrics.hpp"
#include "core/origin.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

// Security.IpBlacklist, Security.TrustedProxies and Security.AllowedOrigins,
// parsed.
struct AccessPolicy {
    std::vector<Cidr> blacklist;
    std::vector<Cidr> trusted_proxies;
    std::vector<OriginPattern> origins;
};

/* Parses the Security.* lists of a validated configuration (entries that
 * do not parse, which validation refuses, are skipped). */
AccessPolicy access_policy(const SecurityConfig& security);

// What the caller knows about one upgrade request.
struct HandshakeFacts {
    IpAddr client{};                    // forwarded_client() of the peer
    bool draining = false;              // the instance is shutting down
    bool path_ok = true;                // the request's path is Path
    size_t from_client = 0;             // open WebSocket connections from `client`
    size_t total = 0;                   // open WebSocket connections
    std::optional<std::string> origin;  // the Origin header, when sent
};

/* The first refusal that applies, in this order: blacklist (403), draining
 * (503), path (404), per-IP (429: from_client >= MaxConnectionsPerIp),
 * capacity (503: total >= MaxConnections), origin (403); or
 * HandshakeRefusal::none. A blocked address learns nothing else, so the
 * blacklist comes before everything. */
HandshakeRefusal admit_handshake(const AccessPolicy& policy, const LimitsConfig& limits, const HandshakeFacts& facts);

/* The HTTP status that answers a refusal (403, 503, 404, 429, 503, 403,
 * 401 for token); 0 for none. */
int refusal_http_status(HandshakeRefusal refusal);

/* The token in an Authorization header value: what follows "Bearer" (any
 * case) and the spaces after it, possibly empty; nullopt when the value is
 * not a Bearer credential ("Basic ...", "Bearerx"). A view into `value`. */
std::optional<std::string_view> bearer_token(std::string_view value);

}  // namespace pushd
