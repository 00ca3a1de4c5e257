// How many bus entries one fan-out slice takes: bounded per connection and
// per loop iteration, not per entry.
//
// Why: a slice is delivered in one loop iteration and flushed with one
// write per connection, so what matters is (1) what one connection can be
// handed at once (the entries of one group: Limits.MaxQueueBytes must hold
// them for a client that keeps up) and (2) how long the iteration takes
// (the frames queued in all: every entry times its local subscribers).
// Counting entries alone (64) made a slice of a 1000-subscriber group 64k
// frames but one over 100 groups of 100 only 6.4k, with under one frame
// per connection: one write per delivery, the kernel's per-write cost
// paid on each (issue 16's many-group scenario). A slice now ends when one
// group has kGroupEntries entries or kGroupBytes bytes in it, when
// kDeliveries frames are queued in all, or at kEntries entries; the first
// entry always fits. Pure: the caller says what each entry is.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pushd {

class BusSlice {
public:
    static constexpr size_t kGroupEntries = 64;
    static constexpr size_t kGroupBytes = 16 * 1024;
    static constexpr size_t kDeliveries = 64 * 1024;
    static constexpr size_t kEntries = 512;

    /* Starts a new slice. */
    void clear();

    /* Takes an entry into the slice unless it would break a bound: its
     * `group` ("" for entries that go to no group: notifications,
     * control), its `width` (the frames it queues here) and its `bytes`.
     * False: the slice is full; the entry goes in the next one. */
    bool admit(std::string_view group, size_t width, size_t bytes);

    size_t entries() const { return entries_; }
    size_t deliveries() const { return deliveries_; }

private:
    struct GroupShare {
        size_t entries = 0;
        size_t bytes = 0;
    };
    size_t entries_ = 0;
    size_t deliveries_ = 0;
    // Per group in this slice; cleared (buckets kept) per slice.
    std::unordered_map<std::string, GroupShare> groups_;
};

}  // namespace pushd
