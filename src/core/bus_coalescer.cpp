// The bus coalescing policy (see bus_coalescer.hpp).
#include "core/bus_coalescer.hpp"

#include <algorithm>

namespace pushd {
namespace {

// An exponential average; 0 stands for "no observation yet".
double smooth(double avg, double obs, double weight) { return avg <= 0 ? obs : avg + weight * (obs - avg); }

}  // namespace

void BusCoalescer::on_arrival(size_t entries, int64_t now_us) {
    if (entries == 0) return;
    if (seen_ && now_us - last_arrival_us_ >= settings_.idle_gap_us) {
        // A quiet spell: what was measured before says nothing about now.
        gap_us_ = cost_us_ = flush_us_ = loop_busy_ = 0;
        busy_ = false;
    } else if (seen_) {
        const double gap = static_cast<double>(std::max<int64_t>(now_us - last_arrival_us_, 0));
        gap_us_ = smooth(gap_us_, gap / static_cast<double>(entries), settings_.smoothing);
    }
    seen_ = true;
    last_arrival_us_ = now_us;
    update_busy();
}

void BusCoalescer::on_delivered(size_t entries, int64_t took_us) {
    if (entries == 0) return;
    const double took = static_cast<double>(std::max<int64_t>(took_us, 0));
    cost_us_ = smooth(cost_us_, took / static_cast<double>(entries), settings_.smoothing);
    flush_us_ = smooth(flush_us_, took, settings_.smoothing);
    update_busy();
}

void BusCoalescer::on_loop_busy(double share) {
    loop_busy_ = smooth(loop_busy_, std::clamp(share, 0.0, 1.0), settings_.smoothing);
    update_busy();
}

double BusCoalescer::load() const {
    const double delivering = gap_us_ > 0 && cost_us_ > 0 ? cost_us_ / gap_us_ : 0;
    return std::max(delivering, loop_busy_);
}

// Hysteresis: holding starts at enter_load and stops below leave_load, so
// the cheaper flushes that holding brings do not switch it off at once.
void BusCoalescer::update_busy() {
    const double l = load();
    if (!busy_ && l >= settings_.enter_load) busy_ = true;
    if (busy_ && l < settings_.leave_load) busy_ = false;
}

// One flush's duration, or the time to the next entry when longer (so a
// hold at saturation, where the two are about equal, expects company).
int64_t BusCoalescer::hold_window_us() const {
    if (!busy_) return 0;
    const auto want = static_cast<int64_t>(std::max(flush_us_, gap_us_));
    return std::clamp(want, settings_.min_hold_us, settings_.max_hold_us);
}

int64_t BusCoalescer::hold_us(size_t pending, int64_t oldest_us, int64_t now_us) const {
    if (pending == 0 || pending >= settings_.max_entries || settings_.mode == CoalesceMode::off) return 0;
    int64_t window = settings_.max_hold_us;
    if (settings_.mode == CoalesceMode::automatic) {
        // No further entry expected within the longest hold (or no gap
        // measured yet): waiting would only add latency (100 msg/s: 10 ms
        // apart).
        if (!busy_ || gap_us_ <= 0 || gap_us_ > static_cast<double>(settings_.max_gap_us)) return 0;
        window = hold_window_us();
    }
    const int64_t waited = now_us - oldest_us;
    if (waited < 0) return window;  // a clock step backwards: still bounded by the window
    return waited >= window ? 0 : window - waited;
}

}  // namespace pushd
