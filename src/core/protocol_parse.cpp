// Client -> server request parsing (see protocol.hpp for the rules).
//
// Two passes over a frame:
//  1. prescan(): one linear, non-recursive pass over the raw bytes. It
//     measures the nesting depth (so a 100,000-deep frame is refused before
//     cJSON recurses into it), refuses raw control characters, notes whether
//     any string holds an escaped U+0000, and records where each top-level
//     member and each member of a top-level object value starts.
//  2. cJSON builds the tree. Fields are read from the tree, except where the
//     tree loses information: integers are judged on their raw token (a
//     double cannot tell 2^53 from 2^53+1, or 17 from 17.0), and strings
//     containing U+0000 are decoded from the raw text (cJSON's strings end at
//     the first NUL). Raw offsets map to tree items by member index: cJSON
//     keeps members in document order.
#include "core/protocol.hpp"
#include "core/stream_id.hpp"

#include <cJSON.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace pushd {

static constexpr size_t kMaxDepth = 32;
static constexpr size_t kMaxGroupIdBytes = 128;
static constexpr uint64_t kMaxMsgType = 2147483647;
static constexpr size_t kNone = static_cast<size_t>(-1);

static constexpr const char* kErrDepth = "nesting deeper than 32";
static constexpr const char* kErrJson = "invalid JSON";
static constexpr const char* kErrControl = "invalid JSON: unescaped control character";
static constexpr const char* kErrRoot = "not a JSON object";
static constexpr const char* kErrMessageId =
    "message_id: must be a string of 1..128 bytes or an integer with |n| <= 2^53";
static constexpr const char* kErrType = "type: required string";
static constexpr const char* kErrUnknownType = "type: unknown request type";
static constexpr const char* kErrData = "data: required object";
static constexpr const char* kErrToken = "data.token: required non-empty string";
static constexpr const char* kErrSince = "data.since: must be a stream id string (\"<ms>-<seq>\")";
static constexpr const char* kErrGroupId = "data.group_id: required string of 1..128 bytes without control characters";
static constexpr const char* kErrMsgType = "data.msg_type: required integer 0..2147483647";
static constexpr const char* kErrContent = "data.content: required string";
static constexpr const char* kErrReadId = "data.message_id: required stream id string (\"<ms>-<seq>\")";

std::string_view request_type_name(RequestType type) {
    switch (type) {
    case RequestType::ping: return "ping";
    case RequestType::auth: return "auth";
    case RequestType::send_message: return "send_message";
    case RequestType::join_group: return "join_group";
    case RequestType::leave_group: return "leave_group";
    case RequestType::mark_read: return "mark_read";
    }
    return "unknown";
}

// ---- pass 1: the raw pre-scan ----------------------------------------------

// Where one object member sits in the raw text.
struct RawField {
    size_t key_quote = kNone;  // offset of the key's opening '"'
    size_t value = kNone;      // offset of the value's first byte
};

struct Scan {
    bool too_deep = false;       // some container is deeper than kMaxDepth
    bool raw_control = false;    // a byte < 0x20 other than JSON whitespace, or any inside a string
    bool nul_escape = false;     // some string holds the escape \u0000
    std::vector<RawField> root;  // members of the root object, in order
    std::vector<std::pair<size_t, size_t>> child_range;  // per root member: [begin, end) in `children`
    std::vector<RawField> children;                      // members of objects that are root member values
};

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t skip_space(std::string_view t, size_t i) {
    while (i < t.size() && is_json_space(t[i])) i++;
    return i;
}

/* Skips the string opening at `i`, noting \u0000 escapes and raw control
 * characters in `s`. Returns the index of its closing quote (or `t`'s size). */
static size_t skip_string(std::string_view t, size_t i, Scan& s) {
    const size_t n = t.size();
    i++;
    while (i < n && t[i] != '"') {
        if (t[i] == '\\') {
            if (i + 5 < n && t[i + 1] == 'u' && t.compare(i + 2, 4, "0000") == 0) s.nul_escape = true;
            i += 2;
            continue;
        }
        if (static_cast<unsigned char>(t[i]) < 0x20) s.raw_control = true;
        i++;
    }
    return i;
}

