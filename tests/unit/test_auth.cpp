// Unit tests for core/auth: JWT verification and signing.
//
// Tokens with hand-written headers and payloads are signed here with a small
// HMAC-SHA256 (checked against RFC 4231 and against libjwt), so each test
// can make exactly the bytes it needs while the signature stays valid: a
// refusal then comes from the rule under test, not from a bad signature.
#include <jwt.h>
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/auth.hpp"

using pushd::AuthError;
using pushd::AuthResult;
using pushd::sign_token;
using pushd::verify_token;

namespace {

constexpr int64_t kNow = 1700000000;
const std::string kSecret = "test-secret-0123456789abcdef";

// --- SHA-256 and HMAC (FIPS 180-4, RFC 2104) for building test tokens ---

std::array<uint8_t, 32> sha256(const std::string& msg) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::string data = msg;
    uint64_t bit_len = static_cast<uint64_t>(msg.size()) * 8;
    data.push_back(static_cast<char>(0x80));
    while (data.size() % 64 != 56) data.push_back('\0');
    for (int i = 7; i >= 0; i--) data.push_back(static_cast<char>((bit_len >> (i * 8)) & 0xFF));
    auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
    for (size_t off = 0; off < data.size(); off += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) {
            w[i] = 0;
            for (int b = 0; b < 4; b++) {
                w[i] = (w[i] << 8) | static_cast<uint8_t>(data[off + static_cast<size_t>(i * 4 + b)]);
            }
        }
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
    std::array<uint8_t, 32> out{};
    for (int i = 0; i < 8; i++) {
        for (int b = 0; b < 4; b++) {
            out[static_cast<size_t>(i * 4 + b)] = static_cast<uint8_t>(h[i] >> (24 - b * 8));
        }
    }
    return out;
}

std::string hmac_sha256(std::string key, const std::string& msg) {
    if (key.size() > 64) {
        auto d = sha256(key);
        key.assign(d.begin(), d.end());
    }
    key.resize(64, '\0');
    std::string ipad(64, '\0'), opad(64, '\0');
    for (size_t i = 0; i < 64; i++) {
        ipad[i] = static_cast<char>(key[i] ^ 0x36);
        opad[i] = static_cast<char>(key[i] ^ 0x5c);
    }
    auto inner = sha256(ipad + msg);
    auto outer = sha256(opad + std::string(inner.begin(), inner.end()));
    return std::string(outer.begin(), outer.end());
}

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::string b64url(const std::string& in, bool pad = false) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    auto byte = [&](size_t j) { return static_cast<uint32_t>(static_cast<uint8_t>(in[j])); };
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int s = 18; s >= 0; s -= 6) out.push_back(alphabet[(v >> s) & 63]);
    }
    if (in.size() - i == 1) {
        uint32_t v = byte(i) << 16;
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 63]);
        if (pad) out += "==";
    } else if (in.size() - i == 2) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        if (pad) out += "=";
    }
    return out;
}

// An HS256-signed token with exactly this header and payload JSON text.
std::string hs256(const std::string& header, const std::string& payload, const std::string& secret = kSecret,
                  bool pad = false) {
    std::string input = b64url(header, pad) + "." + b64url(payload, pad);
    return input + "." + b64url(hmac_sha256(secret, input), pad);
}

// An HS256 token with the standard header and this payload.
std::string with_payload(const std::string& payload) { return hs256(R"({"alg":"HS256","typ":"JWT"})", payload); }

// A token made by libjwt itself with `alg` and the grants in `grants_json`.
std::string libjwt_token(jwt_alg_t alg, const std::string& grants_json, const std::string& secret = kSecret) {
    jwt_t* jwt = nullptr;
    REQUIRE(jwt_new(&jwt) == 0);
    REQUIRE(jwt_add_grants_json(jwt, grants_json.c_str()) == 0);
    REQUIRE(jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(secret.data()),
                        static_cast<int>(secret.size())) == 0);
    char* text = jwt_encode_str(jwt);
    REQUIRE(text != nullptr);
    std::string token(text);
    std::free(text);
    jwt_free(jwt);
    return token;
}

// The three segments of a token.
std::vector<std::string> split(const std::string& token) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t dot = token.find('.', start);
        parts.push_back(token.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return parts;
}

AuthError verify(const std::string& token, const std::string& claim = "userId", int64_t now = kNow) {
    return verify_token(token, kSecret, claim, now).error;
}

