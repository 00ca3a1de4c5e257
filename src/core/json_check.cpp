#include "core/json_check.hpp"

#include <cstdint>
#include <cstring>

namespace pushd {
namespace {

// A recursive-descent checker; recursion is bounded by max_depth, which the
// caller keeps small (32 for notifications).
struct Checker {
    std::string_view s;
    size_t max_depth;
    size_t i = 0;
    const char* error = nullptr;
    size_t error_at = 0;

    bool fail(const char* what) {
        if (!error) {
            error = what;
            error_at = i;
        }
        return false;
    }
    bool at_end() const { return i >= s.size(); }
    unsigned char peek() const { return static_cast<unsigned char>(s[i]); }

    void whitespace() {
        while (!at_end() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    }

    bool literal(std::string_view word) {
        if (s.substr(i, word.size()) != word) return fail("invalid literal");
        i += word.size();
        return true;
    }

    static bool is_digit(char c) { return c >= '0' && c <= '9'; }
    static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

    bool number() {
        if (!at_end() && s[i] == '-') i++;
        if (at_end() || !is_digit(s[i])) return fail("invalid number");
        if (s[i] == '0') {
            i++;
        } else {
            while (!at_end() && is_digit(s[i])) i++;
        }
        if (!at_end() && s[i] == '.') {
            i++;
            if (at_end() || !is_digit(s[i])) return fail("invalid number");
            while (!at_end() && is_digit(s[i])) i++;
        }
        if (!at_end() && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (!at_end() && (s[i] == '+' || s[i] == '-')) i++;
            if (at_end() || !is_digit(s[i])) return fail("invalid number");
            while (!at_end() && is_digit(s[i])) i++;
        }
        return true;
    }

    // One UTF-8 sequence of 2..4 bytes starting at i (a lead byte >= 0x80).
    bool utf8_sequence() {
        const unsigned char b0 = peek();
        size_t len;
        uint32_t cp;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            len = 2;
            cp = b0 & 0x1Fu;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3;
            cp = b0 & 0x0Fu;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            len = 4;
            cp = b0 & 0x07u;
        } else {
            return fail("invalid UTF-8");
        }
        if (i + len > s.size()) return fail("invalid UTF-8");
        for (size_t k = 1; k < len; k++) {
            auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return fail("invalid UTF-8");
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail("invalid UTF-8");
        i += len;
        return true;
    }

    bool string() {
        i++;  // the opening quote
        while (!at_end()) {
            const unsigned char c = peek();
            if (c == '"') {
                i++;
                return true;
            }
            if (c < 0x20) return fail("unescaped control character in a string");
            if (c == '\\') {
                i++;
                if (at_end()) break;
                const char e = s[i];
                if (e == 'u') {
                    if (i + 4 >= s.size()) return fail("invalid \\u escape");
                    for (size_t k = 1; k <= 4; k++) {
                        if (!is_hex(s[i + k])) return fail("invalid \\u escape");
                    }
                    i += 5;
                } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                           e == 't') {
                    i++;
                } else {
                    return fail("invalid escape");
                }
            } else if (c >= 0x80) {
                if (!utf8_sequence()) return false;
            } else {
                i++;
            }
        }
        return fail("unterminated string");
    }

    bool value(size_t depth) {
        whitespace();
        if (at_end()) return fail("value expected");
        switch (s[i]) {
        case '{': return object(depth + 1);
        case '[': return array(depth + 1);
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }

    // The members of an object or the items of an array, after its opening
    // character: `item` reads one, then ',' continues and `close` ends it.
    template <class Item>
    bool sequence(size_t depth, char close, const char* unterminated, const char* expected, Item item) {
        if (depth > max_depth) return fail("nested too deeply");
        i++;  // '{' or '['
        whitespace();
        if (!at_end() && s[i] == close) {
            i++;
            return true;
        }
        for (;;) {
            if (!item()) return false;
            whitespace();
            if (at_end()) return fail(unterminated);
            if (s[i] == ',') {
                i++;
                continue;
            }
            if (s[i] == close) {
                i++;
                return true;
            }
            return fail(expected);
        }
    }

    bool object(size_t depth) {
        return sequence(depth, '}', "unterminated object", "',' or '}' expected", [&] {
            whitespace();
            if (at_end() || s[i] != '"') return fail("object key expected");
            if (!string()) return false;
            whitespace();
            if (at_end() || s[i] != ':') return fail("':' expected");
            i++;
            return value(depth);
        });
    }

    bool array(size_t depth) {
        return sequence(depth, ']', "unterminated array", "',' or ']' expected", [&] { return value(depth); });
    }
};

}  // namespace

bool utf8_valid(std::string_view text) {
    Checker c{text, 0};
    while (!c.at_end()) {
        if (c.i + 8 <= text.size()) {
            uint64_t word;
            std::memcpy(&word, text.data() + c.i, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                c.i += 8;
                continue;
            }
        }
        if (c.peek() < 0x80) {
            c.i++;
        } else if (!c.utf8_sequence()) {
            return false;
        }
    }
    return true;
}

bool json_object_text_valid(std::string_view text, size_t max_depth, std::string* why) {
    Checker c{text, max_depth};
    c.whitespace();
    bool ok;
    if (c.at_end() || text[c.i] != '{') {
        ok = c.fail("not a JSON object");
    } else {
        ok = c.object(1);
        if (ok) {
            c.whitespace();
            if (!c.at_end()) ok = c.fail("trailing characters after the object");
        }
    }
    if (!ok && why) *why = std::string(c.error) + " at byte " + std::to_string(c.error_at);
    return ok;
}

}  // namespace pushd
