// libFuzzer target: core/cidr (addresses, CIDR blocks, X-Forwarded-For)
// and core/origin (AllowedOrigins patterns, the Origin header), the texts
// a client or a proxy controls at the handshake, and the operator at
// configuration.
//
// Input: lines. 0: a peer address; 1: an X-Forwarded-For value; 2: the
// trusted proxies, comma-separated; 3: an origin pattern; 4: an Origin
// header value. Every line is also tried as an address, a block, a pattern
// and an origin.
//
// Invariants checked besides the sanitizers:
//  - an address printed by ip_to_string parses back to itself;
//  - a parsed block has its host bits cleared and contains its network;
//  - the forwarded client is the peer or an address written in the header,
//    and the peer itself when the peer is not trusted;
//  - "*" matches any origin; a pattern without "*." matches the origin
//    rebuilt from its own parts.
#include "core/cidr.hpp"
#include "core/origin.hpp"
#include "fuzz_util.hpp"

#include <string>

using namespace pushd;

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

void try_line(std::string_view line) {
    if (std::optional<IpAddr> a = parse_ip(line)) {
        std::optional<IpAddr> again = parse_ip(ip_to_string(*a));
        FUZZ_CHECK(again && *again == *a);
    }
    if (std::optional<Cidr> c = parse_cidr(line)) {
        FUZZ_CHECK(c->prefix_len >= 0 && c->prefix_len <= 128);
        for (int bit = c->prefix_len; bit < 128; bit++) FUZZ_CHECK((c->network[bit / 8] & (0x80 >> (bit % 8))) == 0);
        FUZZ_CHECK(cidr_contains(*c, c->network));
    }
    if (std::optional<OriginPattern> p = parse_origin_pattern(line)) {
        FUZZ_CHECK(p->port >= 0 && p->port <= 65535);
        origin_matches(*p, line);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string_view> lines = fuzz::split(fuzz::as_text(data, size), '\n', 5);
    for (std::string_view line : lines) try_line(line);
    auto line = [&](size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };

    // X-Forwarded-For behind the trusted proxies of line 2.
    std::vector<std::string> proxy_texts;
    for (std::string_view p : fuzz::split(line(2), ',', 64)) proxy_texts.emplace_back(p);
    std::vector<Cidr> trusted = parse_cidr_list(proxy_texts);
    IpAddr peer = parse_ip(line(0)).value_or(ipv4_mapped({127, 0, 0, 1}));
    std::string_view xff = line(1);
    IpAddr client = forwarded_client(peer, xff, trusted);
    if (!cidr_list_contains(trusted, peer)) FUZZ_CHECK(client == peer);
    if (client != peer) {
        bool written = false;
        for (std::string_view item : fuzz::split(xff, ',', xff.size() + 1))
            if (std::optional<IpAddr> a = parse_ip(trimmed(item)); a && *a == client) written = true;
        FUZZ_CHECK(written);
    }

    // The origin of line 4 against the pattern of line 3.
    if (std::optional<OriginPattern> p = parse_origin_pattern(line(3))) {
        bool m = origin_matches(*p, line(4));
        if (p->any) FUZZ_CHECK(m);
        FUZZ_CHECK(origin_allowed({*p}, line(4)) == m);
        if (!p->any && !p->subdomains) {
            std::string self =
                p->scheme + "://" + (p->host.find(':') != std::string::npos ? "[" + p->host + "]" : p->host);
            if (p->port != 0) self += ":" + std::to_string(p->port);
            FUZZ_CHECK(origin_matches(*p, self));
        }
    }
    return 0;
}
