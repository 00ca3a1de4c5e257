#include "core/stream_id.hpp"

#include <charconv>

namespace pushd {

/* Parses one unsigned decimal part: at least one digit, digits only, no
 * overflow. */
static bool parse_u64_part(std::string_view s, uint64_t& out) {
    if (s.empty()) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

std::optional<StreamId> parse_stream_id(std::string_view text) {
    StreamId id;
    size_t dash = text.find('-');
    if (dash == std::string_view::npos) {
        if (!parse_u64_part(text, id.ms)) return std::nullopt;
        return id;
    }
    if (!parse_u64_part(text.substr(0, dash), id.ms)) return std::nullopt;
    if (!parse_u64_part(text.substr(dash + 1), id.seq)) return std::nullopt;
    return id;
}

std::string format_stream_id(StreamId id) {
    char buf[48];
    char* p = std::to_chars(buf, buf + 20, id.ms).ptr;
    *p++ = '-';
    p = std::to_chars(p, buf + sizeof buf, id.seq).ptr;
    return std::string(buf, p);
}

}  // namespace pushd
