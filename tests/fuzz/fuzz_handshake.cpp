// libFuzzer target: core/access, the admission of a WebSocket upgrade from
// the facts the io layer gathers (peer, X-Forwarded-For, Origin, counts)
// under a policy from Security.* and Limits.*.
//
// Input: lines. 0: counts and flags (bytes: draining, path_ok, per-IP
// count, total count, MaxConnectionsPerIp, MaxConnections, has Origin);
// 1: the peer address; 2: X-Forwarded-For; 3: the Origin header;
// 4: IpBlacklist, 5: TrustedProxies, 6: AllowedOrigins, each
// comma-separated; 7: an Authorization header value.
//
// Invariants checked besides the sanitizers: the refusal is the first that
// applies in the documented order (blacklist, draining, path, per-IP,
// capacity, origin), recomputed here from the same facts; its HTTP status
// is the documented one. The Bearer token read from the Authorization
// value lies inside it, starts with no space, and is verified safely.
#include "core/access.hpp"
#include "core/auth.hpp"
#include "fuzz_util.hpp"

using namespace pushd;

namespace {

std::vector<std::string> list(std::string_view text) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    for (std::string_view item : fuzz::split(text, ',', 32)) out.emplace_back(item);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string_view> lines = fuzz::split(fuzz::as_text(data, size), '\n', 8);
    auto line = [&](size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };
    auto byte = [&](size_t i) { return i < line(0).size() ? static_cast<uint8_t>(line(0)[i]) : uint8_t(0); };

    SecurityConfig security;
    security.ip_blacklist = list(line(4));
    security.trusted_proxies = list(line(5));
    security.allowed_origins = list(line(6));
    AccessPolicy policy = access_policy(security);
    LimitsConfig limits;
    limits.max_connections_per_ip = byte(4) % 8 + 1;
    limits.max_connections = byte(5) % 16 + 1;

    IpAddr peer = parse_ip(line(1)).value_or(ipv4_mapped({127, 0, 0, 1}));
    HandshakeFacts facts;
    facts.client = forwarded_client(peer, line(2), policy.trusted_proxies);
    facts.draining = byte(0) & 1;
    facts.path_ok = !(byte(1) & 1);
    facts.from_client = byte(2) % 10;
    facts.total = byte(3) % 20;
    if (byte(6) & 1) facts.origin = std::string(line(3));

    HandshakeRefusal got = admit_handshake(policy, limits, facts);
    HandshakeRefusal want = HandshakeRefusal::none;
    if (cidr_list_contains(policy.blacklist, facts.client))
        want = HandshakeRefusal::blacklist;
    else if (facts.draining)
        want = HandshakeRefusal::draining;
    else if (!facts.path_ok)
        want = HandshakeRefusal::path;
    else if (static_cast<int64_t>(facts.from_client) >= limits.max_connections_per_ip)
        want = HandshakeRefusal::per_ip;
    else if (static_cast<int64_t>(facts.total) >= limits.max_connections)
        want = HandshakeRefusal::capacity;
    else if (facts.origin && !origin_allowed(policy.origins, *facts.origin))
        want = HandshakeRefusal::origin;
    FUZZ_CHECK(got == want);
    static const int kStatus[] = {0, 403, 503, 404, 429, 503, 403, 401};
    FUZZ_CHECK(refusal_http_status(got) == kStatus[static_cast<size_t>(got)]);

    if (std::optional<std::string_view> token = bearer_token(line(7))) {
        FUZZ_CHECK(token->data() >= line(7).data() && token->data() + token->size() == line(7).data() + line(7).size());
        FUZZ_CHECK(token->empty() || token->front() != ' ');
        AuthResult r = verify_token(*token, "fuzz-secret", "userId", 1732600000);
        FUZZ_CHECK(r.error != AuthError::none);  // nothing is signed with this secret
    }
    return 0;
}
