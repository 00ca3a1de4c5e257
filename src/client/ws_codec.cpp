// RFC 6455 client-side framing and handshake text (see ws_codec.hpp).
#include "client/ws_codec.hpp"

#include <optional>

#include <cstring>

namespace pushd::ws {
namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

bool valid_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

void sha1_block(uint32_t h[5], const uint8_t* p) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i)
        w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) | (uint32_t{p[4 * i + 2]} << 8) |
               uint32_t{p[4 * i + 3]};
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

}  // namespace

void append_client_frame(std::string& out, Opcode op, std::string_view payload, uint32_t mask_key, bool fin,
                         bool rsv1) {
    const size_t n = payload.size();
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = static_cast<uint8_t>((fin ? 0x80 : 0x00) | (rsv1 ? 0x40 : 0x00) | static_cast<uint8_t>(op));
    if (n < 126) {
        hdr[h++] = static_cast<uint8_t>(0x80 | n);
    } else if (n <= 0xFFFF) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = static_cast<uint8_t>(n >> 8);
        hdr[h++] = static_cast<uint8_t>(n);
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; --i) hdr[h++] = static_cast<uint8_t>(static_cast<uint64_t>(n) >> (8 * i));
    }
    const uint8_t mask[4] = {static_cast<uint8_t>(mask_key >> 24), static_cast<uint8_t>(mask_key >> 16),
                             static_cast<uint8_t>(mask_key >> 8), static_cast<uint8_t>(mask_key)};
    std::memcpy(hdr + h, mask, 4);
    h += 4;
    const size_t start = out.size();
    out.resize(start + h + n);
    char* dst = out.data() + start;
    std::memcpy(dst, hdr, h);
    dst += h;
    const char* src = payload.data();
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<char>(static_cast<uint8_t>(src[i]) ^ mask[i & 3]);
}

std::string client_text_frame(std::string_view payload, uint32_t mask_key) {
    std::string out;
    out.reserve(payload.size() + 14);
    append_client_frame(out, Opcode::text, payload, mask_key, true);
    return out;
}

void append_client_close(std::string& out, int code, std::string_view reason, uint32_t mask_key) {
    if (reason.size() > 123) reason = reason.substr(0, 123);
    std::string body;
    body.push_back(static_cast<char>((code >> 8) & 0xFF));
    body.push_back(static_cast<char>(code & 0xFF));
    body.append(reason);
    append_client_frame(out, Opcode::close, body, mask_key, true);
}

std::string base64_encode(std::string_view bytes) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                     (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) | static_cast<uint8_t>(bytes[i + 2]);
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
        if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::string sha1(std::string_view data) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    size_t n = data.size();
    size_t full = n / 64 * 64;
    for (size_t i = 0; i < full; i += 64) sha1_block(h, p + i);
    // Padding: 0x80, zeros, then the bit length big-endian in the last 8 bytes.
    uint8_t tail[128] = {};
    size_t rest = n - full;
    std::memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = static_cast<uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
    for (size_t i = 0; i < tail_len; i += 64) sha1_block(h, tail + i);
    std::string out(20, '\0');
    for (int i = 0; i < 5; ++i) {
        out[4 * i] = static_cast<char>(h[i] >> 24);
        out[4 * i + 1] = static_cast<char>(h[i] >> 16);
        out[4 * i + 2] = static_cast<char>(h[i] >> 8);
        out[4 * i + 3] = static_cast<char>(h[i]);
    }
    return out;
}

std::string websocket_accept(std::string_view key) {
    std::string s(key);
    s.append(kGuid);
    return base64_encode(sha1(s));
}

std::string make_websocket_key(std::string_view nonce16) {
    std::string n(nonce16.substr(0, 16));
    n.resize(16, '\0');
    return base64_encode(n);
}

