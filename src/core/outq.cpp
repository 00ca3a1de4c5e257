#include "core/outq.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace pushd {
namespace {

constexpr size_t kMaxHeader = 10;
constexpr uint32_t kKeptSlots = 4;  // ring slots an emptied queue keeps

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

const uint8_t* frame_wire(const SharedFrame* f) {
    return frame_area(f) + f->headroom + kMaxHeader - f->header_len;
}

uint8_t* frame_payload(SharedFrame* f) { return frame_area(f) + f->headroom + kMaxHeader; }

bool OutQueue::grow() {
    uint32_t cap = capacity_ ? capacity_ * 2 : 4;
    auto* ring = static_cast<SharedFrame**>(std::malloc(sizeof(SharedFrame*) * cap));
    if (!ring) return false;
    for (uint32_t i = 0; i < count_; i++) ring[i] = ring_[(head_ + i) & (capacity_ - 1)];
    std::free(ring_);
    ring_ = ring;
    capacity_ = cap;
    head_ = 0;
    return true;
}

bool OutQueue::push(SharedFrame* f, size_t cap) {
    const size_t len = frame_wire_len(f);
    if (bytes_ + len > cap) return false;
    if (count_ == capacity_ && !grow()) return false;
    frame_ref(f);
    ring_[(head_ + count_) & (capacity_ - 1)] = f;
    count_++;
    bytes_ += len;
    return true;
}

size_t OutQueue::gather(uint8_t* dst, size_t max) {
    size_t copied = 0;
    while (count_) {
        SharedFrame* f = ring_[head_];
        const size_t len = frame_wire_len(f);
        if (len > max - copied) break;
        std::memcpy(dst + copied, frame_wire(f), len);
        copied += len;
        bytes_ -= len;
        drop_head();
    }
    return copied;
}

SharedFrame* OutQueue::front() const { return count_ ? ring_[head_] : nullptr; }

void OutQueue::pop_front() {
    if (!count_) return;
    bytes_ -= frame_wire_len(ring_[head_]);
    drop_head();
}

void OutQueue::drop_head() {
    SharedFrame* f = ring_[head_];
    head_ = (head_ + 1) & (capacity_ - 1);
    count_--;
    frame_unref(f);
    // Keep a small ring for the next message; give back one grown by a burst.
    if (count_ == 0 && capacity_ > kKeptSlots) {
        std::free(ring_);
        ring_ = nullptr;
        capacity_ = 0;
        head_ = 0;
    }
}

void OutQueue::clear() {
    while (count_) {
        frame_unref(ring_[head_]);
        head_ = (head_ + 1) & (capacity_ - 1);
        count_--;
    }
    std::free(ring_);
    ring_ = nullptr;
    capacity_ = 0;
    head_ = 0;
    bytes_ = 0;
}

}  // namespace pushd
