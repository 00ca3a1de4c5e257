// JWTs for tests: properly signed ones (libjwt), unsigned `alg: none` ones,
// expired or not-yet-valid ones, and hand-made ones with any header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pushd::test {

// Signs `claims_json` (a JSON object, e.g. {"userId":"42","exp":1900000000})
// with `secret` using `alg`: "HS256", "HS384", "HS512", or "none" (an
// unsigned token "<header>.<payload>." with header {"alg":"none"}).
// Returns "" when libjwt refuses (bad JSON, unknown alg).
std::string make_token(const std::string& secret, const std::string& claims_json, const std::string& alg = "HS256");

// A token assembled by hand: base64url(header_json) "." base64url(payload_json)
// "." signature (given already encoded; may be empty). For headers libjwt
// will not produce (e.g. {"alg":"RS256"} with a made-up signature).
std::string make_raw_token(const std::string& header_json, const std::string& payload_json,
                           const std::string& signature_b64url = "");

// Claims for user `user_id` (a string claim; set `numeric_id` to write it as
// a JSON number), under claim name `claim`, with iat = now, exp = now +
// exp_in_s (negative: already expired) and, when given, nbf = now + nbf_in_s
// (positive: not valid yet).
std::string user_claims(const std::string& user_id, int64_t exp_in_s = 3600,
                        std::optional<int64_t> nbf_in_s = std::nullopt, const std::string& claim = "userId",
                        bool numeric_id = false);

// make_token(secret, user_claims(user_id, ttl_s)): a valid HS256 token for
// the standard test configuration.
std::string user_token(const std::string& user_id, int64_t ttl_s = 3600,
                       const std::string& secret = "test-secret-0123456789abcdef-0123456789");

// base64url without padding, as JWTs use it.
std::string base64url(const std::string& bytes);

}  // namespace pushd::test
