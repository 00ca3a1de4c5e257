// libFuzzer target: core/auth verify_token, on two kinds of input chosen
// by the first byte:
//  - 'T' + a raw token: the shape checks, base64url and the header
//    (a forged signature stops it at step 7);
//  - 'S' + header JSON + '\n' + payload JSON: the target signs them with
//    the test secret (HS256, or HS384/HS512 when the header names one), so
//    the claims (exp, nbf, the user claim) are reached as they would be in
//    a genuine token, the way an issuer with a bug could produce them.
//  Any other first byte: as 'T'.
//
// Invariants checked besides the sanitizers: a verified token has a valid
// user id and an exp later than now with |exp| <= 2^53; a failure leaves
// the token empty; every error has a non-empty message and label.
#include "core/auth.hpp"
#include "fuzz_util.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

using namespace pushd;

namespace {

const std::string kSecret = "fuzz-secret-0123456789abcdef";
constexpr int64_t kNow = 1732600000;

std::string b64url(std::string_view in) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = acc << 8 | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
    return out;
}

std::string signed_token(std::string_view header, std::string_view payload) {
    const EVP_MD* md = EVP_sha256();
    if (header.find("HS384") != std::string_view::npos) md = EVP_sha384();
    if (header.find("HS512") != std::string_view::npos) md = EVP_sha512();
    std::string input = b64url(header) + "." + b64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(md, kSecret.data(), static_cast<int>(kSecret.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), mac, &mac_len);
    return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    std::string token;
    if (!text.empty() && text[0] == 'S') {
        auto parts = fuzz::split(text.substr(1), '\n', 2);
        token = signed_token(parts[0], parts.size() > 1 ? parts[1] : std::string_view());
    } else {
        token = std::string(text.empty() ? text : text.substr(1));
    }
    for (std::string_view claim : {"userId", ""}) {
        AuthResult r = verify_token(token, kSecret, claim, kNow);
        FUZZ_CHECK(auth_error_message(r.error) != nullptr && auth_error_label(r.error) != nullptr);
        if (r.error == AuthError::none) {
            FUZZ_CHECK(valid_user_id(r.token.user_id));
            FUZZ_CHECK(r.token.exp_s > kNow && r.token.exp_s <= (int64_t(1) << 53));
        } else {
            FUZZ_CHECK(r.token.user_id.empty());
            FUZZ_CHECK(*auth_error_message(r.error) != '\0');
        }
    }
    return 0;
}
