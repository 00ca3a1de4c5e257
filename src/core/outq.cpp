#include "core/outq.hpp"

#include <cstdlib>
#include <cstring>

namespace pushd {
namespace {

constexpr uint32_t kKeptSlots = 4;  // ring slots an emptied queue keeps

}  // namespace

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