/* Fills `s` from `t` in one pass. Tolerates any input (invalid JSON gives
 * meaningless offsets, never an out-of-range access). */
static void prescan(std::string_view t, Scan& s) {
    const size_t n = t.size();
    size_t i = 0;
    if (n >= 3 && t.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // cJSON skips a BOM too
    i = skip_space(t, i);
    const bool root_object = i < n && t[i] == '{';
    bool root_closed = false;
    bool in_child_object = false;  // inside an object at depth 2 that is a root member's value
    size_t last_string = kNone;    // opening quote of the last string ended at depth 1 or 2
    size_t depth = 0;
    s.root.reserve(8);
    s.child_range.reserve(8);
    s.children.reserve(8);
    for (; i < n; i++) {
        const char c = t[i];
        switch (c) {
        case '"': {
            const size_t open = i;
            i = skip_string(t, i, s);
            if (depth == 1 || depth == 2) last_string = open;
            break;  // i is at the closing quote (or past the end)
        }
        case '{':
        case '[':
            depth++;
            if (depth > kMaxDepth) s.too_deep = true;
            if (depth == 2 && root_object && !root_closed && !s.root.empty()) {
                in_child_object = c == '{' && s.root.back().value == i;
                if (in_child_object) {
                    s.child_range.back().first = s.children.size();
                    s.child_range.back().second = s.children.size();
                }
            }
            break;
        case '}':
        case ']':
            if (depth == 2) in_child_object = false;
            if (depth > 0) depth--;
            if (depth == 0) root_closed = true;
            break;
        case ':':
            if (!root_object || root_closed || last_string == kNone) break;
            if (depth == 1) {
                s.root.push_back({last_string, skip_space(t, i + 1)});
                s.child_range.emplace_back(0, 0);
            } else if (depth == 2 && in_child_object) {
                s.children.push_back({last_string, skip_space(t, i + 1)});
                s.child_range.back().second = s.children.size();
            }
            last_string = kNone;
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 && !is_json_space(c)) s.raw_control = true;
            break;
        }
    }
}

// ---- raw token readers -------------------------------------------------------

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long hex4(std::string_view t, size_t i) {
    if (i + 4 > t.size()) return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int d = hex_digit(t[i + k]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

/* Decodes the JSON string literal whose opening quote is at t[q] into
 * `out`, keeping U+0000. Returns false when it is not a well-formed
 * literal. */
static bool decode_raw_string(std::string_view t, size_t q, std::string& out) {
    out.clear();
    if (q >= t.size() || t[q] != '"') return false;
    const size_t n = t.size();
    size_t i = q + 1;
    while (i < n) {
        const char c = t[i];
        if (c == '"') return true;
        if (c != '\\') {
            size_t j = i;
            while (j < n && t[j] != '"' && t[j] != '\\') j++;
            out.append(t.substr(i, j - i));
            i = j;
            continue;
        }
        if (i + 1 >= n) return false;
        const char e = t[i + 1];
        i += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/': out.push_back(e); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
            long cp = hex4(t, i);
            if (cp < 0) return false;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 2 > n || t[i] != '\\' || t[i + 1] != 'u') return false;
                long lo = hex4(t, i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) return false;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, static_cast<unsigned long>(cp));
            break;
        }
        default: return false;
        }
    }
    return false;
}

/* Reads the number token at t[off] as an integer: '-'? ('0' | [1-9][0-9]*)
 * followed by no fraction or exponent, with |value| <= max_abs. */
