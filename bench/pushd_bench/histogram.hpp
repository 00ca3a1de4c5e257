// pushd-bench's latency histogram: bounded memory whatever the count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pushd_bench {

// Log-linear histogram of non-negative integers (nanoseconds here): exact
// below 128, then 64 sub-buckets per power of two (relative error under
// 1.6%). Fixed memory (~30 KiB) whatever the count.
class Histogram {
public:
    Histogram();
    /* Records one value. */
    void add(uint64_t v);
    /* Forgets every value. */
    void reset();
    uint64_t count() const { return count_; }
    uint64_t max() const { return max_; }
    uint64_t min() const { return count_ ? min_ : 0; }
    double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
    /* The value at quantile q (0..1): the upper edge of the bucket holding
     * the q-th value, capped at max(). 0 when empty. */
    uint64_t quantile(double q) const;

private:
    static size_t bucket_of(uint64_t v);
    static uint64_t upper_of(size_t bucket);
    std::vector<uint64_t> buckets_;
    uint64_t count_ = 0;
    uint64_t max_ = 0;
    uint64_t min_ = UINT64_MAX;
    unsigned __int128 sum_ = 0;
};

}  // namespace pushd_bench