const std::string kGoodPayload = R"({"userId":"u1","exp":1700003600,"iat":1699990000})";

}  // namespace

TEST_CASE("test HMAC-SHA256 matches RFC 4231 and libjwt", "[auth]") {
    // RFC 4231 test case 2.
    CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // RFC 4231 test case 6 (key longer than the block).
    CHECK(hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // Same signature as libjwt over the same header and payload.
    std::string lib = libjwt_token(JWT_ALG_HS256, R"({"userId":"u1","exp":1700003600})");
    auto parts = split(lib);
    REQUIRE(parts.size() == 3);
    CHECK(b64url(hmac_sha256(kSecret, parts[0] + "." + parts[1])) == parts[2]);
}

TEST_CASE("verify_token accepts HS256, HS384 and HS512", "[auth]") {
    const std::string grants = R"({"userId":"u1","exp":1700003600})";
    for (jwt_alg_t alg : {JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512}) {
        CAPTURE(jwt_alg_str(alg));
        AuthResult r = verify_token(libjwt_token(alg, grants), kSecret, "userId", kNow);
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "u1");
        CHECK(r.token.exp_s == 1700003600);
    }
    SECTION("a hand-built HS256 token, with and without typ") {
        CHECK(verify(with_payload(kGoodPayload)) == AuthError::none);
        CHECK(verify(hs256(R"({"alg":"HS256"})", kGoodPayload)) == AuthError::none);
        CHECK(verify(hs256(R"({"typ":"jwt","alg":"HS256","kid":"k1"})", kGoodPayload)) == AuthError::none);
    }
    SECTION("base64url with padding is accepted too") {
        std::string padded = hs256(R"({"alg":"HS256"})", kGoodPayload, kSecret, true);
        REQUIRE(padded.find('=') != std::string::npos);
        CHECK(verify(padded) == AuthError::none);
        // Padding only on the signature.
        std::string token = libjwt_token(JWT_ALG_HS256, R"({"userId":"u1","exp":1700003600})");
        CHECK(verify(token + "=") == AuthError::none);  // 43 chars + one '='
        CHECK(verify(token + "==") == AuthError::malformed);
    }
    SECTION("a secret holding any bytes") {
        std::string secret("k\0\xff y", 5);
        std::string token = hs256(R"({"alg":"HS256"})", kGoodPayload, secret);
        CHECK(verify_token(token, secret, "userId", kNow).error == AuthError::none);
        CHECK(verify_token(token, "k", "userId", kNow).error == AuthError::bad_signature);
    }
}

TEST_CASE("verify_token refuses every algorithm but HS256/384/512", "[auth]") {
    const std::string payload = R"({"userId":"u1","exp":1700003600})";
    const std::string body = b64url(payload);

    SECTION("alg none, unsigned, even with an empty secret") {
        std::string token = "eyJhbGciOiJub25lIn0." + body + ".";
        CHECK(verify(token) == AuthError::alg_not_allowed);
        CHECK(verify_token(token, "", "userId", kNow).error == AuthError::alg_not_allowed);
        // libjwt alone would accept this token when given no key.
        jwt_t* jwt = nullptr;
        CHECK(jwt_decode(&jwt, token.c_str(), nullptr, 0) == 0);
        jwt_free(jwt);
    }
    SECTION("none in any case, signed or not") {
        for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
            CAPTURE(alg);
            std::string header = std::string(R"({"alg":")") + alg + "\"}";
            CHECK(verify(hs256(header, payload)) == AuthError::alg_not_allowed);
            CHECK(verify(b64url(header) + "." + body + ".") == AuthError::alg_not_allowed);
        }
    }
    SECTION("asymmetric algs with an HMAC signature made with the secret") {
        for (const char* alg : {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"}) {
            CAPTURE(alg);
            std::string header = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
            CHECK(verify(hs256(header, payload)) == AuthError::alg_not_allowed);
        }
    }
    SECTION("near misses of the allowed names") {
        for (const char* alg : {"hs256", "Hs256", "HS256 ", " HS256", "HS255", "HS", "", "HMAC"}) {
            CAPTURE(alg);
            std::string header = std::string(R"({"alg":")") + alg + "\"}";
            CHECK(verify(hs256(header, payload)) == AuthError::alg_not_allowed);
        }
    }
    SECTION("alg missing or not a string") {
        for (const char* header :
             {R"({"typ":"JWT"})", R"({})", R"({"alg":256})", R"({"alg":null})", R"({"alg":["HS256"]})",
              R"({"alg":{"name":"HS256"}})", R"({"alg":true})", R"({"ALG":"HS256"})"}) {
            CAPTURE(header);
            CHECK(verify(hs256(header, payload)) == AuthError::alg_not_allowed);
        }
    }
    SECTION("duplicate alg members are malformed (libjwt takes the last one)") {
        CHECK(verify(hs256(R"({"alg":"HS256","alg":"none"})", payload)) == AuthError::malformed);
        CHECK(verify(hs256(R"({"alg":"none","alg":"HS256"})", payload)) == AuthError::malformed);
        CHECK(verify(hs256(R"({"alg":"HS256","al\u0067":"HS384"})", payload)) == AuthError::malformed);
    }
}

