// Tests for core/cidr: address and CIDR parsing, containment.
#include <catch2/catch.hpp>

#include "core/cidr.hpp"

#include <string>

using pushd::Cidr;
using pushd::cidr_contains;
using pushd::IpAddr;
using pushd::parse_cidr;
using pushd::parse_ip;

namespace {

IpAddr ip(const char* text) {
    std::optional<IpAddr> a = parse_ip(text);
    REQUIRE(a.has_value());
    return *a;
}

Cidr cidr(const char* text) {
    std::optional<Cidr> c = parse_cidr(text);
    REQUIRE(c.has_value());
    return *c;
}

}  // namespace

TEST_CASE("parse_ip reads IPv4 as v4-mapped IPv6 and IPv6 as is", "[cidr]") {
    IpAddr v4 = ip("192.0.2.7");
    IpAddr expected{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 7};
    CHECK(v4 == expected);
    CHECK(ip("::ffff:192.0.2.7") == expected);
    CHECK(pushd::ipv4_mapped({192, 0, 2, 7}) == expected);

    IpAddr v6 = ip("2001:db8::1");
    CHECK(v6[0] == 0x20);
    CHECK(v6[1] == 0x01);
    CHECK(v6[2] == 0x0d);
    CHECK(v6[3] == 0xb8);
    CHECK(v6[15] == 1);
    CHECK(ip("::") == IpAddr{});
}

TEST_CASE("parse_ip rejects what is not exactly one address", "[cidr]") {
    for (const char* bad : {"", " 10.0.0.1", "10.0.0.1 ", "10.0.0", "10.0.0.256", "10.0.0.1.2", "01.2.3.4",
                            "fe80::1%eth0", "[::1]", "2001:db8:::1", "localhost", "10.0.0.1/8", "1:2:3:4:5:6:7:8:9",
                            "0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
        INFO(bad);
        CHECK_FALSE(parse_ip(bad).has_value());
    }
    std::string embedded_nul("10.0.0.1\0junk", 13);
    CHECK_FALSE(parse_ip(embedded_nul).has_value());
}

TEST_CASE("parse_cidr prefix lengths", "[cidr]") {
    CHECK(cidr("10.0.0.0/8").prefix_len == 96 + 8);
    CHECK(cidr("10.0.0.1").prefix_len == 128);
    CHECK(cidr("0.0.0.0/0").prefix_len == 96);
    CHECK(cidr("10.0.0.1/32").prefix_len == 128);
    CHECK(cidr("2001:db8::/32").prefix_len == 32);
    CHECK(cidr("::1").prefix_len == 128);
    CHECK(cidr("::/0").prefix_len == 0);
    CHECK(cidr("::1/128").prefix_len == 128);
}

TEST_CASE("parse_cidr clears host bits", "[cidr]") {
    CHECK(cidr("10.1.2.3/8").network == ip("10.0.0.0"));
    CHECK(cidr("192.168.77.200/20").network == ip("192.168.64.0"));
    CHECK(cidr("2001:db8:ffff::1/33").network == ip("2001:db8:8000::"));
    CHECK(cidr("10.0.0.1").network == ip("10.0.0.1"));
}

TEST_CASE("parse_cidr rejects malformed blocks", "[cidr]") {
    for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
                            "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0 /8", "::/129", "::/1000", "10.0.0.0/x",
                            "10.0.0.0/8 ", "example.com/8", "10.0.0/8", "*"}) {
        INFO(bad);
        CHECK_FALSE(parse_cidr(bad).has_value());
    }
    CHECK(parse_cidr("10.0.0.0/0").has_value());
}

TEST_CASE("cidr_contains IPv4 blocks", "[cidr]") {
    Cidr ten = cidr("10.0.0.0/8");
    CHECK(cidr_contains(ten, ip("10.0.0.0")));
    CHECK(cidr_contains(ten, ip("10.255.255.255")));
    CHECK(cidr_contains(ten, ip("10.1.2.3")));
    CHECK_FALSE(cidr_contains(ten, ip("11.0.0.0")));
    CHECK_FALSE(cidr_contains(ten, ip("9.255.255.255")));

    Cidr odd = cidr("192.168.64.0/20");
    CHECK(cidr_contains(odd, ip("192.168.79.255")));
    CHECK_FALSE(cidr_contains(odd, ip("192.168.80.0")));
    CHECK_FALSE(cidr_contains(odd, ip("192.168.63.255")));

    Cidr one = cidr("203.0.113.9");
    CHECK(cidr_contains(one, ip("203.0.113.9")));
    CHECK_FALSE(cidr_contains(one, ip("203.0.113.8")));

    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    CHECK(cidr_contains(one, ip("::ffff:203.0.113.9")));
}

