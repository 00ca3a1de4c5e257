// IP addresses and CIDR blocks for Security.IpBlacklist.
//
// Pure: text in, 16-byte addresses out; no sockets. IPv4 is stored as its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one 16-byte comparison serves
// both families and a dual-stack socket's mapped peer address matches an
// IPv4 entry.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd {

// An address in network byte order; IPv4 as ::ffff:a.b.c.d.
using IpAddr = std::array<uint8_t, 16>;

struct Cidr {
    IpAddr network{};    // the block's first address (host bits cleared)
    int prefix_len = 0;  // 0..128 over the 16-byte form: an IPv4 /24 is 120
};

/* Parses one IPv4 ("10.0.0.1") or IPv6 ("2001:db8::1") address with
 * inet_pton. No surrounding spaces, no zone ("%eth0"), no brackets.
 * Returns nullopt when the text is not an address. */
std::optional<IpAddr> parse_ip(std::string_view text);

/* Returns the IPv4-mapped form of a 4-byte IPv4 address in network byte
 * order (what sockaddr_in.sin_addr holds). */
IpAddr ipv4_mapped(const std::array<uint8_t, 4>& v4);

/* Parses "ADDR" or "ADDR/LEN": IPv4 with LEN 0..32, IPv6 with LEN 0..128,
 * LEN in decimal without a sign or leading zeros. A bare address is a
 * single-address block (/32, /128). Host bits after the prefix are cleared,
 * so "10.1.2.3/8" is 10.0.0.0/8. Returns nullopt on anything else. */
std::optional<Cidr> parse_cidr(std::string_view text);

/* True when `addr` lies inside `cidr`. An IPv4 block only contains
 * IPv4(-mapped) addresses; "::/0" contains everything. */
bool cidr_contains(const Cidr& cidr, const IpAddr& addr);

/* True when `addr` lies inside any block of `list`. */
bool cidr_list_contains(const std::vector<Cidr>& list, const IpAddr& addr);

/* Parses every entry of `texts` with parse_cidr, skipping those that do not
 * parse (configuration validation reports them before this is used). */
std::vector<Cidr> parse_cidr_list(const std::vector<std::string>& texts);

/* The address as text: dotted IPv4 for IPv4(-mapped) addresses, else IPv6
 * (inet_ntop), for logs. */
std::string ip_to_string(const IpAddr& addr);

/* The client behind proxies. `peer` is the socket's peer address; when it
 * lies in `trusted`, the X-Forwarded-For value `xff` (comma-separated
 * addresses, possibly from several headers joined with ',') is walked from
 * the right: trusted addresses are skipped and the first one that is not
 * trusted is the client. When an entry is not a plain address (a name,
 * "unknown", an address with a port) the walk stops and the last address
 * it accepted is the client: nothing left of garbage is believed. When
 * every entry is trusted, the leftmost is the client. Without a trusted
 * peer, or without `xff`, the peer is the client. */
IpAddr forwarded_client(const IpAddr& peer, std::string_view xff, const std::vector<Cidr>& trusted);

// Hash of an address, for unordered maps keyed by IpAddr.
struct IpAddrHash {
    size_t operator()(const IpAddr& a) const {
        uint64_t hi = 0;
        uint64_t lo = 0;
        std::memcpy(&hi, a.data(), 8);
        std::memcpy(&lo, a.data() + 8, 8);
        uint64_t h = (hi ^ (lo * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
        return static_cast<size_t>(h ^ (h >> 31));
    }
};

}  // namespace pushd
