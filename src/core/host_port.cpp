#include "core/host_port.hpp"

#include "core/cidr.hpp"

#include <charconv>

namespace pushd {
namespace {

// A port: digits, no leading zero, 1..65535.
std::optional<int> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || s[0] == '0' || s.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    int v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    if (v < 1 || v > 65535) return std::nullopt;
    return v;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos || !parse_ip(host)) return std::nullopt;
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.empty() || host.find(':') != std::string_view::npos) return std::nullopt;
        for (char c : host) {
            auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u == 0x7f || c == '/' || c == '[' || c == ']') return std::nullopt;
        }
    }
    std::optional<int> p = parse_port(port);
    if (!p) return std::nullopt;
    return HostPort{std::string(host), *p};
}

}  // namespace pushd
