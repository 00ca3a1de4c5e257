// Fan-out slice bounds (see bus_slice.hpp).
#include "core/bus_slice.hpp"

namespace pushd {

void BusSlice::clear() {
    entries_ = 0;
    deliveries_ = 0;
    groups_.clear();
}

bool BusSlice::admit(std::string_view group, size_t width, size_t bytes) {
    if (entries_ > 0) {
        if (entries_ >= kEntries || deliveries_ + width > kDeliveries) return false;
        if (!group.empty()) {
            auto it = groups_.find(std::string(group));
            if (it != groups_.end() && (it->second.entries >= kGroupEntries || it->second.bytes + bytes > kGroupBytes))
                return false;
        }
    }
    entries_++;
    deliveries_ += width;
    if (!group.empty()) {
        GroupShare& g = groups_[std::string(group)];
        g.entries++;
        g.bytes += bytes;
    }
    return true;
}

}  // namespace pushd
