// libFuzzer target: core/json_check (json_object_text_valid, utf8_valid),
// which vets the notification data other services write to Redis before
// pushd inserts it verbatim into frames sent to browsers.
//
// Invariants checked besides the sanitizers:
//  - utf8_valid (eight bytes at a time) agrees with a byte-at-a-time
//    reference decoder;
//  - text accepted as a JSON object is valid UTF-8, stays accepted with a
//    larger depth limit, and (when it has no \u escape, whose lone
//    surrogates cJSON refuses but JSON.parse accepts) cJSON reads it as an
//    object with nothing but whitespace after it.
#include "core/json_check.hpp"
#include "fuzz_util.hpp"

#include <cjson/cJSON.h>

using pushd::json_object_text_valid;
using pushd::utf8_valid;

namespace {

// RFC 3629 UTF-8, one code point at a time: the slow, obvious version.
bool reference_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (i + n >= s.size()) return false;  // truncated sequence
        for (size_t k = 1; k <= n; k++) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text = pushd::fuzz::as_text(data, size);
    FUZZ_CHECK(utf8_valid(text) == reference_utf8(text));

    std::string why;
    bool valid = json_object_text_valid(text, 32, &why);
    FUZZ_CHECK(valid == why.empty());
    if (!valid) return 0;
    FUZZ_CHECK(utf8_valid(text));
    FUZZ_CHECK(json_object_text_valid(text, 64));
    if (text.find("\\u") == std::string_view::npos) {
        const char* end = nullptr;
        cJSON* root = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, 0);
        FUZZ_CHECK(root != nullptr);
        FUZZ_CHECK(cJSON_IsObject(root));
        for (const char* p = end; p < text.data() + text.size(); p++)
            FUZZ_CHECK(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
        cJSON_Delete(root);
    }
    return 0;
}
