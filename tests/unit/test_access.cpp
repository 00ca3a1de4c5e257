// Handshake admission: the order of the checks (core/access).
#include "core/access.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {
IpAddr ip(const char* text) { return *parse_ip(text); }
}  // namespace

TEST_CASE("handshake checks run in the contract's order and the first refusal answers", "[access]") {
    SecurityConfig sec;
    sec.ip_blacklist = {"10.0.0.0/8", "2001:db8::/32"};
    sec.allowed_origins = {"https://app.example.com"};
    AccessPolicy policy = access_policy(sec);
    LimitsConfig limits;
    limits.max_connections = 10;
    limits.max_connections_per_ip = 2;

    HandshakeFacts ok;
    ok.client = ip("127.0.0.1");
    ok.from_client = 1;
    ok.total = 9;
    ok.origin = "https://app.example.com";
    CHECK(admit_handshake(policy, limits, ok) == HandshakeRefusal::none);

    HandshakeFacts all_wrong = ok;
    all_wrong.client = ip("10.1.2.3");
    all_wrong.draining = true;
    all_wrong.path_ok = false;
    all_wrong.from_client = 2;
    all_wrong.total = 10;
    all_wrong.origin = "https://evil.example";
    HandshakeFacts f = all_wrong;
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::blacklist);
    f.client = ip("127.0.0.1");
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::draining);
    f.draining = false;
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::path);
    f.path_ok = true;
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::per_ip);
    f.from_client = 1;
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::capacity);
    f.total = 9;
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::origin);
    f.origin.reset();  // no Origin: not a browser, allowed
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::none);

    CHECK(refusal_http_status(HandshakeRefusal::blacklist) == 403);
    CHECK(refusal_http_status(HandshakeRefusal::per_ip) == 429);
    CHECK(refusal_http_status(HandshakeRefusal::capacity) == 503);
    CHECK(refusal_http_status(HandshakeRefusal::origin) == 403);
    CHECK(refusal_http_status(HandshakeRefusal::token) == 401);
    CHECK(refusal_http_status(HandshakeRefusal::none) == 0);
}

TEST_CASE("the blacklist covers IPv6 and IPv4-mapped peers", "[access]") {
    SecurityConfig sec;
    sec.ip_blacklist = {"2001:db8::/32", "192.0.2.7"};
    AccessPolicy policy = access_policy(sec);
    LimitsConfig limits;
    HandshakeFacts f;
    f.client = ip("2001:db8::1");
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::blacklist);
    f.client = ip("::ffff:192.0.2.7");
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::blacklist);
    f.client = ip("192.0.2.8");
    CHECK(admit_handshake(policy, limits, f) == HandshakeRefusal::none);
}

TEST_CASE("the default policy allows any origin and no address is blocked", "[access]") {
    AccessPolicy policy = access_policy(SecurityConfig{});
    CHECK(policy.blacklist.empty());
    CHECK(policy.trusted_proxies.empty());
    HandshakeFacts f;
    f.client = ip("10.0.0.1");
    f.origin = "null";
    CHECK(admit_handshake(policy, LimitsConfig{}, f) == HandshakeRefusal::none);
}

TEST_CASE("bearer_token reads the token of a Bearer Authorization value", "[access]") {
    CHECK(bearer_token("Bearer abc.def.ghi") == std::optional<std::string_view>("abc.def.ghi"));
    CHECK(bearer_token("bEaReR   tok") == std::optional<std::string_view>("tok"));  // scheme in any case
    CHECK(bearer_token("Bearer") == std::optional<std::string_view>(""));           // offered empty
    CHECK(bearer_token("Bearer ") == std::optional<std::string_view>(""));
    CHECK_FALSE(bearer_token("Bearerx tok").has_value());
    CHECK_FALSE(bearer_token("Basic dXNlcjpwYXNz").has_value());
    CHECK_FALSE(bearer_token("Bear").has_value());
    CHECK_FALSE(bearer_token("").has_value());
}