TEST_CASE("verify_token checks the signature", "[auth]") {
    const std::string token = with_payload(kGoodPayload);
    REQUIRE(verify(token) == AuthError::none);
    auto parts = split(token);

    SECTION("wrong secret") {
        CHECK(verify_token(token, "other-secret", "userId", kNow).error == AuthError::bad_signature);
        CHECK(verify_token(token, kSecret + "x", "userId", kNow).error == AuthError::bad_signature);
    }
    SECTION("empty secret verifies nothing") {
        std::string signed_empty = hs256(R"({"alg":"HS256"})", kGoodPayload, "");
        CHECK(verify_token(signed_empty, "", "userId", kNow).error == AuthError::bad_signature);
        CHECK(verify_token(token, "", "userId", kNow).error == AuthError::bad_signature);
    }
    SECTION("tampered payload") {
        std::string forged = b64url(R"({"userId":"admin","exp":1700003600,"iat":1699990000})");
        CHECK(verify(parts[0] + "." + forged + "." + parts[2]) == AuthError::bad_signature);
        std::string longer = b64url(R"({"userId":"u1","exp":9999999999,"iat":1699990000})");
        CHECK(verify(parts[0] + "." + longer + "." + parts[2]) == AuthError::bad_signature);
    }
    SECTION("tampered header") {
        for (const char* header : {R"({"alg":"HS256"})", R"({"alg":"HS384","typ":"JWT"})",
                                   R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS256","typ":"JWT","kid":"x"})"}) {
            CAPTURE(header);
            CHECK(verify(b64url(header) + "." + parts[1] + "." + parts[2]) == AuthError::bad_signature);
        }
    }
    SECTION("signed with HS384 or HS512 but the header says otherwise") {
        const std::string grants = R"({"userId":"u1","exp":1700003600})";
        auto t384 = split(libjwt_token(JWT_ALG_HS384, grants));
        auto t512 = split(libjwt_token(JWT_ALG_HS512, grants));
        auto t256 = split(libjwt_token(JWT_ALG_HS256, grants));
        // Same payload: only the header's alg differs.
        CHECK(verify(t256[0] + "." + t384[1] + "." + t384[2]) == AuthError::bad_signature);
        CHECK(verify(t256[0] + "." + t512[1] + "." + t512[2]) == AuthError::bad_signature);
        CHECK(verify(t384[0] + "." + t256[1] + "." + t256[2]) == AuthError::bad_signature);
        CHECK(verify(t512[0] + "." + t384[1] + "." + t384[2]) == AuthError::bad_signature);
    }
    SECTION("empty, truncated, extended or borrowed signature") {
        CHECK(verify(parts[0] + "." + parts[1] + ".") == AuthError::bad_signature);
        CHECK(verify(parts[0] + "." + parts[1] + "." + parts[2].substr(0, 40)) == AuthError::bad_signature);
        CHECK(verify(parts[0] + "." + parts[1] + "." + parts[2] + "AAAA") == AuthError::bad_signature);
        auto other = split(with_payload(R"({"userId":"u2","exp":1700003600})"));
        CHECK(verify(parts[0] + "." + parts[1] + "." + other[2]) == AuthError::bad_signature);
        // Any other change to the signature (keeping its unused bits zero).
        std::string sig = parts[2];
        sig[0] = sig[0] == 'A' ? 'B' : 'A';
        CHECK(verify(parts[0] + "." + parts[1] + "." + sig) == AuthError::bad_signature);
    }
}

