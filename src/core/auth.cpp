// JWT verification and signing (see auth.hpp for the rules).
#include "core/auth.hpp"

#include <cJSON.h>
#include <jwt.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace pushd {

namespace {

// 2^53: beyond it a double no longer holds every integer exactly.
constexpr double kExactIntLimit = 9007199254740992.0;

struct JsonDeleter {
    void operator()(cJSON* json) const { cJSON_Delete(json); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

struct JwtDeleter {
    void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
};
using CharPtr = std::unique_ptr<char, FreeDeleter>;

// Value of one base64url character, or -1.
int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Splits a segment into its data characters and checks it: only base64url
// characters, then either no padding or exactly the '=' count that makes the
// length a multiple of 4; a data length of 4n+1 is impossible; the unused
// low bits of the last character must be zero. Returns the data part.
std::optional<std::string_view> segment_data(std::string_view seg) {
    size_t pad = 0;
    while (pad < seg.size() && seg[seg.size() - 1 - pad] == '=') pad++;
    std::string_view data = seg.substr(0, seg.size() - pad);
    size_t rem = data.size() % 4;
    if (rem == 1) return std::nullopt;
    if (pad != 0 && (pad > 2 || (data.size() + pad) % 4 != 0)) return std::nullopt;
    for (char c : data) {
        if (b64url_value(c) < 0) return std::nullopt;
    }
    if (rem != 0) {
        int last = b64url_value(data.back());
        int unused_mask = rem == 2 ? 0x0F : 0x03;
        if ((last & unused_mask) != 0) return std::nullopt;
    }
    return data;
}

// Decodes checked segment data (from segment_data) into bytes.
std::string b64url_decode(std::string_view data) {
    std::string out;
    out.reserve(data.size() * 3 / 4 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : data) {
        acc = (acc << 6) | static_cast<uint32_t>(b64url_value(c));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

// True when JSON text holds a \u0000 escape, which cJSON silently turns into
// a truncated string. Outside strings a backslash is invalid JSON anyway, so
// a plain scan that skips each escaped character is exact for valid input.
bool has_nul_escape(std::string_view json) {
    for (size_t i = 0; i + 1 < json.size(); i++) {
        if (json[i] != '\\') continue;
        if (json[i + 1] == 'u' && json.substr(i + 2, 4) == "0000") return true;
        i++;  // skip the escaped character (so "\\u0000" is not a match)
    }
    return false;
}

// Parses decoded segment bytes as one JSON object with no duplicate
// top-level member names (parsers disagree on which duplicate wins: jansson,
// inside libjwt, takes the last, cJSON the first). Returns null otherwise.
JsonPtr parse_object(const std::string& text) {
    if (text.find('\0') != std::string::npos || has_nul_escape(text)) return nullptr;
    // With require_null_terminated, cJSON wants the terminating NUL inside
    // the given length, and then refuses trailing non-space text.
    JsonPtr json(cJSON_ParseWithLengthOpts(text.c_str(), text.size() + 1, nullptr, 1));
    if (!json || !cJSON_IsObject(json.get())) return nullptr;
    // Sorted, not pairwise: an 8 KiB token can hold ~1,000 members.
    std::vector<std::string_view> names;
    for (const cJSON* item = json->child; item; item = item->next) {
        if (!item->string) return nullptr;
        names.emplace_back(item->string);
    }
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) return nullptr;
    return json;
}

// The member of `object` named exactly `name` (cJSON_GetObjectItem ignores
// case; this does not), or null.
const cJSON* member(const cJSON* object, std::string_view name) {
    for (const cJSON* item = object->child; item; item = item->next) {
        if (item->string && std::string_view(item->string) == name) return item;
    }
    return nullptr;
}

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Maps the header's alg to a libjwt alg; only the three HMAC names, exactly.
jwt_alg_t allowed_alg(const cJSON* alg) {
    if (!alg || !cJSON_IsString(alg) || !alg->valuestring) return JWT_ALG_INVAL;
    std::string_view name(alg->valuestring);
    if (name == "HS256") return JWT_ALG_HS256;
    if (name == "HS384") return JWT_ALG_HS384;
    if (name == "HS512") return JWT_ALG_HS512;
    return JWT_ALG_INVAL;
}

// True when a JSON number is finite and within +-2^53.
bool number_in_range(double v) { return std::isfinite(v) && std::fabs(v) <= kExactIntLimit; }

// True when `s` is valid UTF-8 (no overlongs, surrogates or values above
// U+10FFFF) and holds no control character (C0, DEL, C1).
bool clean_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto b0 = static_cast<unsigned char>(s[i]);
        uint32_t cp = 0;
        size_t len = 0;
        if (b0 < 0x80) {
            cp = b0;
            len = 1;
        } else if (b0 >= 0xC2 && b0 <= 0xDF) {
            cp = b0 & 0x1Fu;
            len = 2;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            cp = b0 & 0x0Fu;
            len = 3;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            cp = b0 & 0x07u;
            len = 4;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (size_t k = 1; k < len; k++) {
            auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;
        i += len;
    }
    return true;
}

// The user id held by a claim value, or nullopt (see auth.hpp step 8).
std::optional<std::string> user_from_claim(const cJSON* value) {
    if (cJSON_IsString(value) && value->valuestring) {
        std::string_view id(value->valuestring);
        if (!valid_user_id(id)) return std::nullopt;
        return std::string(id);
    }
    if (cJSON_IsNumber(value)) {
        double v = value->valuedouble;
        if (!std::isfinite(v) || std::fabs(v) >= kExactIntLimit || std::trunc(v) != v) {
            return std::nullopt;
        }
        return std::to_string(static_cast<int64_t>(v));
    }
    return std::nullopt;
}

// Builds a failed result.
AuthResult fail(AuthError error) {
    AuthResult result;
    result.error = error;
    return result;
}

// The three base64url segments of a compact JWS, or nullopt.
struct Segments {
    std::string_view signed_part;      // header.payload (the signed bytes)
    std::string_view head, body, sig;  // each segment's data, padding dropped
};

std::optional<Segments> split_segments(std::string_view token) {
    // Exactly three segments.
    size_t dot1 = token.find('.');
    if (dot1 == std::string_view::npos) return std::nullopt;
    size_t dot2 = token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos) return std::nullopt;
    if (token.find('.', dot2 + 1) != std::string_view::npos) return std::nullopt;
    auto head = segment_data(token.substr(0, dot1));
    auto body = segment_data(token.substr(dot1 + 1, dot2 - dot1 - 1));
    auto sig = segment_data(token.substr(dot2 + 1));
    if (!head || !body || !sig || head->empty() || body->empty()) return std::nullopt;
    return Segments{token.substr(0, dot2), *head, *body, *sig};
}

// The JOSE header, read by us before libjwt sees anything: the algorithm
// it names, or the error. `sig` is the signature segment's data.
AuthError check_header(std::string_view head, std::string_view sig, jwt_alg_t* alg_out) {
    JsonPtr header = parse_object(b64url_decode(head));
    if (!header) return AuthError::malformed;
    if (member(header.get(), "crit")) return AuthError::malformed;
    if (const cJSON* typ = member(header.get(), "typ")) {
        if (!cJSON_IsString(typ) || !typ->valuestring || !iequals(typ->valuestring, "JWT")) {
            return AuthError::malformed;
        }
    }
    jwt_alg_t alg = allowed_alg(member(header.get(), "alg"));
    if (alg == JWT_ALG_INVAL) return AuthError::alg_not_allowed;
    // An HMAC is 32, 48 or 64 bytes: 43, 64 or 86 base64url characters.
    size_t sig_chars = alg == JWT_ALG_HS256 ? 43 : alg == JWT_ALG_HS384 ? 64 : 86;
    if (sig.size() != sig_chars) return AuthError::bad_signature;
    *alg_out = alg;
    return AuthError::none;
}

// The signature, by libjwt. libjwt skips verification when the key is
// empty, so an empty secret verifies nothing; its key length is an int. The
// signature goes in without padding (libjwt compares unpadded base64url
// text); header and payload stay as given since they are the signed bytes.
AuthError check_signature(const Segments& seg, std::string_view secret, jwt_alg_t alg) {
    if (secret.empty() || secret.size() > static_cast<size_t>(INT_MAX)) return AuthError::bad_signature;
    std::string canonical(seg.signed_part);
    canonical.push_back('.');
    canonical.append(seg.sig);
    jwt_t* raw = nullptr;
    int rc = jwt_decode(&raw, canonical.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                        static_cast<int>(secret.size()));
    JwtPtr jwt(raw);
    if (rc != 0 || !jwt) return AuthError::bad_signature;
    if (jwt_get_alg(jwt.get()) != alg) return AuthError::alg_not_allowed;
    return AuthError::none;
}

// exp (required), nbf (optional), the user id; then time.
AuthResult read_claims(const cJSON* claims, std::string_view user_claim, int64_t now_s) {
    const cJSON* exp = member(claims, "exp");
    if (!exp || !cJSON_IsNumber(exp)) return fail(AuthError::missing_exp);
    if (!number_in_range(exp->valuedouble)) return fail(AuthError::malformed);
    auto exp_s = static_cast<int64_t>(std::floor(exp->valuedouble));

    std::optional<int64_t> nbf_s;
    if (const cJSON* nbf = member(claims, "nbf")) {
        if (!cJSON_IsNumber(nbf) || !number_in_range(nbf->valuedouble)) return fail(AuthError::malformed);
        nbf_s = static_cast<int64_t>(std::ceil(nbf->valuedouble));
    }

    const cJSON* user = user_claim.empty() ? nullptr : member(claims, user_claim);
    if (!user) user = member(claims, "sub");
    std::optional<std::string> user_id;
    if (user) user_id = user_from_claim(user);
    if (!user_id) return fail(AuthError::missing_user);

    if (now_s >= exp_s) return fail(AuthError::expired);
    if (nbf_s && now_s < *nbf_s) return fail(AuthError::not_yet_valid);

    AuthResult result;
    result.token.user_id = std::move(*user_id);
    result.token.exp_s = exp_s;
    // iat matters only to revocations (core/revocations): a token without a
    // usable one counts as issued before any revocation.
    if (const cJSON* iat = member(claims, "iat"); iat && cJSON_IsNumber(iat) && number_in_range(iat->valuedouble))
        result.token.iat_s = static_cast<int64_t>(std::ceil(iat->valuedouble));
    return result;
}

}  // namespace

bool valid_user_id(std::string_view id) { return !id.empty() && id.size() <= kMaxUserIdBytes && clean_utf8(id); }

AuthResult verify_token(std::string_view token, std::string_view secret, std::string_view user_claim, int64_t now_s) {
    if (token.empty()) return fail(AuthError::missing_token);
    if (token.size() > kMaxTokenBytes) return fail(AuthError::malformed);
    std::optional<Segments> seg = split_segments(token);
    if (!seg) return fail(AuthError::malformed);
    jwt_alg_t alg = JWT_ALG_INVAL;
    if (AuthError e = check_header(seg->head, seg->sig, &alg); e != AuthError::none) return fail(e);
    JsonPtr claims = parse_object(b64url_decode(seg->body));
    if (!claims) return fail(AuthError::malformed);
    if (AuthError e = check_signature(*seg, secret, alg); e != AuthError::none) return fail(e);
    return read_claims(claims.get(), user_claim, now_s);
}

const char* auth_error_message(AuthError error) {
    switch (error) {
    case AuthError::none: return "";
    case AuthError::missing_token: return "missing token";
    case AuthError::malformed:
    case AuthError::alg_not_allowed:
    case AuthError::bad_signature:
    case AuthError::missing_user: return "invalid token";
    case AuthError::expired: return "token expired";
    case AuthError::not_yet_valid: return "token not yet valid";
    case AuthError::missing_exp: return "token has no exp";
    case AuthError::revoked: return "token revoked";
    }
    return "invalid token";
}

const char* auth_error_label(AuthError error) {
    switch (error) {
    case AuthError::none: return "ok";
    case AuthError::missing_token: return "missing";
    case AuthError::malformed: return "malformed";
    case AuthError::alg_not_allowed: return "alg";
    case AuthError::bad_signature: return "signature";
    case AuthError::expired: return "expired";
    case AuthError::not_yet_valid: return "nbf";
    case AuthError::missing_exp: return "no_exp";
    case AuthError::missing_user: return "no_user";
    case AuthError::revoked: return "revoked";
    }
    return "malformed";
}

std::string sign_token(std::string_view secret, std::string_view user_claim, std::string_view user_id, int64_t iat_s,
                       int64_t exp_s) {
    static_assert(sizeof(long) >= sizeof(int64_t), "jwt_add_grant_int takes a long");
    if (secret.empty() || secret.size() > static_cast<size_t>(INT_MAX)) return "";
    if (user_claim.empty() || user_claim.find('\0') != std::string_view::npos) return "";
    if (user_claim == "exp" || user_claim == "iat") return "";
    if (!valid_user_id(user_id)) return "";
    constexpr auto kLimit = static_cast<int64_t>(kExactIntLimit);
    if (exp_s > kLimit || exp_s < -kLimit || iat_s > kLimit || iat_s < -kLimit) return "";

    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0 || !raw) return "";
    JwtPtr jwt(raw);
    std::string claim(user_claim);
    std::string id(user_id);
    if (jwt_add_grant(jwt.get(), claim.c_str(), id.c_str()) != 0) return "";
    if (jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(exp_s)) != 0) return "";
    if (jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(iat_s)) != 0) return "";
    if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                    static_cast<int>(secret.size())) != 0) {
        return "";
    }
    CharPtr encoded(jwt_encode_str(jwt.get()));
    if (!encoded) return "";
    return std::string(encoded.get());
}

}  // namespace pushd
