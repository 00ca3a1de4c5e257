// Origin patterns and matching (see origin.hpp).
#include "core/origin.hpp"

#include "core/cidr.hpp"

#include <charconv>

namespace pushd {
namespace {

struct Parsed {
    std::string scheme;
    std::string host;  // lower-cased, brackets removed
    bool v6 = false;
    int port = 0;  // explicit or default; 0 unknown
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

int default_port(std::string_view scheme) {
    if (scheme == "http" || scheme == "ws") return 80;
    if (scheme == "https" || scheme == "wss") return 443;
    return 0;
}

// A port: 1..5 digits, no leading zero, 1..65535.
std::optional<int> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || s[0] == '0') return std::nullopt;
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) return std::nullopt;
    return v;
}

// Dot-separated labels of letters, digits, '-' and '_', each 1..63 bytes.
bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    size_t label = 0;
    for (char c : h) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

bool valid_scheme(std::string_view s) {
    if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                  c == '.';
        if (!ok) return false;
    }
    return true;
}

// "scheme://host[:port]" with host a name (optionally "*."-prefixed when
// `wildcard_ok`) or a bracketed IPv6 literal. Sets *wildcard.
std::optional<Parsed> parse_serialized(std::string_view o, bool wildcard_ok, bool* wildcard) {
    *wildcard = false;
    size_t sep = o.find("://");
    if (sep == std::string_view::npos || !valid_scheme(o.substr(0, sep))) return std::nullopt;
    Parsed p;
    p.scheme = lowered(o.substr(0, sep));
    std::string_view rest = o.substr(sep + 3);
    std::string_view host;
    std::string_view after;
    if (!rest.empty() && rest[0] == '[') {
        size_t close = rest.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = rest.substr(1, close - 1);
        std::optional<IpAddr> addr;
        if (host.find(':') == std::string_view::npos || !(addr = parse_ip(host))) return std::nullopt;
        p.v6 = true;
        p.host = ip_to_string(*addr);  // one spelling per address ("0:0::1" is "::1")
        after = rest.substr(close + 1);
    } else {
        size_t colon = rest.find(':');
        host = rest.substr(0, colon);
        after = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
        if (wildcard_ok && host.substr(0, 2) == "*.") {
            *wildcard = true;
            host.remove_prefix(2);
        }
        if (!valid_hostname(host)) return std::nullopt;
    }
    if (!after.empty()) {
        if (after[0] != ':') return std::nullopt;
        std::optional<int> port = parse_port(after.substr(1));
        if (!port) return std::nullopt;
        p.port = *port;
    } else {
        p.port = default_port(p.scheme);
    }
    if (!p.v6) p.host = lowered(host);
    return p;
}

}  // namespace

std::optional<OriginPattern> parse_origin_pattern(std::string_view text) {
    OriginPattern pattern;
    if (text == "*") {
        pattern.any = true;
        return pattern;
    }
    bool wildcard = false;
    std::optional<Parsed> p = parse_serialized(text, true, &wildcard);
    if (!p) return std::nullopt;
    pattern.subdomains = wildcard;
    pattern.scheme = std::move(p->scheme);
    pattern.host = std::move(p->host);
    pattern.port = p->port;
    return pattern;
}

bool origin_matches(const OriginPattern& pattern, std::string_view origin) {
    if (pattern.any) return true;
    bool wildcard = false;
    std::optional<Parsed> o = parse_serialized(origin, false, &wildcard);
    if (!o || o->scheme != pattern.scheme || o->port != pattern.port) return false;
    if (!pattern.subdomains) return o->host == pattern.host;
    // "*.example.com": "a.example.com", "b.a.example.com"; not "example.com"
    // nor "badexample.com".
    const std::string& h = o->host;
    return !o->v6 && h.size() > pattern.host.size() + 1 &&
           h.compare(h.size() - pattern.host.size(), pattern.host.size(), pattern.host) == 0 &&
           h[h.size() - pattern.host.size() - 1] == '.';
}

bool origin_allowed(const std::vector<OriginPattern>& patterns, std::string_view origin) {
    for (const OriginPattern& p : patterns) {
        if (origin_matches(p, origin)) return true;
    }
    return false;
}

}  // namespace pushd