TEST_CASE("verify_token refuses malformed tokens", "[auth]") {
    const std::string token = with_payload(kGoodPayload);
    auto parts = split(token);

    SECTION("empty is missing, not malformed") { CHECK(verify("") == AuthError::missing_token); }
    SECTION("segment structure") {
        for (const std::string& bad :
             {std::string("abc"), std::string("."), std::string(".."), std::string("..."), std::string("a.b"),
              parts[0] + "." + parts[1], parts[0] + "." + parts[1] + "." + parts[2] + ".",
              parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2], "." + parts[1] + "." + parts[2],
              parts[0] + ".." + parts[2], "Bearer " + token, " " + token, token + " ", token + "\n",
              parts[0] + ". " + parts[1] + "." + parts[2]}) {
            CAPTURE(bad);
            CHECK(verify(bad) == AuthError::malformed);
        }
    }
    SECTION("characters outside base64url (libb64 in libjwt skips them)") {
        for (char c : {'+', '/', '!', '*', '\0', '\x80', '\xff', '=', ' ', '~'}) {
            CAPTURE(static_cast<int>(static_cast<unsigned char>(c)));
            std::string bad = parts[0] + "." + parts[1];
            bad.insert(bad.size() - 3, 1, c);
            bad += "." + parts[2];
            CHECK(verify(bad) == AuthError::malformed);
        }
        std::string with_nul = token;
        with_nul.insert(5, 1, '\0');
        CHECK(verify(with_nul) == AuthError::malformed);
    }
    SECTION("impossible base64 lengths and bad padding") {
        CHECK(verify(parts[0] + "A." + parts[1] + "." + parts[2]) == AuthError::malformed);
        CHECK(verify(parts[0] + "." + parts[1] + "." + parts[2] + "AB") == AuthError::malformed);
        CHECK(verify(parts[0] + "=." + parts[1] + "." + parts[2]) == AuthError::malformed);
        CHECK(verify(parts[0] + "." + parts[1] + "===." + parts[2]) == AuthError::malformed);
        CHECK(verify("====." + parts[1] + "." + parts[2]) == AuthError::malformed);
    }
    SECTION("unused trailing bits set") {
        // The header {"alg":"HS256","x":12} encodes to 30 characters ending
        // in "fQ": the final 'Q' carries 4 unused bits, all zero. 'R' sets
        // one; the decoded bytes stay the same, so without the check this
        // would be a bad signature rather than malformed.
        auto good = split(hs256(R"({"alg":"HS256","x":12})", kGoodPayload));
        REQUIRE(verify(good[0] + "." + good[1] + "." + good[2]) == AuthError::none);
        REQUIRE(good[0].size() % 4 == 2);
        REQUIRE(good[0].back() == 'Q');
        good[0].back() = 'R';
        CHECK(verify(good[0] + "." + good[1] + "." + good[2]) == AuthError::malformed);
    }
    SECTION("header or payload not a JSON object") {
        for (const char* text : {"", "x", "[]", "[1]", "\"s\"", "42", "null", "{", "{}}", "{\"a\":1,}", "{\"a\":1} x",
                                 "{'alg':'HS256'}"}) {
            CAPTURE(text);
            CHECK(verify(hs256(text, kGoodPayload)) == AuthError::malformed);
            CHECK(verify(hs256(R"({"alg":"HS256"})", text)) == AuthError::malformed);
        }
    }
    SECTION("duplicate members, NUL bytes, \\u0000 escapes") {
        CHECK(verify(with_payload(R"({"userId":"u1","userId":"admin","exp":1700003600})")) == AuthError::malformed);
        CHECK(verify(with_payload(R"({"userId":"u1","exp":1700003600,"exp":1900000000})")) == AuthError::malformed);
        CHECK(verify(with_payload(R"({"userId":"admin\u0000x","exp":1700003600})")) == AuthError::malformed);
        CHECK(verify(with_payload(std::string("{\"userId\":\"u1\",\"exp\":1700003600}\0x", 34))) ==
              AuthError::malformed);
        // An escaped backslash followed by u0000 is ordinary text.
        CHECK(verify(with_payload(R"({"userId":"a\\u0000","exp":1700003600})")) == AuthError::none);
        CHECK(verify(hs256(R"({"alg":"HS256","x":"\u0000"})", kGoodPayload)) == AuthError::malformed);
    }
    SECTION("header crit and typ") {
        CHECK(verify(hs256(R"({"alg":"HS256","crit":["b64"],"b64":false})", kGoodPayload)) == AuthError::malformed);
        CHECK(verify(hs256(R"({"alg":"HS256","typ":"at+jwt"})", kGoodPayload)) == AuthError::malformed);
        CHECK(verify(hs256(R"({"alg":"HS256","typ":5})", kGoodPayload)) == AuthError::malformed);
        CHECK(verify(hs256(R"({"alg":"HS256","typ":"Jwt"})", kGoodPayload)) == AuthError::none);
    }
    SECTION("length limit") {
        // Grow a validly signed token to exactly the limit, then one past it.
        std::string base = R"({"userId":"u1","exp":1700003600,"pad":""})";
        size_t fixed = with_payload(base).size();
        // 4 payload bytes add 3 base64 bytes... search for the exact fit.
        std::string at_limit, over_limit;
        for (size_t n = (pushd::kMaxTokenBytes - fixed) * 3 / 4 - 8; n < pushd::kMaxTokenBytes; n++) {
            std::string t = with_payload(R"({"userId":"u1","exp":1700003600,"pad":")" + std::string(n, 'x') + "\"}");
            if (t.size() <= pushd::kMaxTokenBytes) at_limit = t;
            if (t.size() > pushd::kMaxTokenBytes) {
                over_limit = t;
                break;
            }
        }
        REQUIRE(at_limit.size() > pushd::kMaxTokenBytes - 4);
        REQUIRE(over_limit.size() <= pushd::kMaxTokenBytes + 4);
        CHECK(verify(at_limit) == AuthError::none);
        CHECK(verify(over_limit) == AuthError::malformed);
        CHECK(verify(std::string(1 << 20, 'A')) == AuthError::malformed);
    }
}

