// Token bucket as GCRA (see ratelimit.hpp).
#include "core/ratelimit.hpp"

#include <algorithm>

namespace pushd {

RateVerdict rate_take(RateBucket& bucket, int64_t rate_per_s, int64_t burst, int64_t now_ms) {
    rate_per_s = std::max<int64_t>(rate_per_s, 1);
    burst = std::max<int64_t>(burst, 1);
    const int64_t interval_us = std::max<int64_t>(1000000 / rate_per_s, 1);
    const int64_t tolerance_us = interval_us * (burst - 1);
    const int64_t now_us = now_ms * 1000;
    // After a clock step backwards, a theoretical arrival time far in the
    // future would refuse for that long: never hold more than a full burst.
    const int64_t tat = std::clamp(bucket.tat_us, now_us, now_us + tolerance_us + interval_us);
    if (tat - now_us <= tolerance_us) {
        bucket.tat_us = tat + interval_us;
        return RateVerdict::allowed;
    }
    bucket.tat_us = tat;
    const auto now32 = static_cast<uint32_t>(now_ms);
    if (bucket.refused == 0 || now32 - bucket.window_start_ms >= 1000) {
        bucket.window_start_ms = now32;
        bucket.refused = 0;
    }
    if (bucket.refused < UINT32_MAX) bucket.refused++;
    return bucket.refused >= kAbuseFactor * rate_per_s ? RateVerdict::abusive : RateVerdict::refused;
}

}  // namespace pushd
