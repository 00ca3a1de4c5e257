#include "core/frame.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace pushd {
namespace {

constexpr size_t kMaxHeader = 10;

// Process-wide (instances may run on several threads): relaxed counts, read
// only for /metrics.
std::atomic<uint64_t> g_frames_live{0};
std::atomic<uint64_t> g_frame_bytes_live{0};

size_t frame_alloc_size(size_t headroom, size_t payload_len) {
    return sizeof(SharedFrame) + headroom + kMaxHeader + payload_len;
}

uint8_t* frame_area(SharedFrame* f) { return reinterpret_cast<uint8_t*>(f + 1); }
const uint8_t* frame_area(const SharedFrame* f) { return reinterpret_cast<const uint8_t*>(f + 1); }

// A server frame (unmasked) whose first header byte is `first_byte` (FIN,
// RSV bits, opcode), holding `payload`, with `headroom` spare bytes before.
SharedFrame* frame_create(uint8_t first_byte, std::string_view payload, size_t headroom) {
    if (payload.size() > UINT32_MAX - kMaxHeader - headroom) return nullptr;
    const size_t size = frame_alloc_size(headroom, payload.size());
    void* mem = std::malloc(size);
    if (!mem) return nullptr;
    g_frames_live.fetch_add(1, std::memory_order_relaxed);
    g_frame_bytes_live.fetch_add(size, std::memory_order_relaxed);
    auto* f = static_cast<SharedFrame*>(mem);
    f->refs = 1;
    f->payload_len = static_cast<uint32_t>(payload.size());
    f->headroom = static_cast<uint32_t>(headroom);
    f->deflated = nullptr;
    uint8_t* body = frame_area(f) + headroom + kMaxHeader;
    if (!payload.empty()) std::memcpy(body, payload.data(), payload.size());
    // Server frames are unmasked: the first byte, then a 7-bit, 16-bit or
    // 64-bit length.
    uint8_t hdr[kMaxHeader];
    size_t n = 0;
    const uint64_t len = payload.size();
    hdr[n++] = first_byte;
    if (len < 126) {
        hdr[n++] = static_cast<uint8_t>(len);
    } else if (len < 65536) {
        hdr[n++] = 126;
        hdr[n++] = static_cast<uint8_t>(len >> 8);
        hdr[n++] = static_cast<uint8_t>(len);
    } else {
        hdr[n++] = 127;
        for (int shift = 56; shift >= 0; shift -= 8) hdr[n++] = static_cast<uint8_t>(len >> shift);
    }
    f->header_len = static_cast<uint32_t>(n);
    std::memcpy(body - n, hdr, n);
    return f;
}

}  // namespace

SharedFrame* frame_create_text(std::string_view payload, size_t headroom, bool rsv1) {
    return frame_create(rsv1 ? 0xC1 : 0x81, payload, headroom);  // FIN | (RSV1) | text
}

SharedFrame* frame_create_ping(std::string_view payload, size_t headroom) {
    return frame_create(0x89, payload, headroom);  // FIN | ping
}

void frame_unref(SharedFrame* f) {
    if (--f->refs != 0) return;
    if (f->deflated && f->deflated != f) frame_unref(f->deflated);
    g_frames_live.fetch_sub(1, std::memory_order_relaxed);
    g_frame_bytes_live.fetch_sub(frame_alloc_size(f->headroom, f->payload_len), std::memory_order_relaxed);
    std::free(f);
}

FramePoolLevel frame_pool_level() {
    return {g_frames_live.load(std::memory_order_relaxed), g_frame_bytes_live.load(std::memory_order_relaxed)};
}

const uint8_t* frame_wire(const SharedFrame* f) { return frame_area(f) + f->headroom + kMaxHeader - f->header_len; }

uint8_t* frame_payload(SharedFrame* f) { return frame_area(f) + f->headroom + kMaxHeader; }

}  // namespace pushd
