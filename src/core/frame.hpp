// SharedFrame: one server frame, pre-framed and reference-counted.
//
// A message pushed to many connections is serialized once into one
// SharedFrame: the complete RFC 6455 server frame (FIN + text opcode,
// unmasked length, payload), reference-counted and shared by every
// recipient's OutQueue (outq.hpp). Because the wire bytes are final, several
// queued frames can be copied back to back and leave in one write (one
// system call) instead of one write per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pushd {

struct SharedFrame {
    uint32_t refs;
    uint32_t header_len;  // 2, 4 or 10 bytes of WebSocket header before the payload
    uint32_t payload_len;
    uint32_t headroom;  // bytes free before the header (for writers that prepend)
    // permessage-deflate: the compressed twin of this frame for connections
    // that negotiated it, built on first need and owned (one reference) by
    // this frame; nullptr: not built yet; this frame itself: compression
    // does not pay for this payload (see frame_deflate.hpp).
    SharedFrame* deflated;
    // followed by: headroom bytes, the 10-byte header area, the payload
};

// Builds a text frame holding `payload`, with `headroom` spare bytes before
// the header (pass LWS_PRE). Returns a frame with one reference owned by
// the caller, or nullptr when memory runs out.
// `rsv1` marks the payload as compressed (permessage-deflate, RFC 7692).
SharedFrame* frame_create_text(std::string_view payload, size_t headroom, bool rsv1 = false);

// Builds a ping control frame (FIN | opcode 9) holding `payload` (at most
// 125 bytes: the caller's duty), with `headroom` as for frame_create_text.
SharedFrame* frame_create_ping(std::string_view payload, size_t headroom);

// Adds a reference.
inline void frame_ref(SharedFrame* f) { f->refs++; }

// Drops a reference; frees the frame when it was the last.
void frame_unref(SharedFrame* f);

// The frames of this process allocated and not yet freed, and their
// allocated bytes: the frame pool that /metrics reports, so that a lost
// reference shows as a level that does not come back down (tests/soak).
struct FramePoolLevel {
    uint64_t frames = 0;
    uint64_t bytes = 0;
};
FramePoolLevel frame_pool_level();

// One owned reference to a SharedFrame, dropped when the holder goes:
// frames waiting outside an OutQueue (held behind a replay or an ack) are
// owned through it, so no path can forget an unref. Move-only.
class FrameRef {
public:
    FrameRef() = default;
    // Takes over one reference the caller owns (as frame_create_* return it).
    static FrameRef adopt(SharedFrame* f) {
        FrameRef r;
        r.f_ = f;
        return r;
    }
    // Adds a reference of its own to `f` (which may be nullptr).
    static FrameRef share(SharedFrame* f) {
        if (f) frame_ref(f);
        return adopt(f);
    }
    FrameRef(FrameRef&& o) noexcept : f_(o.f_) { o.f_ = nullptr; }
    FrameRef& operator=(FrameRef&& o) noexcept {
        if (this != &o) {
            reset();
            f_ = o.f_;
            o.f_ = nullptr;
        }
        return *this;
    }
    FrameRef(const FrameRef&) = delete;
    FrameRef& operator=(const FrameRef&) = delete;
    ~FrameRef() { reset(); }
    void reset() {
        if (f_) frame_unref(f_);
        f_ = nullptr;
    }
    SharedFrame* get() const { return f_; }
    explicit operator bool() const { return f_ != nullptr; }

private:
    SharedFrame* f_ = nullptr;
};

// The complete wire frame (header + payload) and its length.
const uint8_t* frame_wire(const SharedFrame* f);
inline size_t frame_wire_len(const SharedFrame* f) { return f->header_len + f->payload_len; }

// The payload alone (the JSON text). There are at least `headroom` writable
// bytes before the header, so a writer that frames by itself may prepend.
uint8_t* frame_payload(SharedFrame* f);

}  // namespace pushd
