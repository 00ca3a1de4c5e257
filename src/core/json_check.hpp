// Strict validation of JSON text that pushd passes on verbatim: the `data`
// object of a notification written to Redis by another service ends up
// inside the frames sent to clients unchanged, so it must be exactly what a
// strict client parser (a browser's JSON.parse, RFC 8259) accepts, and
// valid UTF-8 (a text frame with invalid UTF-8 is closed by the client).
//
// Pure, linear, no allocation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pushd {

/* True when `text` is one JSON object (RFC 8259: strict numbers, no raw
 * control characters in strings, valid escapes, valid UTF-8 without
 * surrogate code points, nothing but whitespace around it) nested at most
 * `max_depth` levels (objects and arrays count; the object itself is level
 * 1). On false, *why (when given) says what is wrong, e.g. "invalid UTF-8
 * at byte 12". Never throws. */
bool json_object_text_valid(std::string_view text, size_t max_depth, std::string* why = nullptr);

/* True when `text` is valid UTF-8: no overlong forms, no surrogate code
 * points, nothing above U+10FFFF. Control characters are allowed (JSON
 * writers escape them). ASCII runs are checked eight bytes at a time. */
bool utf8_valid(std::string_view text);

}  // namespace pushd