TEST_CASE("verify_token requires exp and enforces it without leeway", "[auth]") {
    auto at = [](const std::string& exp_json, int64_t now = kNow) {
        return verify(with_payload(R"({"userId":"u1","exp":)" + exp_json + "}"), "userId", now);
    };
    SECTION("missing or not a number") {
        CHECK(verify(with_payload(R"({"userId":"u1"})")) == AuthError::missing_exp);
        CHECK(verify(with_payload(R"({"userId":"u1","EXP":1800000000})")) == AuthError::missing_exp);
        for (const char* exp : {"\"1800000000\"", "null", "true", "[1800000000]", "{\"v\":1800000000}"}) {
            CAPTURE(exp);
            CHECK(at(exp) == AuthError::missing_exp);
        }
    }
    SECTION("past, now, future") {
        CHECK(at("1699999999") == AuthError::expired);
        CHECK(at("1700000000") == AuthError::expired);
        CHECK(at("1700000001") == AuthError::none);
        CHECK(at("0") == AuthError::expired);
        CHECK(at("-5") == AuthError::expired);
        CHECK(at("1700000001", 1700000001) == AuthError::expired);
    }
    SECTION("floats") {
        // Integral-valued floats are exact.
        AuthResult r = verify_token(with_payload(R"({"userId":"u1","exp":1.8e9})"), kSecret, "userId", kNow);
        CHECK(r.error == AuthError::none);
        CHECK(r.token.exp_s == 1800000000);
        CHECK(at("1700000001.0") == AuthError::none);
        // Fractions round down: the token never lives longer than it says.
        CHECK(at("1700000000.9") == AuthError::expired);
        CHECK(at("1700000001.5", 1700000001) == AuthError::expired);
        r = verify_token(with_payload(R"({"userId":"u1","exp":1800000000.75})"), kSecret, "userId", kNow);
        CHECK(r.token.exp_s == 1800000000);
    }
    SECTION("out of range is malformed") {
        CHECK(at("1e300") == AuthError::malformed);
        // cJSON reads 1e999 as +inf (malformed here), but jansson inside
        // libjwt refuses the payload first, so libjwt 1.10 reports it as a
        // bad signature: only "refused" is pinned.
        CHECK(at("1e999") != AuthError::none);
        CHECK(at("-1e999") != AuthError::none);
        CHECK(at("9007199254740994") == AuthError::malformed);  // 2^53 + 2
        CHECK(at("1e16") == AuthError::malformed);
        CHECK(at("9007199254740992") == AuthError::none);  // 2^53 itself is allowed
    }
    SECTION("exp_s is reported") {
        AuthResult r = verify_token(with_payload(kGoodPayload), kSecret, "userId", kNow);
        CHECK(r.error == AuthError::none);
        CHECK(r.token.exp_s == 1700003600);
    }
}

