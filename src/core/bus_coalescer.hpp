// When to deliver the bus entries read so far: at once, or after holding
// them a little so that one fan-out flush carries several frames per
// connection (one write each) instead of one.
//
// Why: a delivery's cost is mostly the kernel's per-write cost (the TCP
// send path and the loopback receive in softirq), paid once per write
// whatever it carries. When publishers keep the pipe full, the bus hands
// over one or two entries per read and every flush writes one frame per
// connection; the loop never gets ahead. Holding entries while the loop is
// busy lets the next flush carry everything that arrived meanwhile.
//
// The policy measures the time between bus entries (per entry, an
// exponential average), what delivering and flushing one entry costs
// (likewise), and the share of the time the loop is not waiting for events
// (from the caller). The larger of that share and cost/gap is the "load":
// how busy the loop is. Entries are held only while the load is high (from
// enter_load until it falls below leave_load) and entries come closer
// together than max_gap_us; then for about one flush's duration, never
// longer than max_hold_us, and not once max_entries wait. A gap of
// idle_gap_us without entries forgets the estimates: the first entry after
// a quiet spell is delivered at once, so the latency at low rates stays
// what it was. Time is a parameter (microseconds, any monotonic origin);
// nothing here reads a clock. docs/behaviour.md says what it trades.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pushd {

// automatic: the policy above; off: never hold (for comparison); always:
// hold every slice for max_hold_us or max_entries (tests, diagnostics).
enum class CoalesceMode : uint8_t { automatic, off, always };

struct CoalesceSettings {
    CoalesceMode mode = CoalesceMode::automatic;
    // An entry waits at most this long for company. 4.5 ms since Nagle is
    // off (issue 16): a slice to 1,000 connections then costs ~7 ms of
    // sends, and 3 ms holds left the closed loop between two rates (2 and
    // 4 M deliveries/s); 6 ms raised the rate but the p99 to ~30 ms.
    int64_t max_hold_us = 4500;
    int64_t max_gap_us = 3000;    // hold only while entries come closer together than this (100 msg/s: never)
    int64_t min_hold_us = 500;    // holds shorter than this are not worth a timer
    size_t max_entries = 64;      // deliver at once when this many wait (one bus slice)
    double enter_load = 0.5;      // start holding when delivering takes this share of the time
    double leave_load = 0.25;     // stop holding below this share
    int64_t idle_gap_us = 20000;  // no entry for this long: the estimates start over
    double smoothing = 0.25;      // weight of a new observation in the averages
};

class BusCoalescer {
public:
    explicit BusCoalescer(CoalesceSettings settings = {}) : settings_(settings) {}

    /* `entries` (> 0) bus entries were read at `now_us`. */
    void on_arrival(size_t entries, int64_t now_us);

    /* `entries` (> 0) were delivered and flushed, which took `took_us`. */
    void on_delivered(size_t entries, int64_t took_us);

    /* Since the last call, the loop was busy (not waiting for events) this
     * share of the time, 0 to 1: its other work (requests, storage
     * replies) and time it could not run count too. */
    void on_loop_busy(double share);

    /* How much longer the `pending` entries, the oldest read at
     * `oldest_us`, may wait before they are delivered: 0 to deliver now,
     * else at most settings.max_hold_us after the oldest was read. */
    int64_t hold_us(size_t pending, int64_t oldest_us, int64_t now_us) const;

    /* Holding entries now (the load is high). */
    bool busy() const { return busy_; }
    /* How busy the loop is: the larger of the share of the time spent
     * delivering and the loop's busy share (0 until measured). */
    double load() const;
    /* The hold the policy aims for now (0 when not busy): one flush's
     * duration or the time between entries, the longer, within
     * [min_hold_us, max_hold_us]. */
    int64_t hold_window_us() const;

    const CoalesceSettings& settings() const { return settings_; }

private:
    void update_busy();

    CoalesceSettings settings_;
    bool seen_ = false;            // an entry arrived since the start or the last idle gap
    int64_t last_arrival_us_ = 0;  // of the last read with entries
    double gap_us_ = 0;            // average time between entries (0: unknown)
    double cost_us_ = 0;           // average delivery + flush time per entry (0: unknown)
    double flush_us_ = 0;          // average duration of one delivery + flush
    double loop_busy_ = 0;         // average busy share of the loop
    bool busy_ = false;
};

}  // namespace pushd
