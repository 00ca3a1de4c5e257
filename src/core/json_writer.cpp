#include "core/json_writer.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace pushd {

// For each byte: c = 0 when it is copied as is, else the character after
// the backslash ('u' meaning \u00XX); extra = the bytes its escape adds.
static constexpr auto kEscape = [] {
    struct Table {
        char c[256];
        unsigned char extra[256];
    } t{};
    for (int i = 0; i < 0x20; i++) t.c[i] = 'u';
    t.c[static_cast<unsigned char>('\b')] = 'b';
    t.c[static_cast<unsigned char>('\f')] = 'f';
    t.c[static_cast<unsigned char>('\n')] = 'n';
    t.c[static_cast<unsigned char>('\r')] = 'r';
    t.c[static_cast<unsigned char>('\t')] = 't';
    t.c[static_cast<unsigned char>('"')] = '"';
    t.c[static_cast<unsigned char>('\\')] = '\\';
    for (int i = 0; i < 256; i++) t.extra[i] = t.c[i] == 0 ? 0 : (t.c[i] == 'u' ? 5 : 1);
    return t;
}();

/* True when some byte of `in` is < 0x20, '"' or '\\'. Blocks of 32 bytes
 * are checked branch-free, which the compiler turns into SIMD compares. */
static bool needs_escape(const unsigned char* in, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        unsigned char hit = 0;
        for (size_t k = 0; k < 32; k++) {
            const unsigned char b = in[i + k];
            hit |= static_cast<unsigned char>((b < 0x20) | (b == '"') | (b == '\\'));
        }
        if (hit) return true;
    }
    for (; i < n; i++)
        if (kEscape.extra[in[i]]) return true;
    return false;
}

/* The escaped size of `s` minus its raw size: +1 per two-byte escape, +5
 * per \u00XX. */
static size_t escape_extra(const unsigned char* in, size_t n) {
    if (!needs_escape(in, n)) return 0;
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) extra += kEscape.extra[in[i]];
    return extra;
}

/* Appends '"' s '"' suffix to `out` with one append when s is short and
 * needs no escaping (keys, ids: the common case); false otherwise. */
static bool append_plain_short(std::string& out, std::string_view s, std::string_view suffix) {
    char buf[96];
    if (s.size() + suffix.size() + 2 > sizeof buf) return false;
    if (escape_extra(reinterpret_cast<const unsigned char*>(s.data()), s.size()) != 0) return false;
    buf[0] = '"';
    if (!s.empty()) std::memcpy(buf + 1, s.data(), s.size());
    buf[s.size() + 1] = '"';
    if (!suffix.empty()) std::memcpy(buf + s.size() + 2, suffix.data(), suffix.size());
    out.append(buf, s.size() + 2 + suffix.size());
    return true;
}

void json_append_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    if (append_plain_short(out, s, {})) return;
    const auto* in = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    const size_t extra = escape_extra(in, n);
    const size_t old = out.size();
    out.resize(old + n + extra + 2);
    char* p = out.data() + old;
    *p++ = '"';
    if (extra == 0) {
        if (n) std::memcpy(p, in, n);
        p += n;
    } else {
        for (size_t i = 0; i < n; i++) {
            const unsigned char b = in[i];
            const char e = kEscape.c[b];
            if (e == 0) {
                *p++ = static_cast<char>(b);
            } else if (e == 'u') {
                p[0] = '\\';
                p[1] = 'u';
                p[2] = '0';
                p[3] = '0';
                p[4] = kHex[b >> 4];
                p[5] = kHex[b & 15];
                p += 6;
            } else {
                p[0] = '\\';
                p[1] = e;
                p += 2;
            }
        }
    }
    *p = '"';
}

void json_append_int(std::string& out, int64_t v) {
    char buf[24];
    char* e = std::to_chars(buf, buf + sizeof buf, v).ptr;
    out.append(buf, static_cast<size_t>(e - buf));
}

JsonWriter::JsonWriter(size_t reserve_bytes) { out_.reserve(reserve_bytes); }

/* Writes the ',' separating this value from the previous element of the
 * enclosing container, unless the value follows a key. */
void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (depth_ == 0) return;
    uint64_t bit = uint64_t{1} << depth_;
    if (has_element_ & bit) out_.push_back(',');
    has_element_ |= bit;
}

JsonWriter& JsonWriter::begin_object() {
    before_value();
    out_.push_back('{');
    ++depth_;
    has_element_ &= ~(uint64_t{1} << depth_);
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_.push_back('}');
    --depth_;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    before_value();
    out_.push_back('[');
    ++depth_;
    has_element_ &= ~(uint64_t{1} << depth_);
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_.push_back(']');
    --depth_;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    before_value();
    if (!append_plain_short(out_, k, ":")) {
        json_append_string(out_, k);
        out_.push_back(':');
    }
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::string_value(std::string_view s) {
    before_value();
    json_append_string(out_, s);
    return *this;
}

JsonWriter& JsonWriter::int_value(int64_t v) {
    before_value();
    json_append_int(out_, v);
    return *this;
}

JsonWriter& JsonWriter::bool_value(bool v) {
    before_value();
    out_.append(v ? "true" : "false");
    return *this;
}

JsonWriter& JsonWriter::null_value() {
    before_value();
    out_.append("null");
    return *this;
}

JsonWriter& JsonWriter::raw_value(std::string_view json) {
    before_value();
    out_.append(json);
    return *this;
}

std::string JsonWriter::take() {
    std::string s = std::move(out_);
    out_.clear();
    has_element_ = 0;
    depth_ = 0;
    after_key_ = false;
    return s;
}

}  // namespace pushd