static bool raw_integer(std::string_view t, size_t off, uint64_t max_abs, int64_t& out) {
    size_t i = off;
    const size_t n = t.size();
    bool neg = false;
    if (i < n && t[i] == '-') {
        neg = true;
        i++;
    }
    const size_t digits_begin = i;
    uint64_t v = 0;
    while (i < n && t[i] >= '0' && t[i] <= '9') {
        if (i - digits_begin >= 19) return false;  // beyond any bound we use
        v = v * 10 + static_cast<uint64_t>(t[i] - '0');
        i++;
    }
    const size_t digits = i - digits_begin;
    if (digits == 0 || (digits > 1 && t[digits_begin] == '0')) return false;
    if (i < n && (t[i] == '.' || t[i] == 'e' || t[i] == 'E' || t[i] == '+' || t[i] == '-')) return false;
    if (v > max_abs) return false;
    out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
}

// ---- pass 2: reading the tree ------------------------------------------------

struct Reader {
    std::string_view text;
    const Scan& scan;
};

// An object member with its raw position when known.
struct Member {
    const cJSON* item = nullptr;
    const RawField* raw = nullptr;  // null when the raw map is unavailable
};

/* Number of members of a cJSON object or array. */
static size_t child_count(const cJSON* obj) {
    size_t k = 0;
    for (const cJSON* c = obj->child; c; c = c->next) k++;
    return k;
}

/* The raw map of `obj`'s members, or an empty span when it does not match
 * the tree (never for valid JSON; kept as a guard). */
static std::span<const RawField> checked_raw(const cJSON* obj, std::span<const RawField> raw) {
    return child_count(obj) == raw.size() ? raw : std::span<const RawField>{};
}

/* True when the key of `c` (raw: its position, may be null) is exactly `key`. */
static bool key_equals(const Reader& rd, const cJSON* c, const RawField* raw, const char* key) {
    if (!c->string || std::strcmp(c->string, key) != 0) return false;
    if (!rd.scan.nul_escape || !raw) return true;
    std::string decoded;  // the key may be "key\u0000...", which cJSON cut short
    return decode_raw_string(rd.text, raw->key_quote, decoded) && decoded == key;
}

/* The first member of `obj` named `key`. */
static Member find_member(const Reader& rd, const cJSON* obj, std::span<const RawField> raw, const char* key) {
    size_t index = 0;
    for (const cJSON* c = obj->child; c; c = c->next, index++) {
        const RawField* r = raw.empty() ? nullptr : &raw[index];
        if (key_equals(rd, c, r, key)) return {c, r};
    }
    return {};
}

/* Copies a string member's value into `out`; false when it is not a string. */
static bool member_string(const Reader& rd, const Member& m, std::string& out) {
    if (!m.item || !cJSON_IsString(m.item) || !m.item->valuestring) return false;
    if (rd.scan.nul_escape && m.raw) return decode_raw_string(rd.text, m.raw->value, out);
    out.assign(m.item->valuestring);
    return true;
}

/* Reads a number member as an integer with |value| <= max_abs (see
 * raw_integer); false when it is not one. */
static bool member_integer(const Reader& rd, const Member& m, uint64_t max_abs, int64_t& out) {
    if (!m.item || !cJSON_IsNumber(m.item)) return false;
    if (m.raw) return raw_integer(rd.text, m.raw->value, max_abs, out);
    const double d = m.item->valuedouble;  // fallback, not reached for valid JSON
    if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > static_cast<double>(max_abs)) return false;
    out = static_cast<int64_t>(d);
    return true;
}

enum class IdStatus { absent, ok, bad };

/* Reads the envelope's message_id: a string of 1..128 bytes or an integer
 * (normalized to decimal). */
static IdStatus read_message_id(const Reader& rd, const Member& m, std::string& out) {
    if (!m.item) return IdStatus::absent;
    if (cJSON_IsString(m.item)) {
        if (!member_string(rd, m, out) || out.empty() || out.size() > kMaxMessageIdBytes) return IdStatus::bad;
        return IdStatus::ok;
    }
    int64_t v = 0;
    if (cJSON_IsNumber(m.item) && member_integer(rd, m, kMaxIntegerMessageId, v)) {
        out = std::to_string(v);
        return IdStatus::ok;
    }
    return IdStatus::bad;
}

/* Best effort for a frame too deep to parse: the first top-level
 * "message_id" member read from the raw text, when it is valid. */