TEST_CASE("verify_token honours nbf", "[auth]") {
    auto at = [](const std::string& nbf_json, int64_t now = kNow) {
        return verify(with_payload(R"({"userId":"u1","exp":1700003600,"nbf":)" + nbf_json + "}"), "userId", now);
    };
    CHECK(at("1700000001") == AuthError::not_yet_valid);
    CHECK(at("1700000000") == AuthError::none);
    CHECK(at("1690000000") == AuthError::none);
    CHECK(at("1700000001", 1700000001) == AuthError::none);
    // Fractions round up.
    CHECK(at("1700000000.5") == AuthError::not_yet_valid);
    CHECK(at("1699999999.5") == AuthError::none);
    CHECK(at("1.7e9") == AuthError::none);
    SECTION("wrong type or range is malformed") {
        for (const char* nbf : {"\"1690000000\"", "null", "false", "[]", "{}", "1e300", "-1e17"}) {
            CAPTURE(nbf);
            CHECK(at(nbf) == AuthError::malformed);
        }
        CHECK(at("1e999") != AuthError::none);  // jansson refuses it (see exp)
    }
    SECTION("expired wins over not yet valid") {
        CHECK(verify(with_payload(R"({"userId":"u1","exp":1600000000,"nbf":1800000000})")) == AuthError::expired);
    }
}

TEST_CASE("verify_token reads the user id", "[auth]") {
    auto user = [](const std::string& claims, const std::string& claim = "userId") {
        return verify_token(with_payload("{" + claims + R"(,"exp":1700003600})"), kSecret, claim, kNow);
    };
    SECTION("string user id") {
        AuthResult r = user(R"("userId":"alice")");
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "alice");
        r = user(R"("userId":"\u30e6\u30fc\u30b6")");
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6");
        CHECK(user("\"userId\":\"" + std::string(128, 'a') + "\"").error == AuthError::none);
    }
    SECTION("integer user id becomes its decimal string") {
        AuthResult r = user(R"("userId":42)");
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "42");
        CHECK(user(R"("userId":0)").token.user_id == "0");
        CHECK(user(R"("userId":-7)").token.user_id == "-7");
        CHECK(user(R"("userId":4.2e1)").token.user_id == "42");
        CHECK(user(R"("userId":123.0)").token.user_id == "123");
        CHECK(user(R"("userId":9007199254740991)").token.user_id == "9007199254740991");
        CHECK(user(R"("userId":-9007199254740991)").token.user_id == "-9007199254740991");
    }
    SECTION("unusable user ids") {
        for (const std::string& claims :
             {std::string(R"("userId":"")"), "\"userId\":\"" + std::string(129, 'a') + "\"",
              std::string(R"("userId":"a\nb")"), std::string(R"("userId":"a\tb")"), std::string(R"("userId":"\u007f")"),
              std::string(R"("userId":"x\u0085")"), std::string(R"("userId":42.5)"),
              std::string(R"("userId":9007199254740992)"), std::string(R"("userId":1e300)"),
              std::string(R"("userId":true)"), std::string(R"("userId":null)"), std::string(R"("userId":["u1"])"),
              std::string(R"("userId":{"id":"u1"})"), std::string(R"("other":"u1")")}) {
            CAPTURE(claims);
            CHECK(user(claims).error == AuthError::missing_user);
        }
    }
    SECTION("falls back to sub when the claim is absent") {
        AuthResult r = user(R"("sub":"s1")");
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "s1");
        CHECK(user(R"("sub":77)").token.user_id == "77");
        // Member names are case-sensitive.
        CHECK(user(R"("UserId":"x","sub":"s1")").token.user_id == "s1");
        // The claim wins over sub when both are there.
        CHECK(user(R"("userId":"u1","sub":"s1")").token.user_id == "u1");
        // No claim name configured: sub only.
        CHECK(user(R"("userId":"u1","sub":"s1")", "").token.user_id == "s1");
        CHECK(user(R"("userId":"u1")", "").error == AuthError::missing_user);
    }
    SECTION("a present claim of a wrong type does not fall back to sub") {
        CHECK(user(R"("userId":true,"sub":"s1")").error == AuthError::missing_user);
        CHECK(user(R"("userId":"","sub":"s1")").error == AuthError::missing_user);
        CHECK(user(R"("userId":null,"sub":"s1")").error == AuthError::missing_user);
    }
    SECTION("the claim name is configurable") {
        AuthResult r = user(R"("uid":"u9","userId":"u1","sub":"s1")", "uid");
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "u9");
        CHECK(user(R"("userId":"u1","sub":"s1")", "uid").token.user_id == "s1");
        CHECK(user(R"("uid":5)", "uid").token.user_id == "5");
        CHECK(user(R"("userId":"u1")", "uid").error == AuthError::missing_user);
    }
    SECTION("structural errors come before time errors") {
        CHECK(verify(with_payload(R"({"exp":1600000000})")) == AuthError::missing_user);
        CHECK(verify(with_payload(R"({"userId":"u1","exp":1600000000,"nbf":"x"})")) == AuthError::malformed);
    }
}