std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            std::string_view extensions) {
    std::string r;
    r.reserve(160 + host.size() + path.size() + key.size());
    r.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
    r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
    r.append("\r\nSec-WebSocket-Version: 13\r\n");
    if (!extensions.empty()) r.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
    r.append("\r\n");
    return r;
}

namespace {

// "HTTP/1.x NNN reason": the status code into out.http_status; false with
// out.status bad and out.error set when the line is malformed.
bool read_status_line(std::string_view status_line, UpgradeCheck& out) {
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        out.status = UpgradeStatus::bad;
        out.error = "malformed status line";
        return false;
    }
    int code = 0;
    for (size_t i = 9; i < 12; ++i) {
        char c = status_line[i];
        if (c < '0' || c > '9') {
            out.status = UpgradeStatus::bad;
            out.error = "malformed status code";
            return false;
        }
        code = code * 10 + (c - '0');
    }
    out.http_status = code;
    return true;
}

// What the headers of a 101 say about the upgrade.
struct UpgradeHeaders {
    bool upgrade = false, connection = false, accept_seen = false, accept_ok = false, extensions = false;
    bool deflate = false;
};

// Reads the header lines of `head` (each ending with CRLF); false on a
// malformed line.
bool read_upgrade_headers(std::string_view head, const std::string& expected_accept, bool deflate_offered,
                          UpgradeHeaders& h) {
    static constexpr std::string_view kDeflate = "permessage-deflate";
    while (!head.empty()) {
        const size_t eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        head.remove_prefix(eol + 2);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "upgrade")) {
            h.upgrade = iequals(value, "websocket");
        } else if (iequals(name, "connection")) {
            h.connection = h.connection || has_token(value, "upgrade");
        } else if (iequals(name, "sec-websocket-accept")) {
            h.accept_seen = true;
            h.accept_ok = value == expected_accept;
        } else if (iequals(name, "sec-websocket-extensions")) {
            const bool is_deflate =
                value.size() >= kDeflate.size() && iequals(value.substr(0, kDeflate.size()), kDeflate) &&
                (value.size() == kDeflate.size() || value[kDeflate.size()] == ';' || value[kDeflate.size()] == ' ');
            if (deflate_offered && is_deflate)
                h.deflate = true;
            else
                h.extensions = h.extensions || !value.empty();
        }
    }
    return true;
}

}  // namespace

UpgradeCheck check_upgrade_response(std::string_view received, std::string_view key, bool deflate_offered) {
    UpgradeCheck out;
    size_t end = received.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > kMaxUpgradeResponseBytes) {
        if (received.size() >= kMaxUpgradeResponseBytes) {
            out.status = UpgradeStatus::bad;
            out.error = "response head longer than " + std::to_string(kMaxUpgradeResponseBytes) + " bytes";
        }
        return out;
    }
    out.header_bytes = end + 4;
    std::string_view head = received.substr(0, end + 2);  // every line ends with CRLF
    size_t eol = head.find("\r\n");
    if (!read_status_line(head.substr(0, eol), out)) return out;
    head.remove_prefix(eol + 2);
    if (out.http_status != 101) {
        out.status = UpgradeStatus::refused;
        out.error = "HTTP " + std::to_string(out.http_status);
        return out;
    }
    UpgradeHeaders h;
    out.status = UpgradeStatus::bad;
    if (!read_upgrade_headers(head, websocket_accept(key), deflate_offered, h)) {
        out.error = "malformed header line";
    } else if (!h.upgrade) {
        out.error = "no 'Upgrade: websocket'";
    } else if (!h.connection) {
        out.error = "no 'Connection: upgrade'";
    } else if (!h.accept_seen) {
        out.error = "no Sec-WebSocket-Accept";
    } else if (!h.accept_ok) {
        out.error = "wrong Sec-WebSocket-Accept";
    } else if (h.extensions) {
        out.error = "server negotiated an extension that was not offered";
    } else {
        // Reported only on ok: a caller that looks at .deflate alone must
        // not see it set on a response refused for another reason (found
        // by fuzzing).
        out.status = UpgradeStatus::ok;
        out.deflate = h.deflate;
    }
    return out;
}

