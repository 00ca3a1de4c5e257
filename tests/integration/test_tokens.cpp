// JWT construction for tests with libjwt 1.10.
#include "test_tokens.hpp"

#include "harness.hpp"

#include <jwt.h>
#include <cstdlib>
#include <memory>

namespace pushd::test {

namespace {

struct JwtFree {
    void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

}  // namespace

std::string base64url(const std::string& bytes) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 2 < bytes.size(); i += 3) {
        unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
    }
    if (i + 1 == bytes.size()) {
        unsigned v = b(i) << 16;
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        unsigned v = (b(i) << 16) | (b(i + 1) << 8);
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
    }
    return out;
}

std::string make_token(const std::string& secret, const std::string& claims_json, const std::string& alg) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) return "";
    JwtPtr jwt(raw);
    if (jwt_add_grants_json(jwt.get(), claims_json.c_str()) != 0) return "";
    jwt_alg_t a = jwt_str_alg(alg.c_str());
    if (alg == "none") a = JWT_ALG_NONE;
    if (a == JWT_ALG_INVAL) return "";
    int rc = a == JWT_ALG_NONE ? jwt_set_alg(jwt.get(), JWT_ALG_NONE, nullptr, 0)
                               : jwt_set_alg(jwt.get(), a, reinterpret_cast<const unsigned char*>(secret.data()),
                                             static_cast<int>(secret.size()));
    if (rc != 0) return "";
    char* s = jwt_encode_str(jwt.get());
    if (!s) return "";
    std::string token = s;
    std::free(s);  // libjwt 1.10 allocates with malloc by default
    return token;
}

std::string make_raw_token(const std::string& header_json, const std::string& payload_json,
                           const std::string& signature_b64url) {
    return base64url(header_json) + "." + base64url(payload_json) + "." + signature_b64url;
}

std::string user_claims(const std::string& user_id, int64_t exp_in_s, std::optional<int64_t> nbf_in_s,
                        const std::string& claim, bool numeric_id) {
    int64_t now = unix_s();
    std::string id = numeric_id ? user_id : "\"" + user_id + "\"";
    std::string json =
        "{\"" + claim + "\":" + id + ",\"iat\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + exp_in_s);
    if (nbf_in_s) json += ",\"nbf\":" + std::to_string(now + *nbf_in_s);
    return json + "}";
}

std::string user_token(const std::string& user_id, int64_t ttl_s, const std::string& secret) {
    return make_token(secret, user_claims(user_id, ttl_s));
}

}  // namespace pushd::test