TEST_CASE("auth error messages and labels", "[auth]") {
    using pushd::auth_error_label;
    using pushd::auth_error_message;
    CHECK(std::string(auth_error_message(AuthError::none)).empty());
    CHECK(std::string(auth_error_message(AuthError::missing_token)) == "missing token");
    CHECK(std::string(auth_error_message(AuthError::malformed)) == "invalid token");
    CHECK(std::string(auth_error_message(AuthError::alg_not_allowed)) == "invalid token");
    CHECK(std::string(auth_error_message(AuthError::bad_signature)) == "invalid token");
    CHECK(std::string(auth_error_message(AuthError::missing_user)) == "invalid token");
    CHECK(std::string(auth_error_message(AuthError::expired)) == "token expired");
    CHECK(std::string(auth_error_message(AuthError::not_yet_valid)) == "token not yet valid");
    CHECK(std::string(auth_error_message(AuthError::missing_exp)) == "token has no exp");

    CHECK(std::string(auth_error_label(AuthError::none)) == "ok");
    CHECK(std::string(auth_error_label(AuthError::missing_token)) == "missing");
    CHECK(std::string(auth_error_label(AuthError::malformed)) == "malformed");
    CHECK(std::string(auth_error_label(AuthError::alg_not_allowed)) == "alg");
    CHECK(std::string(auth_error_label(AuthError::bad_signature)) == "signature");
    CHECK(std::string(auth_error_label(AuthError::expired)) == "expired");
    CHECK(std::string(auth_error_label(AuthError::not_yet_valid)) == "nbf");
    CHECK(std::string(auth_error_label(AuthError::missing_exp)) == "no_exp");
    CHECK(std::string(auth_error_label(AuthError::missing_user)) == "no_user");
}