static std::optional<std::string> recover_message_id(std::string_view t, const Scan& s) {
    std::string key, out;
    for (const RawField& f : s.root) {
        if (!decode_raw_string(t, f.key_quote, key) || key != "message_id") continue;
        if (f.value >= t.size()) return std::nullopt;
        if (t[f.value] == '"') {
            if (!decode_raw_string(t, f.value, out) || out.empty() || out.size() > kMaxMessageIdBytes)
                return std::nullopt;
            return out;
        }
        int64_t v = 0;
        if (!raw_integer(t, f.value, kMaxIntegerMessageId, v)) return std::nullopt;
        return std::to_string(v);
    }
    return std::nullopt;
}

bool valid_group_id(std::string_view g) {
    if (g.empty() || g.size() > kMaxGroupIdBytes) return false;
    for (char c : g) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7f) return false;
    }
    return true;
}

/* Reads data.group_id; false (with the 422 reason set) when invalid. */
static bool read_group_id(const Reader& rd, const cJSON* data, std::span<const RawField> raw, ParseResult& r) {
    if (!member_string(rd, find_member(rd, data, raw, "group_id"), r.request.group_id) ||
        !valid_group_id(r.request.group_id)) {
        r.message = kErrGroupId;
        return false;
    }
    return true;
}

/* Reads a stream id string member into `out`, normalized. `optional`:
 * absent or null is fine (out stays unset). False when invalid. */
static bool read_stream_id(const Reader& rd, const Member& m, bool optional, std::optional<std::string>& out) {
    if (!m.item || cJSON_IsNull(m.item)) return optional;
    std::string s;
    if (!member_string(rd, m, s)) return false;
    std::optional<StreamId> id = parse_stream_id(s);
    if (!id) return false;
    out = format_stream_id(*id);
    return true;
}

/* Validates the type's data fields into r.request; on failure sets the
 * reason and returns false (-> invalid_field). */
static bool read_data(const Reader& rd, const cJSON* data, std::span<const RawField> raw, ParseResult& r) {
    Request& q = r.request;
    switch (q.type) {
    case RequestType::ping: return true;
    case RequestType::auth: {
        if (!member_string(rd, find_member(rd, data, raw, "token"), q.token) || q.token.empty()) {
            r.message = kErrToken;
            return false;
        }
        if (!read_stream_id(rd, find_member(rd, data, raw, "since"), true, q.since)) {
            r.message = kErrSince;
            return false;
        }
        return true;
    }
    case RequestType::send_message: {
        if (!read_group_id(rd, data, raw, r)) return false;
        if (!member_integer(rd, find_member(rd, data, raw, "msg_type"), kMaxMsgType, q.msg_type) || q.msg_type < 0) {
            r.message = kErrMsgType;
            return false;
        }
        if (!member_string(rd, find_member(rd, data, raw, "content"), q.content)) {
            r.message = kErrContent;
            return false;
        }
        return true;
    }
    case RequestType::join_group: {
        if (!read_group_id(rd, data, raw, r)) return false;
        if (!read_stream_id(rd, find_member(rd, data, raw, "since"), true, q.since)) {
            r.message = kErrSince;
            return false;
        }
        return true;
    }
    case RequestType::leave_group: return read_group_id(rd, data, raw, r);
    case RequestType::mark_read: {
        if (!read_group_id(rd, data, raw, r)) return false;
        std::optional<std::string> id;
        if (!read_stream_id(rd, find_member(rd, data, raw, "message_id"), false, id)) {
            r.message = kErrReadId;
            return false;
        }
        q.read_message_id = std::move(*id);
        return true;
    }
    }
    return false;
}

static std::optional<RequestType> request_type_from(std::string_view s) {
    if (s == "ping") return RequestType::ping;
    if (s == "auth") return RequestType::auth;
    if (s == "send_message") return RequestType::send_message;
    if (s == "join_group") return RequestType::join_group;
    if (s == "leave_group") return RequestType::leave_group;
    if (s == "mark_read") return RequestType::mark_read;
    return std::nullopt;
}

