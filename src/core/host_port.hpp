// "host:port" addresses in the configuration (Redis.Host, Sentinels,
// Nodes, Api.Listen) and wherever pushd connects or listens by one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pushd {

// A "host:port" or "[v6]:port" address split into its parts.
struct HostPort {
    std::string host;  // without the brackets of an IPv6 literal
    int port = 0;      // 1..65535
};

// Splits "host:port" (host non-empty, no ':' or spaces) or "[v6]:port" (a
// valid IPv6 literal); port is decimal 1..65535. nullopt otherwise. Used
// for Redis.Host by the validator and by the Redis client.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace pushd