TEST_CASE("cidr_contains IPv6 blocks and family separation", "[cidr]") {
    Cidr doc = cidr("2001:db8::/32");
    CHECK(cidr_contains(doc, ip("2001:db8::1")));
    CHECK(cidr_contains(doc, ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    CHECK_FALSE(cidr_contains(doc, ip("2001:db9::")));

    // An IPv4 block never matches a native IPv6 address, and vice versa.
    Cidr all_v4 = cidr("0.0.0.0/0");
    CHECK(cidr_contains(all_v4, ip("1.2.3.4")));
    CHECK_FALSE(cidr_contains(all_v4, ip("2001:db8::1")));
    CHECK_FALSE(cidr_contains(all_v4, ip("::1")));
    CHECK_FALSE(cidr_contains(doc, ip("32.1.13.184")));

    Cidr everything = cidr("::/0");
    CHECK(cidr_contains(everything, ip("1.2.3.4")));
    CHECK(cidr_contains(everything, ip("::1")));

    Cidr loopback = cidr("::1");
    CHECK(cidr_contains(loopback, ip("::1")));
    CHECK_FALSE(cidr_contains(loopback, ip("::2")));
}

TEST_CASE("cidr lists, address text and hashing", "[cidr]") {
    std::vector<Cidr> list = pushd::parse_cidr_list({"10.0.0.0/8", "bad", "2001:db8::/32"});
    REQUIRE(list.size() == 2);  // the entry validation would refuse is skipped
    CHECK(pushd::cidr_list_contains(list, ip("10.9.9.9")));
    CHECK(pushd::cidr_list_contains(list, ip("2001:db8::5")));
    CHECK_FALSE(pushd::cidr_list_contains(list, ip("11.0.0.1")));
    CHECK_FALSE(pushd::cidr_list_contains({}, ip("10.0.0.1")));

    CHECK(pushd::ip_to_string(ip("127.0.0.2")) == "127.0.0.2");
    CHECK(pushd::ip_to_string(ip("::ffff:127.0.0.2")) == "127.0.0.2");
    CHECK(pushd::ip_to_string(ip("2001:db8:0::1")) == "2001:db8::1");

    pushd::IpAddrHash h;
    CHECK(h(ip("10.0.0.1")) == h(ip("::ffff:10.0.0.1")));
    CHECK(h(ip("10.0.0.1")) != h(ip("10.0.0.2")));
}

TEST_CASE("forwarded_client walks X-Forwarded-For from the right past trusted proxies", "[cidr]") {
    using pushd::forwarded_client;
    const std::vector<Cidr> trusted = pushd::parse_cidr_list({"127.0.0.1", "10.0.0.0/8"});
    const IpAddr proxy = ip("127.0.0.1");

    SECTION("an untrusted peer's header is ignored") {
        CHECK(forwarded_client(ip("127.0.0.5"), "1.2.3.4", trusted) == ip("127.0.0.5"));
        CHECK(forwarded_client(proxy, "1.2.3.4", {}) == proxy);
    }
    SECTION("the last address that is not a trusted proxy is the client") {
        CHECK(forwarded_client(proxy, "1.2.3.4", trusted) == ip("1.2.3.4"));
        CHECK(forwarded_client(proxy, "9.9.9.9, 1.2.3.4", trusted) == ip("1.2.3.4"));
        CHECK(forwarded_client(proxy, "9.9.9.9, 1.2.3.4, 10.1.1.1,10.2.2.2", trusted) == ip("1.2.3.4"));
        CHECK(forwarded_client(proxy, " 2001:db8::7 ", trusted) == ip("2001:db8::7"));
    }
    SECTION("a spoofed left part does not help the client") {
        // The client wrote "5.5.5.5" itself; the proxy appended its real address.
        CHECK(forwarded_client(proxy, "5.5.5.5, 6.6.6.6", trusted) == ip("6.6.6.6"));
    }
    SECTION("garbage stops the walk at the last address accepted") {
        CHECK(forwarded_client(proxy, "1.2.3.4, unknown", trusted) == proxy);
        CHECK(forwarded_client(proxy, "unknown, 10.1.1.1", trusted) == ip("10.1.1.1"));
        CHECK(forwarded_client(proxy, "1.2.3.4:5678", trusted) == proxy);
        CHECK(forwarded_client(proxy, "1.2.3.4, , 10.1.1.1", trusted) == ip("1.2.3.4"));  // empty items skipped
    }
    SECTION("every entry trusted: the leftmost; empty header: the peer") {
        CHECK(forwarded_client(proxy, "10.0.0.9, 10.0.0.8", trusted) == ip("10.0.0.9"));
        CHECK(forwarded_client(proxy, "", trusted) == proxy);
        CHECK(forwarded_client(proxy, " , ", trusted) == proxy);
    }
}
