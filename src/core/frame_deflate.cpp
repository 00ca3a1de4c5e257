#include "core/frame_deflate.hpp"

#include <zlib.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace pushd {

struct FrameDeflater::Stream {
    z_stream z{};
    bool ready = false;
    std::vector<uint8_t> out;  // reused output buffer
};

bool deflate_offer_allows_our_window(std::string_view offer) {
    static constexpr std::string_view kParam = "server_max_window_bits";
    for (size_t pos = offer.find(kParam); pos != std::string_view::npos;
         pos = offer.find(kParam, pos + kParam.size())) {
        size_t i = pos + kParam.size();
        while (i < offer.size() && offer[i] == ' ') i++;
        if (i >= offer.size() || offer[i] != '=') continue;  // no value: no limit
        i++;
        while (i < offer.size() && (offer[i] == ' ' || offer[i] == '"')) i++;
        int bits = 0;
        size_t digits = 0;
        while (i < offer.size() && offer[i] >= '0' && offer[i] <= '9' && digits < 3) {
            bits = bits * 10 + (offer[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || bits < kDeflateWindowBits) return false;
    }
    return true;
}

FrameDeflater::FrameDeflater() : stream_(std::make_unique<Stream>()) {
    // Negative window bits: raw deflate, no zlib header (RFC 7692 7.2.1).
    // Level 6 (zlib's default): a message is compressed once per instance
    // however many recipients it has, so ratio matters more than speed.
    stream_->ready = deflateInit2(&stream_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kDeflateWindowBits, 8,
                                  Z_DEFAULT_STRATEGY) == Z_OK;
}

FrameDeflater::~FrameDeflater() {
    if (stream_->ready) deflateEnd(&stream_->z);
}

SharedFrame* FrameDeflater::variant_for(SharedFrame* plain, size_t headroom) {
    if (plain->deflated) return plain->deflated;
    plain->deflated = plain;  // until a smaller twin exists: send it as it is
    if (plain->payload_len < kDeflateMinPayload || !stream_->ready) return plain;
    z_stream& z = stream_->z;
    if (deflateReset(&z) != Z_OK) return plain;  // no context takeover: a fresh stream per message
    const uLong bound = deflateBound(&z, plain->payload_len) + 16;
    if (stream_->out.size() < bound) stream_->out.resize(bound);
    z.next_in = frame_payload(plain);
    z.avail_in = plain->payload_len;
    z.next_out = stream_->out.data();
    z.avail_out = static_cast<uInt>(stream_->out.size());
    // A sync flush ends the message on a byte boundary with an empty stored
    // block (00 00 ff ff), which RFC 7692 7.2.1 says to remove.
    if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0) return plain;
    size_t n = stream_->out.size() - z.avail_out;
    static const uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
    if (n < 4 || std::memcmp(stream_->out.data() + n - 4, kTail, 4) != 0) return plain;
    n -= 4;
    if (n >= plain->payload_len) return plain;  // incompressible: the plain frame is shorter
    SharedFrame* twin =
        frame_create_text(std::string_view(reinterpret_cast<const char*>(stream_->out.data()), n), headroom, true);
    if (!twin) return plain;
    compressed_++;
    bytes_in_ += plain->payload_len;
    bytes_out_ += n;
    plain->deflated = twin;  // the plain frame owns the twin's reference
    return twin;
}

}  // namespace pushd
