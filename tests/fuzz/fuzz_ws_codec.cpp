// libFuzzer target: client/ws_codec, the client side of RFC 6455 (pushd-bench, the tests): the
// incremental parser of server frames and the check of the upgrade
// response, both fed bytes from a server that may be hostile.
//
// Input: byte 0 picks the split size for a second pass and whether RSV1 is
// allowed; the rest is the byte stream.
//
// Invariants checked besides the sanitizers:
//  - feeding the stream whole and in pieces of any size gives the same
//    events and the same final status and error (the parser keeps state
//    across feeds correctly);
//  - no message delivered exceeds max_message_bytes and the assembly
//    buffer never holds more than it plus one control frame;
//  - check_upgrade_response says `incomplete` only without a blank line,
//    and never reports more header bytes than it was given.
#include "client/ws_codec.hpp"
#include "fuzz_util.hpp"

#include <string>

using namespace pushd::ws;

namespace {

constexpr size_t kMaxMessage = 4096;

struct Recorder {
    std::string log;  // one record per event, with its bytes
    FrameSink sink() {
        FrameSink s;
        s.ctx = this;
        s.on_message = [](void* c, Opcode op, std::string_view p) {
            FUZZ_CHECK(p.size() <= kMaxMessage);
            auto* r = static_cast<Recorder*>(c);
            r->log += "M" + std::to_string(static_cast<int>(op)) + ":" + std::to_string(p.size()) + ":";
            r->log.append(p);
        };
        s.on_control = [](void* c, Opcode op, std::string_view p) {
            FUZZ_CHECK(p.size() <= 125);
            auto* r = static_cast<Recorder*>(c);
            r->log += "C" + std::to_string(static_cast<int>(op)) + ":" + std::to_string(p.size()) + ":";
            r->log.append(p);
        };
        s.on_close = [](void* c, int code, std::string_view reason) {
            auto* r = static_cast<Recorder*>(c);
            r->log += "X" + std::to_string(code) + ":" + std::to_string(reason.size()) + ":";
            r->log.append(reason);
        };
        return s;
    }
};

struct Outcome {
    std::string log;
    FeedStatus status;
    ParseError error;
    int close_code;
};

Outcome run(std::string_view bytes, size_t step, bool rsv1) {
    FrameParser p(kMaxMessage);
    p.set_allow_rsv1(rsv1);
    Recorder rec;
    FrameSink sink = rec.sink();
    FeedStatus st = FeedStatus::ok;
    for (size_t at = 0; at < bytes.size(); at += step) {
        st = p.feed(bytes.substr(at, step), sink);
        FUZZ_CHECK(p.buffered_bytes() <= kMaxMessage + 125);
    }
    if (bytes.empty()) st = p.feed(bytes, sink);
    return {rec.log, st, p.error(), st == FeedStatus::closed ? p.close_code() : 0};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t step = (data[0] & 0x7F) % 17 + 1;
    const bool rsv1 = data[0] & 0x80;
    std::string_view bytes = pushd::fuzz::as_text(data + 1, size - 1);

    Outcome whole = run(bytes, bytes.empty() ? 1 : bytes.size(), rsv1);
    Outcome pieces = run(bytes, step, rsv1);
    FUZZ_CHECK(whole.log == pieces.log);
    FUZZ_CHECK(whole.status == pieces.status);
    FUZZ_CHECK(whole.error == pieces.error);
    FUZZ_CHECK(whole.close_code == pieces.close_code);
    FUZZ_CHECK(parse_error_text(whole.error) != nullptr);

    const std::string key = make_websocket_key("0123456789abcdef");
    for (bool deflate : {false, true}) {
        UpgradeCheck u = check_upgrade_response(bytes, key, deflate);
        if (u.status == UpgradeStatus::incomplete)
            FUZZ_CHECK(bytes.find("\r\n\r\n") == std::string_view::npos);
        else
            FUZZ_CHECK(u.header_bytes <= bytes.size());
        if (u.status == UpgradeStatus::ok) FUZZ_CHECK(u.http_status == 101);
        if (u.deflate) FUZZ_CHECK(deflate && u.status == UpgradeStatus::ok);
    }
    return 0;
}