const char* parse_error_text(ParseError e) {
    switch (e) {
    case ParseError::none: return "no error";
    case ParseError::masked: return "server frame is masked";
    case ParseError::reserved_bits: return "reserved bits set";
    case ParseError::bad_opcode: return "unknown opcode";
    case ParseError::bad_control: return "control frame fragmented or over 125 bytes";
    case ParseError::bad_continuation: return "unexpected continuation or data frame";
    case ParseError::bad_length: return "64-bit length with the top bit set";
    case ParseError::bad_close: return "close frame with a 1-byte payload";
    case ParseError::too_big: return "message too big";
    }
    return "unknown error";
}

int parse_error_close_code(ParseError e) {
    if (e == ParseError::none) return 1000;
    return e == ParseError::too_big ? 1009 : 1002;
}

FeedStatus FrameParser::fail(ParseError e) {
    error_ = e;
    state_ = State::failed;
    msg_.clear();
    msg_.shrink_to_fit();
    ctl_.clear();
    return FeedStatus::error;
}

bool FrameParser::begin_frame() {
    const uint8_t b0 = hdr_[0], b1 = hdr_[1];
    fin_ = (b0 & 0x80) != 0;
    op_ = static_cast<Opcode>(b0 & 0x0F);
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
        len = (uint64_t{hdr_[2]} << 8) | hdr_[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
        if (len >> 63) {
            fail(ParseError::bad_length);
            return false;
        }
    }
    remaining_ = len;
    if (is_control(op_)) {
        if (!fin_ || len > 125) {
            fail(ParseError::bad_control);
            return false;
        }
        ctl_.clear();
        return true;
    }
    if (op_ == Opcode::continuation) {
        if (!in_message_) {
            fail(ParseError::bad_continuation);
            return false;
        }
        if (len > max_message_bytes_ - msg_.size()) {
            fail(ParseError::too_big);
            return false;
        }
        return true;
    }
    // text or binary: starts a message
    if (in_message_) {
        fail(ParseError::bad_continuation);
        return false;
    }
    if (len > max_message_bytes_) {
        fail(ParseError::too_big);
        return false;
    }
    msg_op_ = op_;
    msg_rsv1_ = frame_rsv1_;
    in_message_ = !fin_;
    return true;
}

// Hands a finished control frame to the sink; closed for a close frame.
// What is wrong with a server frame's first two bytes, if anything.
static std::optional<ParseError> first_bytes_error(uint8_t b0, uint8_t b1, bool allow_rsv1) {
    if (b1 & 0x80) return ParseError::masked;
    if (b0 & (allow_rsv1 ? 0x30 : 0x70)) return ParseError::reserved_bits;
    if (!valid_opcode(b0 & 0x0F)) return ParseError::bad_opcode;
    // RFC 7692 6.1: RSV1 only on the first frame of a data message.
    const uint8_t opc = b0 & 0x0F;
    if ((b0 & 0x40) && (opc == 0x0 || opc >= 0x8)) return ParseError::reserved_bits;
    return std::nullopt;
}

static FeedStatus deliver_control(Opcode op, std::string_view payload, const FrameSink& sink, int& close_code,
                                  bool& bad_close) {
    if (op == Opcode::close) {
        if (payload.size() == 1) {
            bad_close = true;
            return FeedStatus::error;
        }
        int code = kCloseNoStatus;
        std::string_view reason;
        if (payload.size() >= 2) {
            code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
            reason = payload.substr(2);
        }
        close_code = code;
        if (sink.on_close) sink.on_close(sink.ctx, code, reason);
        return FeedStatus::closed;
    }
    if (sink.on_control) sink.on_control(sink.ctx, op, payload);
    return FeedStatus::ok;
}

