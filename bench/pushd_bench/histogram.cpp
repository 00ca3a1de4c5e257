// A bounded latency histogram for pushd-bench (see histogram.hpp).
#include "histogram.hpp"

#include <algorithm>

namespace pushd_bench {
namespace {

constexpr size_t kLinear = 128;  // exact values below this
constexpr size_t kSub = 64;      // sub-buckets per power of two above it
constexpr size_t kBuckets = kLinear + (64 - 7) * kSub;

}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

size_t Histogram::bucket_of(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    int msb = 63 - __builtin_clzll(v);  // >= 7
    uint64_t sub = v >> (msb - 6);      // 64..127
    return kLinear + static_cast<size_t>(msb - 7) * kSub + static_cast<size_t>(sub - 64);
}

uint64_t Histogram::upper_of(size_t b) {
    if (b < kLinear) return b;
    size_t k = b - kLinear;
    int msb = static_cast<int>(k / kSub) + 7;
    uint64_t sub = (k % kSub) + 64;
    // Values in this bucket: [sub << (msb-6), ((sub+1) << (msb-6)) - 1]
    return ((sub + 1) << (msb - 6)) - 1;
}

void Histogram::add(uint64_t v) {
    buckets_[bucket_of(v)]++;
    count_++;
    sum_ += v;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
}

void Histogram::reset() {
    std::fill(buckets_.begin(), buckets_.end(), 0);
    count_ = 0;
    max_ = 0;
    min_ = UINT64_MAX;
    sum_ = 0;
}

uint64_t Histogram::quantile(double q) const {
    if (count_ == 0) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;  // 1-based
    uint64_t seen = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
        seen += buckets_[b];
        if (seen >= rank) {
            uint64_t u = upper_of(b);
            return u < max_ ? u : max_;
        }
    }
    return max_;
}

}  // namespace pushd_bench
