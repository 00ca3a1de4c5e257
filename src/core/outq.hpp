// The per-connection output queue of pre-framed server frames (frame.hpp):
// whole frames in order, capped in bytes, copied back to back into one
// write.
#pragma once

#include "core/frame.hpp"

#include <cstddef>
#include <cstdint>

namespace pushd {

// One connection's unsent frames, in order, capped in bytes. A connection
// that never received anything holds no ring; a drained one keeps a 4-slot
// ring (32 bytes) so steady traffic does not allocate per message.
class OutQueue {
public:
    OutQueue() = default;
    OutQueue(const OutQueue&) = delete;
    OutQueue& operator=(const OutQueue&) = delete;
    ~OutQueue() { clear(); }

    // Appends `f` (taking a new reference) unless the queued bytes would
    // exceed `cap`; then nothing is queued and false is returned (the caller
    // closes the connection as a slow consumer).
    bool push(SharedFrame* f, size_t cap);

    // Copies whole queued frames into `dst`, back to back, while they fit in
    // `max` bytes, and drops them from the queue. Never splits a frame, so
    // the caller's write ends on a frame boundary. Returns the bytes copied:
    // 0 when the oldest frame alone is larger than `max` (write it from
    // front() and pop_front() it instead).
    size_t gather(uint8_t* dst, size_t max);

    // The oldest frame, still queued, or nullptr; pop_front() drops it.
    SharedFrame* front() const;
    void pop_front();

    // Drops every frame (and this queue's references) and frees the ring.
    void clear();

    bool empty() const { return count_ == 0; }
    size_t frames() const { return count_; }
    // Queued wire bytes.
    size_t bytes() const { return bytes_; }

private:
    bool grow();
    void drop_head();  // unlinks and unrefs the head frame; bytes_ untouched

    SharedFrame** ring_ = nullptr;
    uint32_t capacity_ = 0;  // slots in ring_ (a power of two)
    uint32_t head_ = 0;      // index of the oldest frame
    uint32_t count_ = 0;
    size_t bytes_ = 0;
};

}  // namespace pushd