FeedStatus FrameParser::end_frame(const FrameSink& sink) {
    state_ = State::header;
    if (is_control(op_)) {
        bool bad_close = false;
        FeedStatus st = deliver_control(op_, ctl_, sink, close_code_, bad_close);
        ctl_.clear();
        if (bad_close) return fail(ParseError::bad_close);
        if (st == FeedStatus::closed) state_ = State::closed;
        return st;
    }
    if (fin_) {
        in_message_ = false;
        if (sink.on_message) sink.on_message(sink.ctx, msg_op_, msg_);
        msg_.clear();
        if (msg_.capacity() > 65536) msg_.shrink_to_fit();
    }
    return FeedStatus::ok;
}

FeedStatus FrameParser::feed(const uint8_t* data, size_t len, const FrameSink& sink) {
    if (state_ == State::closed) return FeedStatus::closed;
    if (state_ == State::failed) return FeedStatus::error;
    size_t pos = 0;
    while (pos < len) {
        if (state_ == State::header) {
            // Collect the header: 2 bytes, then the extended length if any.
            size_t need = 2;
            if (hdr_len_ >= 2) need = 2 + ((hdr_[1] & 0x7F) == 126 ? 2 : (hdr_[1] & 0x7F) == 127 ? 8 : 0);
            while (hdr_len_ < need && pos < len) {
                hdr_[hdr_len_++] = data[pos++];
                if (hdr_len_ == 2) {
                    if (std::optional<ParseError> e = first_bytes_error(hdr_[0], hdr_[1], allow_rsv1_)) return fail(*e);
                    frame_rsv1_ = (hdr_[0] & 0x40) != 0;
                    need = 2 + ((hdr_[1] & 0x7F) == 126 ? 2 : (hdr_[1] & 0x7F) == 127 ? 8 : 0);
                }
            }
            if (hdr_len_ < need) return FeedStatus::ok;
            hdr_len_ = 0;
            if (!begin_frame()) return FeedStatus::error;
            const size_t avail = len - pos;
            const bool control = is_control(op_);
            // Fast path: a final frame that is a whole message and lies in
            // this buffer goes to the sink without a copy.
            if (fin_ && (control || op_ != Opcode::continuation) && remaining_ <= avail) {
                std::string_view payload(reinterpret_cast<const char*>(data + pos), static_cast<size_t>(remaining_));
                pos += static_cast<size_t>(remaining_);
                remaining_ = 0;
                if (control) {
                    bool bad_close = false;
                    FeedStatus st = deliver_control(op_, payload, sink, close_code_, bad_close);
                    if (bad_close) return fail(ParseError::bad_close);
                    if (st == FeedStatus::closed) {
                        state_ = State::closed;
                        return st;
                    }
                } else if (sink.on_message) {
                    sink.on_message(sink.ctx, op_, payload);
                }
                continue;
            }
            state_ = State::payload;
            if (remaining_ == 0) {
                FeedStatus st = end_frame(sink);
                if (st != FeedStatus::ok) return st;
                continue;
            }
        }
        // state_ == payload
        FeedStatus st = take_payload(data, len, pos, sink);
        if (st != FeedStatus::ok) return st;
    }
    return FeedStatus::ok;
}

FeedStatus FrameParser::take_payload(const uint8_t* data, size_t len, size_t& pos, const FrameSink& sink) {
    size_t take = len - pos;
    if (take > remaining_) take = static_cast<size_t>(remaining_);
    const char* src = reinterpret_cast<const char*>(data + pos);
    if (is_control(op_)) {
        ctl_.append(src, take);
    } else {
        if (msg_.empty() && msg_.capacity() < remaining_) msg_.reserve(static_cast<size_t>(remaining_));
        msg_.append(src, take);
    }
    pos += take;
    remaining_ -= take;
    return remaining_ == 0 ? end_frame(sink) : FeedStatus::ok;
}

}  // namespace pushd::ws
