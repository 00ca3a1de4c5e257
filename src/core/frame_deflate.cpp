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

namespace {

// Compresses `in` on `z` after a reset (a fresh stream: no context
// takeover) into `out` (grown as needed). Returns the compressed length
// without the tail, or -1.
long compress_message(z_stream& z, const uint8_t* in, size_t len, std::vector<uint8_t>& out) {
    if (deflateReset(&z) != Z_OK) return -1;
    const uLong bound = deflateBound(&z, len) + 16;
    if (out.size() < bound) out.resize(bound);
    z.next_in = const_cast<Bytef*>(in);
    z.avail_in = static_cast<uInt>(len);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    // A sync flush ends the message on a byte boundary with an empty stored
    // block (00 00 ff ff), which RFC 7692 7.2.1 says to remove.
    if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0) return -1;
    size_t n = out.size() - z.avail_out;
    static const uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
    if (n < 4 || std::memcmp(out.data() + n - 4, kTail, 4) != 0) return -1;
    return static_cast<long>(n - 4);
}

}  // namespace

bool deflate_message(std::string_view message, std::string& out) {
    std::vector<uint8_t> buf;
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kDeflateWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    long n = compress_message(z, reinterpret_cast<const uint8_t*>(message.data()), message.size(), buf);
    deflateEnd(&z);
    if (n < 0) return false;
    out.assign(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
    return true;
}

SharedFrame* FrameDeflater::variant_for(SharedFrame* plain, size_t headroom) {
    if (plain->deflated) return plain->deflated;
    plain->deflated = plain;  // until a smaller twin exists: send it as it is
    if (plain->payload_len < kDeflateMinPayload || !stream_->ready) return plain;
    long c = compress_message(stream_->z, frame_payload(plain), plain->payload_len, stream_->out);
    if (c < 0) return plain;
    const size_t n = static_cast<size_t>(c);
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

struct MessageInflater::Stream {
    z_stream z{};
    bool ready = false;
};

MessageInflater::MessageInflater() : stream_(std::make_unique<Stream>()) {
    stream_->ready = inflateInit2(&stream_->z, -kDeflateWindowBits) == Z_OK;
}

MessageInflater::~MessageInflater() {
    if (stream_->ready) inflateEnd(&stream_->z);
}

bool MessageInflater::inflate(std::string_view compressed, size_t max_bytes, std::string& out) {
    out.clear();
    if (!stream_->ready) return false;
    z_stream& z = stream_->z;
    auto broken = [&] {
        stream_->ready = false;
        inflateEnd(&z);
        return false;
    };
    static const uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t chunk[16384];
    // The message, then the tail the sender removed (RFC 7692 7.2.2).
    const std::string_view parts[2] = {compressed, std::string_view(reinterpret_cast<const char*>(kTail), 4)};
    for (size_t i = 0; i < 2; i++) {
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(parts[i].data()));
        z.avail_in = static_cast<uInt>(parts[i].size());
        // Until the input is used up and the last call left output room
        // (a full buffer may mean more output is pending).
        do {
            z.next_out = chunk;
            z.avail_out = sizeof chunk;
            int rc = ::inflate(&z, Z_SYNC_FLUSH);
            const size_t got = sizeof chunk - z.avail_out;
            if ((rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) || out.size() + got > max_bytes)
                return broken();
            out.append(reinterpret_cast<const char*>(chunk), got);
            if (rc == Z_STREAM_END) {
                // A final block ended the sender's stream (RFC 7692
                // 7.2.3.3 allows it in place of the empty stored block):
                // the message is whole, the tail we append belongs to no
                // block, and the next message starts a fresh stream. Bytes
                // of the message after its final block are corrupt.
                if ((i == 0 && z.avail_in > 0) || inflateReset(&z) != Z_OK) return broken();
                return true;
            }
            if (rc == Z_BUF_ERROR && got == 0) break;  // no progress possible
        } while (z.avail_in > 0 || z.avail_out == 0);
    }
    return true;
}

}  // namespace pushd