TEST_CASE("sign_token round trip", "[auth]") {
    SECTION("default claim") {
        std::string token = sign_token(kSecret, "userId", "123", kNow, kNow + 86400);
        REQUIRE_FALSE(token.empty());
        AuthResult r = verify_token(token, kSecret, "userId", kNow);
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "123");
        CHECK(r.token.exp_s == kNow + 86400);
        CHECK(verify_token(token, kSecret, "userId", kNow + 86400).error == AuthError::expired);
        CHECK(verify_token(token, "wrong", "userId", kNow).error == AuthError::bad_signature);
        // The user id is a string claim; iat is present.
        jwt_t* jwt = nullptr;
        REQUIRE(jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(kSecret.data()),
                           static_cast<int>(kSecret.size())) == 0);
        CHECK(jwt_get_alg(jwt) == JWT_ALG_HS256);
        CHECK(std::string(jwt_get_grant(jwt, "userId")) == "123");
        CHECK(jwt_get_grant_int(jwt, "iat") == kNow);
        jwt_free(jwt);
    }
    SECTION("custom claim and unicode id") {
        std::string token = sign_token(kSecret, "uid", "\xc3\xa9mile", kNow, kNow + 60);
        AuthResult r = verify_token(token, kSecret, "uid", kNow);
        CHECK(r.error == AuthError::none);
        CHECK(r.token.user_id == "\xc3\xa9mile");
        CHECK(verify_token(token, kSecret, "userId", kNow).error == AuthError::missing_user);
    }
    SECTION("refuses what verify_token would refuse") {
        CHECK(sign_token("", "userId", "u1", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "", "u1", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "exp", "u1", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "iat", "u1", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, std::string("u\0x", 3), "u1", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", "", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", std::string(129, 'a'), kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", "a\nb", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", std::string("a\0b", 3), kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", "\xff", kNow, kNow + 60).empty());
        CHECK(sign_token(kSecret, "userId", "u1", kNow, INT64_MAX).empty());
        CHECK(sign_token(kSecret, "userId", "u1", INT64_MIN, kNow + 60).empty());
        CHECK_FALSE(sign_token(kSecret, "userId", std::string(128, 'a'), kNow, kNow + 60).empty());
    }
}

TEST_CASE("verify_token survives random and mutated tokens", "[auth]") {
    std::mt19937 rng(20240601);  // fixed seed: reproducible
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    const std::vector<std::string> seeds = {
        with_payload(kGoodPayload),
        libjwt_token(JWT_ALG_HS384, R"({"userId":42,"exp":1700003600})"),
        libjwt_token(JWT_ALG_HS512, R"({"sub":"s","exp":1700003600,"nbf":1})"),
        "eyJhbGciOiJub25lIn0." + b64url(kGoodPayload) + ".",
    };
    auto strip_pad = [](std::string s) {
        while (!s.empty() && s.back() == '=') s.pop_back();
        return s;
    };
    int errors = 0;
    for (int i = 0; i < 4000; i++) {
        const std::string& seed = seeds[pick(seeds.size())];
        std::string t = seed;
        int edits = 1 + static_cast<int>(pick(4));
        for (int e = 0; e < edits; e++) {
            switch (pick(7)) {
            case 0:  // replace with a base64url-ish character
                if (!t.empty()) t[pick(t.size())] = alphabet[pick(alphabet.size())];
                break;
            case 1:  // replace with any byte
                if (!t.empty()) t[pick(t.size())] = static_cast<char>(rng() & 0xFF);
                break;
            case 2:  // insert
                t.insert(t.begin() + static_cast<long>(pick(t.size() + 1)), alphabet[pick(alphabet.size())]);
                break;
            case 3:  // delete
                if (!t.empty()) t.erase(pick(t.size()), 1);
                break;
            case 4:  // truncate
                t.resize(pick(t.size() + 1));
                break;
            case 5: {  // splice a piece of another seed
                const std::string& other = seeds[pick(seeds.size())];
                size_t from = pick(other.size());
                t.insert(pick(t.size() + 1), other.substr(from, pick(other.size() - from + 1)));
                break;
            }
            default: {  // pure noise
                t.assign(pick(200), '\0');
                for (char& c : t) c = alphabet[pick(alphabet.size())];
                break;
            }
            }
        }
        AuthResult r = verify_token(t, kSecret, "userId", kNow);
        if (r.error == AuthError::none) {
            // Only an unchanged valid token (up to signature padding) may pass.
            bool same = strip_pad(t) == strip_pad(seeds[0]) || strip_pad(t) == strip_pad(seeds[1]) ||
                        strip_pad(t) == strip_pad(seeds[2]);
            CHECK(same);
            CHECK_FALSE(r.token.user_id.empty());
        } else {
            errors++;
            CHECK(r.token.user_id.empty());
        }
    }
    CHECK(errors > 3900);
}

TEST_CASE("verify_token survives validly signed random JSON", "[auth]") {
    std::mt19937 rng(77);  // fixed seed: reproducible
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    {
        const std::string pieces[] = {
            "{",           "}",          "[",  "]",     ",",   ":",    "\"userId\"", "\"exp\"", "\"nbf\"",
            "\"sub\"",     "1700003600", "-1", "1e999", "0.5", "null", "true",       "\"u\"",   "\"\\u0000\"",
            "\"\\ud800\"", "\"\\\\\"",   " ",  "\"",    "\\",  "\xff", "1e-400",     "42"};
        for (int i = 0; i < 3000; i++) {
            std::string payload;
            if (pick(2) == 0) {
                payload = R"({"userId":)";
                payload += pieces[pick(std::size(pieces))];
                payload += R"(,"exp":)";
                payload += pieces[pick(std::size(pieces))];
                payload += pick(2) ? "}" : R"(,"nbf":)" + pieces[pick(std::size(pieces))] + "}";
            } else {
                size_t n = pick(12);
                for (size_t k = 0; k < n; k++) payload += pieces[pick(std::size(pieces))];
            }
            std::string header = pick(8) == 0 ? pieces[pick(std::size(pieces))] : R"({"alg":"HS256"})";
            AuthResult r = verify_token(hs256(header, payload), kSecret, "userId", kNow);
            if (r.error == AuthError::none) {
                CHECK_FALSE(r.token.user_id.empty());
                CHECK(r.token.exp_s > kNow);
            }
        }
    }
}
