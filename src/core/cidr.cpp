// IP address and CIDR parsing and matching (see cidr.hpp).
#include "core/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace pushd {

namespace {

// Longest text either inet_pton form can take (INET6_ADDRSTRLEN incl. NUL).
constexpr size_t kMaxAddrText = 46;

// Parses one address; sets `is_v4`. inet_pton needs a NUL-terminated copy.
std::optional<IpAddr> parse_address(std::string_view text, bool& is_v4) {
    if (text.empty() || text.size() >= kMaxAddrText) return std::nullopt;
    if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
    char buf[kMaxAddrText];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';

    std::array<uint8_t, 4> v4{};
    if (inet_pton(AF_INET, buf, v4.data()) == 1) {
        is_v4 = true;
        return ipv4_mapped(v4);
    }
    IpAddr v6{};
    if (inet_pton(AF_INET6, buf, v6.data()) == 1) {
        is_v4 = false;
        return v6;
    }
    return std::nullopt;
}

// Parses the prefix length after '/': 1..3 decimal digits, no leading zero.
std::optional<int> parse_prefix(std::string_view text) {
    if (text.empty() || text.size() > 3) return std::nullopt;
    if (text.size() > 1 && text[0] == '0') return std::nullopt;
    int value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

// True when the first `bits` bits of a and b are equal.
bool prefix_equal(const IpAddr& a, const IpAddr& b, int bits) {
    int full = bits / 8;
    if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
    int rest = bits % 8;
    if (rest == 0) return true;
    auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
    return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

}  // namespace

std::optional<IpAddr> parse_ip(std::string_view text) {
    bool is_v4 = false;
    return parse_address(text, is_v4);
}

IpAddr ipv4_mapped(const std::array<uint8_t, 4>& v4) {
    IpAddr out{};
    out[10] = 0xFF;
    out[11] = 0xFF;
    std::memcpy(out.data() + 12, v4.data(), 4);
    return out;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    std::string_view addr_text = text;
    std::optional<int> len;
    size_t slash = text.find('/');
    if (slash != std::string_view::npos) {
        addr_text = text.substr(0, slash);
        len = parse_prefix(text.substr(slash + 1));
        if (!len) return std::nullopt;
    }
    bool is_v4 = false;
    std::optional<IpAddr> addr = parse_address(addr_text, is_v4);
    if (!addr) return std::nullopt;

    int max_len = is_v4 ? 32 : 128;
    int family_len = len.value_or(max_len);
    if (family_len > max_len) return std::nullopt;

    Cidr cidr;
    cidr.prefix_len = is_v4 ? family_len + 96 : family_len;
    cidr.network = *addr;
    for (int bit = cidr.prefix_len; bit < 128; ++bit) {
        cidr.network[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    }
    return cidr;
}

bool cidr_contains(const Cidr& cidr, const IpAddr& addr) { return prefix_equal(cidr.network, addr, cidr.prefix_len); }

bool cidr_list_contains(const std::vector<Cidr>& list, const IpAddr& addr) {
    for (const Cidr& c : list) {
        if (cidr_contains(c, addr)) return true;
    }
    return false;
}

std::vector<Cidr> parse_cidr_list(const std::vector<std::string>& texts) {
    std::vector<Cidr> out;
    out.reserve(texts.size());
    for (const std::string& t : texts) {
        if (std::optional<Cidr> c = parse_cidr(t)) out.push_back(*c);
    }
    return out;
}

std::string ip_to_string(const IpAddr& addr) {
    static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    char buf[kMaxAddrText];
    if (std::memcmp(addr.data(), kMappedPrefix, 12) == 0) {
        if (inet_ntop(AF_INET, addr.data() + 12, buf, sizeof buf)) return buf;
    } else if (inet_ntop(AF_INET6, addr.data(), buf, sizeof buf)) {
        return buf;
    }
    return "?";
}

IpAddr forwarded_client(const IpAddr& peer, std::string_view xff, const std::vector<Cidr>& trusted) {
    if (trusted.empty() || !cidr_list_contains(trusted, peer)) return peer;
    IpAddr client = peer;
    size_t end = xff.size();
    for (;;) {
        size_t comma = end == 0 ? std::string_view::npos : xff.rfind(',', end - 1);
        size_t begin = comma == std::string_view::npos ? 0 : comma + 1;
        std::string_view item = xff.substr(begin, end - begin);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) {
            std::optional<IpAddr> addr = parse_ip(item);
            if (!addr) return client;  // garbage: believe nothing left of it
            client = *addr;
            if (!cidr_list_contains(trusted, client)) return client;
        }
        if (comma == std::string_view::npos) return client;  // all trusted: the leftmost
        end = comma;
    }
}

}  // namespace pushd