using JsonRoot = std::unique_ptr<cJSON, void (*)(cJSON*)>;

// `text` parsed as one JSON value with nothing but space after it, or nullptr.
static JsonRoot parse_whole(std::string_view text) {
    const char* end = nullptr;
    JsonRoot root(text.empty() ? nullptr : cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, 0), cJSON_Delete);
    if (!root || !end || end < text.data() || end > text.data() + text.size() ||
        skip_space(text, static_cast<size_t>(end - text.data())) != text.size()) {
        return JsonRoot(nullptr, cJSON_Delete);
    }
    return root;
}

// The root's "data" member when it is an object (else nullptr), and its
// raw fields in *data_raw (empty when the root's are).
static const cJSON* find_data(const Reader& rd, const cJSON* root, std::span<const RawField> root_raw,
                              std::span<const RawField>* data_raw) {
    size_t index = 0;
    const cJSON* data = nullptr;
    for (const cJSON* c = root->child; c; c = c->next, index++) {
        if (key_equals(rd, c, root_raw.empty() ? nullptr : &root_raw[index], "data")) {
            data = c;
            break;
        }
    }
    if (!data || !cJSON_IsObject(data)) return nullptr;
    if (!root_raw.empty()) {
        const auto [b, e] = rd.scan.child_range[index];
        *data_raw = checked_raw(data, std::span<const RawField>(rd.scan.children).subspan(b, e - b));
    }
    return data;
}

// The envelope: message_id (into r.message_id when valid) and type. The
// request type, or nullopt with r.message saying what is wrong.
static std::optional<RequestType> read_envelope(const Reader& rd, const cJSON* root, std::span<const RawField> root_raw,
                                                ParseResult& r) {
    std::string id;
    const IdStatus id_status = read_message_id(rd, find_member(rd, root, root_raw, "message_id"), id);
    if (id_status == IdStatus::ok) r.message_id = std::move(id);

    std::string type_name;
    if (!member_string(rd, find_member(rd, root, root_raw, "type"), type_name)) {
        r.message = kErrType;
        return std::nullopt;
    }
    if (id_status == IdStatus::bad) {
        r.message = kErrMessageId;
        return std::nullopt;
    }
    const std::optional<RequestType> type = request_type_from(type_name);
    if (!type) {
        r.message = kErrUnknownType;
        return std::nullopt;
    }
    if (id_status == IdStatus::absent && *type != RequestType::ping) {
        r.message = "message_id: required for " + type_name;
        return std::nullopt;
    }
    return type;
}

ParseResult parse_request(std::string_view text) {
    ParseResult r;
    r.status = ParseStatus::malformed;

    Scan scan;
    prescan(text, scan);
    if (scan.too_deep) {
        r.message = kErrDepth;
        r.message_id = recover_message_id(text, scan);
        return r;
    }
    if (scan.raw_control) {
        r.message = kErrControl;
        return r;
    }

    JsonRoot root = parse_whole(text);
    if (!root) {
        r.message = kErrJson;
        return r;
    }
    if (!cJSON_IsObject(root.get())) {
        r.message = kErrRoot;
        return r;
    }

    const Reader rd{text, scan};
    const std::span<const RawField> root_raw = checked_raw(root.get(), scan.root);

    const std::optional<RequestType> type = read_envelope(rd, root.get(), root_raw, r);
    if (!type) return r;

    r.request.type = *type;
    r.request.message_id = r.message_id;
    if (*type == RequestType::ping) {
        r.status = ParseStatus::ok;
        return r;
    }

    // From here on the request is readable: field problems are 422.
    r.status = ParseStatus::invalid_field;
    std::span<const RawField> data_raw;
    const cJSON* data = find_data(rd, root.get(), root_raw, &data_raw);
    if (!data) {
        r.message = kErrData;
        return r;
    }
    if (!read_data(rd, data, data_raw, r)) return r;
    r.status = ParseStatus::ok;
    return r;
}

}  // namespace pushd
