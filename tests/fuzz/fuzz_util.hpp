// Helpers shared by the libFuzzer targets: splitting one input into the
// several texts a parser takes, and a check that aborts (so libFuzzer
// records the input) when an invariant the target asserts does not hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace pushd::fuzz {

/* The input as text. */
inline std::string_view as_text(const uint8_t* data, size_t size) {
    return std::string_view(reinterpret_cast<const char*>(data), size);
}

/* `text` cut at every `sep` into at most `max_parts` parts (the last part
 * keeps any further separators). Seeds stay writable by hand this way, as
 * lines, where FuzzedDataProvider's layout would not. */
inline std::vector<std::string_view> split(std::string_view text, char sep, size_t max_parts) {
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        size_t at = text.find(sep);
        if (at == std::string_view::npos) break;
        parts.push_back(text.substr(0, at));
        text.remove_prefix(at + 1);
    }
    parts.push_back(text);
    return parts;
}

}  // namespace pushd::fuzz

// Aborts with the failed condition: the fuzzer then keeps the input as a
// crash. Active in every build type (assert() may be compiled out).
#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (0)
