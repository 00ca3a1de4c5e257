#include "core/revocations.hpp"

#include <algorithm>
#include <charconv>

namespace pushd {

bool Revocations::add(std::string_view user_id, Revocation r, int64_t now_ms) {
    auto it = table_.find(std::string(user_id));
    if (it != table_.end()) {
        it->second.until_ms = std::max(it->second.until_ms, r.until_ms);
        it->second.iat_bound_s = std::max(it->second.iat_bound_s, r.iat_bound_s);
        return true;
    }
    if (table_.size() >= kMaxRevocations) prune(now_ms);
    if (table_.size() >= kMaxRevocations) return false;
    table_.emplace(std::string(user_id), r);
    return true;
}

bool Revocations::refuses(const VerifiedToken& token, int64_t now_ms) const {
    if (table_.empty()) return false;
    const auto it = table_.find(token.user_id);
    if (it == table_.end() || now_ms >= it->second.until_ms) return false;
    return !token.iat_s || *token.iat_s <= it->second.iat_bound_s;
}

void Revocations::prune(int64_t now_ms) {
    std::erase_if(table_, [now_ms](const auto& e) { return now_ms >= e.second.until_ms; });
}

std::string format_revocation(const Revocation& r) {
    return std::to_string(r.until_ms) + ":" + std::to_string(r.iat_bound_s);
}

std::optional<Revocation> parse_revocation(std::string_view text) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    Revocation r;
    const std::string_view a = text.substr(0, colon), b = text.substr(colon + 1);
    auto [pa, ea] = std::from_chars(a.data(), a.data() + a.size(), r.until_ms);
    auto [pb, eb] = std::from_chars(b.data(), b.data() + b.size(), r.iat_bound_s);
    if (ea != std::errc{} || eb != std::errc{} || pa != a.data() + a.size() || pb != b.data() + b.size() || a.empty() ||
        b.empty())
        return std::nullopt;
    return r;
}

}  // namespace pushd
