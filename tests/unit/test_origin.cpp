// Security.AllowedOrigins patterns and matching (core/origin).
#include "core/origin.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {
bool allowed(std::initializer_list<const char*> patterns, const char* origin) {
    std::vector<OriginPattern> list;
    for (const char* p : patterns) {
        std::optional<OriginPattern> parsed = parse_origin_pattern(p);
        REQUIRE(parsed);
        list.push_back(*parsed);
    }
    return origin_allowed(list, origin);
}
}  // namespace

TEST_CASE("origin patterns: what parses", "[origin]") {
    for (const char* ok : {"*", "https://a.example.com", "http://localhost:3000", "https://*.example.com",
                           "https://*.example.com:8443", "http://[::1]:8080", "http://[2001:db8::1]",
                           "HTTPS://A.Example.COM", "chrome-extension://abcdef", "http://127.0.0.1"}) {
        INFO(ok);
        CHECK(parse_origin_pattern(ok));
    }
    for (const char* bad : {"",
                            "**",
                            "a.example.com",
                            "https://",
                            "https://a..b",
                            "https://a.com/",
                            "https://a.com/path",
                            "https://a.com:0",
                            "https://a.com:65536",
                            "https://a.com:",
                            "https://a.com:08",
                            "https://*",
                            "https://*.",
                            "https://a.*.com",
                            "http://[::1",
                            "http://[1.2.3.4]",
                            "1https://a.com",
                            "https://user@a.com",
                            "https://a com",
                            "://a.com"}) {
        INFO(bad);
        CHECK_FALSE(parse_origin_pattern(bad));
    }
    OriginPattern p = *parse_origin_pattern("HTTPS://*.Example.com");
    CHECK(p.scheme == "https");
    CHECK(p.host == "example.com");
    CHECK(p.subdomains);
    CHECK(p.port == 443);
}

TEST_CASE("exact origins compare scheme, host and port", "[origin]") {
    CHECK(allowed({"https://a.example.com"}, "https://a.example.com"));
    CHECK(allowed({"https://a.example.com"}, "https://A.EXAMPLE.com"));
    CHECK(allowed({"https://a.example.com"}, "https://a.example.com:443"));  // default port
    CHECK(allowed({"https://a.example.com:443"}, "https://a.example.com"));
    CHECK_FALSE(allowed({"https://a.example.com"}, "http://a.example.com"));
    CHECK_FALSE(allowed({"https://a.example.com"}, "https://a.example.com:8443"));
    CHECK_FALSE(allowed({"https://a.example.com"}, "https://b.example.com"));
    CHECK_FALSE(allowed({"https://a.example.com"}, "https://a.example.com.evil.net"));
    CHECK_FALSE(allowed({"https://a.example.com"}, "https://x.a.example.com"));
    CHECK(allowed({"http://localhost:3000"}, "http://localhost:3000"));
    CHECK_FALSE(allowed({"http://localhost:3000"}, "http://localhost"));
    CHECK(allowed({"http://[::1]:8080"}, "http://[::1]:8080"));
    CHECK(allowed({"http://[::1]:8080"}, "http://[0:0::1]:8080"));  // the same address
    CHECK_FALSE(allowed({"http://[::1]:8080"}, "http://[::2]:8080"));
}

TEST_CASE("subdomain patterns match any depth but not the domain itself", "[origin]") {
    CHECK(allowed({"https://*.example.com"}, "https://a.example.com"));
    CHECK(allowed({"https://*.example.com"}, "https://b.a.example.com"));
    CHECK_FALSE(allowed({"https://*.example.com"}, "https://example.com"));
    CHECK_FALSE(allowed({"https://*.example.com"}, "https://badexample.com"));
    CHECK_FALSE(allowed({"https://*.example.com"}, "https://a.example.com.evil.net"));
    CHECK_FALSE(allowed({"https://*.example.com"}, "http://a.example.com"));
    CHECK_FALSE(allowed({"https://*.example.com"}, "https://a.example.com:8443"));
    CHECK(allowed({"https://*.example.com:8443"}, "https://a.example.com:8443"));
}

TEST_CASE("'*' allows anything; an origin that is not one matches nothing else", "[origin]") {
    CHECK(allowed({"*"}, "null"));
    CHECK(allowed({"*"}, "https://x.y"));
    CHECK(allowed({"https://a.com", "*"}, "whatever"));
    CHECK_FALSE(allowed({"https://a.com"}, "null"));
    CHECK_FALSE(allowed({"https://a.com"}, ""));
    CHECK_FALSE(allowed({"https://a.com"}, "https://a.com/"));
    CHECK_FALSE(allowed({"https://a.com"}, "https://user@a.com"));
    CHECK_FALSE(allowed({"https://a.com"}, "https://*.a.com"));  // no wildcard on the client side
    CHECK_FALSE(allowed({}, "https://a.com"));
    CHECK(allowed({"https://a.com", "https://b.com"}, "https://b.com"));
}
