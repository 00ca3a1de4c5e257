// JWT verification for `auth` and the handshake token, and signing for
// `pushctl token` (PROTOCOL.md sections 3, 5 Auth, 8).
//
// Pure: the caller passes `now`; no clocks, no I/O. Verification is strict
// and does not trust libjwt alone (libjwt 1.10 accepts any token unchecked
// when given an empty key, matches alg names case-insensitively, lets a later
// duplicate "alg" win, and accepts non-object payloads), so the token is
// checked here first:
//
//   1. empty -> missing_token; over kMaxTokenBytes -> malformed.
//   2. Exactly three '.'-separated segments of base64url (A-Z a-z 0-9 - _),
//      each unpadded or correctly '='-padded; unused trailing bits must be
//      zero; header and payload non-empty. Anything else -> malformed.
//      No trimming: the caller strips "Bearer " and whitespace.
//   3. The header decodes to a JSON object with no duplicate top-level keys,
//      no "crit" (no extensions are understood), a "typ" if any that is the
//      string "JWT" (any case; libjwt 1.10 refuses other typ values), no NUL
//      byte and no \u0000 escape -> else malformed.
//   4. Header "alg" is exactly "HS256", "HS384" or "HS512" (case-sensitive
//      string) -> else alg_not_allowed (missing, non-string, none, RS256...).
//   5. A signature segment that is empty or not the length of the alg's
//      HMAC (43, 64, 86 characters unpadded) -> bad_signature.
//   6. The payload decodes to a JSON object under the rules of step 3
//      (duplicate keys, NUL) -> else malformed.
//   7. An empty secret -> bad_signature (libjwt would skip verification).
//      libjwt jwt_decode with the secret fails -> bad_signature; the alg
//      libjwt used must equal the header's -> else alg_not_allowed.
//   8. Claims, read from our own parse of the signed payload bytes:
//      - exp: a JSON number, else missing_exp (absent, string, null, bool).
//        Fractions are rounded DOWN to whole seconds (a token never lives
//        longer than it says); a non-finite value or |exp| > 2^53 is
//        malformed (so exp_s * 1000 cannot overflow).
//      - nbf (optional): a JSON number, else malformed; fractions rounded UP;
//        |nbf| > 2^53 malformed.
//      - user: the member named `user_claim` if present (even with a wrong
//        type: then missing_user, no fallback), else "sub". A string of
//        1..kMaxUserIdBytes bytes of valid UTF-8 without control characters
//        (C0, DEL, C1), or a JSON number with an integral value and
//        |v| < 2^53 (then its decimal string: 42 -> "42", 4.2e1 -> "42").
//        Anything else -> missing_user.
//      - then time, with NO leeway: now_s >= exp_s -> expired;
//        now_s < nbf -> not_yet_valid. Structural claim errors are reported
//        before time errors, so "token expired" means a fresh token helps.
//      - iat (optional): kept when a number (for revocations), else ignored.
//      iss, aud, kid and other members are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

// Longest token accepted; longer ones are malformed before any decoding.
inline constexpr size_t kMaxTokenBytes = 8192;
// Longest user id (string form) accepted from a token or signed into one.
inline constexpr size_t kMaxUserIdBytes = 128;

enum class AuthError {
    none,
    missing_token,    // empty token
    malformed,        // not a well-formed JWT, or a claim of a wrong type
    alg_not_allowed,  // header alg not exactly HS256/HS384/HS512
    bad_signature,    // signature empty or not made with the secret
    expired,          // now_s >= exp
    not_yet_valid,    // now_s < nbf
    missing_exp,      // no exp, or exp is not a number
    missing_user,     // no usable user id claim
    revoked,          // refused by a revocation (core/revocations), not by verify_token
};

struct VerifiedToken {
    std::string user_id;  // never empty on success
    int64_t exp_s = 0;    // seconds since the epoch, |exp_s| <= 2^53
    // iat when it is a number (rounded up: a revocation bound never covers
    // a token issued in a later second); nullopt without one.
    std::optional<int64_t> iat_s;
};

struct AuthResult {
    AuthError error = AuthError::none;
    VerifiedToken token;  // filled only when error == none
};

/* True when `id` may be a user id (a token's user claim, a signed user, a
 * pushctl --from): 1..kMaxUserIdBytes of valid UTF-8 without control
 * characters (C0, DEL, C1). */
bool valid_user_id(std::string_view id);

/* Verifies an HS256/HS384/HS512 JWT against `secret` at time `now_s`
 * (seconds since the epoch) following the steps in the comment at the top of
 * this file. The user id comes from claim `user_claim` (an empty name means
 * only "sub" is used), else "sub". Never throws; any input is safe. On
 * success `token` holds the user id and exp; on failure it is empty. */
AuthResult verify_token(std::string_view token, std::string_view secret, std::string_view user_claim, int64_t now_s);

/* The text sent in auth_failed.data.message for `error`: "invalid token"
 * (malformed, alg_not_allowed, bad_signature, missing_user), "token expired",
 * "token not yet valid", "token has no exp", "missing token"; "" for none.
 * Static storage; never NULL. */
const char* auth_error_message(AuthError error);

/* A short stable label for metrics: "malformed", "alg", "signature",
 * "expired", "nbf", "no_exp", "no_user", "missing"; "ok" for none.
 * Static storage; never NULL. */
const char* auth_error_label(AuthError error);

/* Signs an HS256 token whose payload is
 * {user_claim: user_id (a string), "exp": exp_s, "iat": iat_s}.
 * Returns "" when it cannot produce a token verify_token would accept for
 * some `now`: an empty secret, an empty `user_claim` or one named "exp" or
 * "iat" or holding a NUL, a user id verify_token would refuse (empty, longer
 * than kMaxUserIdBytes, invalid UTF-8, control characters), |exp_s| or
 * |iat_s| > 2^53, or a libjwt failure. */
std::string sign_token(std::string_view secret, std::string_view user_claim, std::string_view user_id, int64_t iat_s,
                       int64_t exp_s);

}  // namespace pushd
