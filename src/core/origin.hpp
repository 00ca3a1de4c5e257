// Security.AllowedOrigins: the patterns and the matcher for a handshake's
// Origin header (PROTOCOL.md section 5).
//
// Patterns: "*" (any origin, "null" included), "scheme://host[:port]"
// (exact), "scheme://*.domain[:port]" (any subdomain of domain, at any
// depth, not domain itself). Hosts may be "[v6]" literals. Scheme and host
// compare ASCII case-insensitively; a missing port is the scheme's default
// (http/ws 80, https/wss 443), so "https://a.example" and
// "https://a.example:443" are the same origin.
//
// Pure: text in, verdicts out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

struct OriginPattern {
    bool any = false;         // "*"
    bool subdomains = false;  // host was "*.<host>"
    std::string scheme;       // lower-cased
    std::string host;         // lower-cased; without "*." and without brackets
    int port = 0;             // explicit or the scheme's default; 0: none known
};

/* Parses one pattern as above. nullopt when it is not one (config
 * validation reports it). */
std::optional<OriginPattern> parse_origin_pattern(std::string_view text);

/* True when the Origin header value `origin` (a serialized origin,
 * "scheme://host[:port]") matches `pattern`. An origin with a path, user
 * info, or anything else that is not a serialized origin matches only "*". */
bool origin_matches(const OriginPattern& pattern, std::string_view origin);

/* True when `origin` matches any of `patterns`. */
bool origin_allowed(const std::vector<OriginPattern>& patterns, std::string_view origin);

}  // namespace pushd
