// A small, fast JSON text writer for the server -> client frames.
//
// Pure, no allocation beyond the output string, no iostreams. Strings are
// escaped minimally: '"', '\\' and the C0 control characters (U+0000..U+001F,
// as \b \f \n \r \t or \u00XX); everything else, DEL and multi-byte UTF-8
// included, is copied unchanged, so callers must pass valid UTF-8 (every
// string pushd writes came from an already validated frame or from Redis
// entries written by pushd).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pushd {

/* Appends `s` to `out` as a quoted, escaped JSON string literal. */
void json_append_string(std::string& out, std::string_view s);

/* Appends `v` to `out` in decimal (a JSON integer literal). */
void json_append_int(std::string& out, int64_t v);

/* Writes one JSON value (usually an object) into an owned std::string,
 * placing commas and colons itself. Usage:
 *   JsonWriter w(128);
 *   w.begin_object().field_str("type", "pong").field_int("timestamp", now).end_object();
 *   std::string text = w.take();
 * The caller keeps the calls well nested (every begin has its end, a key is
 * followed by exactly one value, keys only inside objects); the writer does
 * not check this. At most 63 nested containers. Method names are distinct
 * per value type on purpose: an overloaded value(const char*) would bind to
 * bool. */
class JsonWriter {
public:
    /* Starts an empty output with `reserve_bytes` of capacity. */
    explicit JsonWriter(size_t reserve_bytes = 256);

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();

    /* Writes an object key (escaped) and its ':'; the next call writes its value. */
    JsonWriter& key(std::string_view k);

    /* Values: a string (escaped), an integer, a boolean, null, or `json`
     * copied verbatim (it must be one complete, valid JSON value). */
    JsonWriter& string_value(std::string_view s);
    JsonWriter& int_value(int64_t v);
    JsonWriter& bool_value(bool v);
    JsonWriter& null_value();
    JsonWriter& raw_value(std::string_view json);

    /* key(k) followed by the matching value call. */
    JsonWriter& field_str(std::string_view k, std::string_view v) { return key(k).string_value(v); }
    JsonWriter& field_int(std::string_view k, int64_t v) { return key(k).int_value(v); }
    JsonWriter& field_bool(std::string_view k, bool v) { return key(k).bool_value(v); }
    JsonWriter& field_raw(std::string_view k, std::string_view json) { return key(k).raw_value(json); }

    /* The text written so far. */
    const std::string& str() const { return out_; }

    /* Moves the text out; the writer is then empty and may be reused. */
    std::string take();

private:
    void before_value();

    std::string out_;
    uint64_t has_element_ = 0;  // bit d: the container at depth d already holds an element
    int depth_ = 0;
    bool after_key_ = false;
};

}  // namespace pushd
