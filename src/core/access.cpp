// Handshake admission (see access.hpp).
#include "core/access.hpp"

namespace pushd {

AccessPolicy access_policy(const SecurityConfig& security) {
    AccessPolicy p;
    p.blacklist = parse_cidr_list(security.ip_blacklist);
    p.trusted_proxies = parse_cidr_list(security.trusted_proxies);
    for (const std::string& o : security.allowed_origins) {
        if (std::optional<OriginPattern> pattern = parse_origin_pattern(o)) p.origins.push_back(*pattern);
    }
    return p;
}

HandshakeRefusal admit_handshake(const AccessPolicy& policy, const LimitsConfig& limits, const HandshakeFacts& facts) {
    if (cidr_list_contains(policy.blacklist, facts.client)) return HandshakeRefusal::blacklist;
    if (facts.draining) return HandshakeRefusal::draining;
    if (!facts.path_ok) return HandshakeRefusal::path;
    if (facts.from_client >= static_cast<size_t>(limits.max_connections_per_ip)) return HandshakeRefusal::per_ip;
    if (facts.total >= static_cast<size_t>(limits.max_connections)) return HandshakeRefusal::capacity;
    if (facts.origin && !origin_allowed(policy.origins, *facts.origin)) return HandshakeRefusal::origin;
    return HandshakeRefusal::none;
}

int refusal_http_status(HandshakeRefusal refusal) {
    switch (refusal) {
    case HandshakeRefusal::none: return 0;
    case HandshakeRefusal::blacklist: return 403;
    case HandshakeRefusal::draining: return 503;
    case HandshakeRefusal::path: return 404;
    case HandshakeRefusal::per_ip: return 429;
    case HandshakeRefusal::capacity: return 503;
    case HandshakeRefusal::origin: return 403;
    case HandshakeRefusal::token: return 401;
    case HandshakeRefusal::count: break;
    }
    return 0;
}

std::optional<std::string_view> bearer_token(std::string_view value) {
    static constexpr std::string_view kScheme = "bearer";
    if (value.size() < kScheme.size() || (value.size() > kScheme.size() && value[kScheme.size()] != ' '))
        return std::nullopt;
    for (size_t i = 0; i < kScheme.size(); i++) {
        char c = value[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kScheme[i]) return std::nullopt;
    }
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value;
}

}  // namespace pushd
