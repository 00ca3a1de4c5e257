// Revoked tokens (PROTOCOL.md section 9, /api/revoke): for N seconds, a
// user's tokens whose `iat` is not after the revocation's second, or that
// have no `iat`, are refused. Pure: every instance keeps one table, filled
// from Redis at start (io/redis_control) and from the bus's revoke entries,
// and asks it at `auth` and at the handshake, without a Redis round trip.
#pragma once

#include "core/auth.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pushd {

// Users with a revocation in effect, at most: a revoke beyond it that finds
// no expired entry to replace is not kept (Revocations::add says so).
inline constexpr size_t kMaxRevocations = 1'000'000;

struct Revocation {
    int64_t until_ms = 0;     // in effect before this wall-clock time
    int64_t iat_bound_s = 0;  // tokens issued at or before this second are refused
};

class Revocations {
public:
    /* Records a revocation of `user_id`'s tokens; a later one for the same
     * user replaces it when it lasts longer or covers newer tokens (the
     * union of both: the later end, the later bound). False when the table
     * is full of revocations still in effect. */
    bool add(std::string_view user_id, Revocation r, int64_t now_ms);

    /* True when `token` is refused at `now_ms`. */
    bool refuses(const VerifiedToken& token, int64_t now_ms) const;

    /* Forgets the revocations that ended before `now_ms`. */
    void prune(int64_t now_ms);

    size_t size() const { return table_.size(); }

private:
    std::unordered_map<std::string, Revocation> table_;
};

/* "<until_ms>:<iat_bound_s>": a revocation as Redis keeps it (the hash
 * field of its user), and back. nullopt when `text` is not that. */
std::string format_revocation(const Revocation& r);
std::optional<Revocation> parse_revocation(std::string_view text);

}  // namespace pushd
