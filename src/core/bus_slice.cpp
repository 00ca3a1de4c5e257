// Fan-out slice bounds (see bus_slice.hpp).
#include "core/bus_slice.hpp"

namespace pushd {

void BusSlice::clear() {
    entries_ = 0;
    deliveries_ = 0;
    groups_.clear();
}

bool BusSlice::admit(std::string_view group, size_t width, size_t bytes) {
    // The first entry always fits.
    const bool first = entries_ == 0;
    if (!first && (entries_ >= kEntries || deliveries_ + width > kDeliveries)) return false;
    if (!group.empty()) {
        // One lookup: a group new to the slice is added here and always fits.
        GroupShare& g = groups_[std::string(group)];
        if (!first && (g.entries >= kGroupEntries || g.bytes + bytes > kGroupBytes)) return false;
        g.entries++;
        g.bytes += bytes;
    }
    entries_++;
    deliveries_ += width;
    return true;
}

}  // namespace pushd
