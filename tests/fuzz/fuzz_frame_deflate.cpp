// libFuzzer target: core/frame_deflate. The inflater reads compressed
// messages a server sent (pushd-bench, the tests); the offer parser reads
// a client's Sec-WebSocket-Extensions header; the deflater compresses each
// pushed payload once for every compressing recipient.
//
// Input: byte 0 picks the mode: 'O' + an extensions offer; anything else:
// the rest is inflated as two messages on one stream (split at byte 1's
// position), and also compressed and inflated back.
//
// Invariants checked besides the sanitizers: inflated output never exceeds
// the limit given; what deflate_message and FrameDeflater compress inflates
// back to the original bytes; a frame's compressed twin is smaller than it.
#include "core/frame_deflate.hpp"
#include "core/outq.hpp"
#include "fuzz_util.hpp"

#include <string>

using namespace pushd;

namespace {

constexpr size_t kLimit = 1 << 16;

void round_trip(std::string_view message) {
    std::string compressed;
    FUZZ_CHECK(deflate_message(message, compressed));
    MessageInflater inflater;
    std::string back;
    FUZZ_CHECK(inflater.inflate(compressed, message.size() + 1, back));
    FUZZ_CHECK(back == message);

    SharedFrame* plain = frame_create_text(message, 16);
    FUZZ_CHECK(plain != nullptr);
    FrameDeflater deflater;
    SharedFrame* v = deflater.variant_for(plain, 16);
    FUZZ_CHECK(deflater.variant_for(plain, 16) == v);  // built once
    if (v != plain) {
        FUZZ_CHECK(v->payload_len < plain->payload_len);
        std::string_view payload(reinterpret_cast<const char*>(frame_payload(v)), v->payload_len);
        MessageInflater other;
        FUZZ_CHECK(other.inflate(payload, message.size(), back));
        FUZZ_CHECK(back == message);
    }
    frame_unref(plain);  // frees the twin with it
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    std::string_view rest = fuzz::as_text(data + 1, size - 1);
    if (data[0] == 'O') {
        deflate_offer_allows_our_window(rest);
        return 0;
    }
    const size_t cut = std::min<size_t>(data[1], rest.size());
    MessageInflater inflater;
    std::string out;
    if (inflater.inflate(rest.substr(0, cut), kLimit, out)) {
        FUZZ_CHECK(out.size() <= kLimit);
        if (inflater.inflate(rest.substr(cut), kLimit, out)) FUZZ_CHECK(out.size() <= kLimit);
    }
    round_trip(rest);
    return 0;
}
