// One measured fan-out window of pushd-bench: its counters (filled by the
// Runner as acks and deliveries arrive), the figures worked out from them
// and from the host samples taken around it, and its verdict.
//
// Pure: counters and samples in, numbers out; no clocks, no /proc (the
// samples are taken by host_sample). Unit-tested.
#pragma once

#include "histogram.hpp"
#include "host_sample.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pushd_bench {

// Counters of one measured window; times are CLOCK_MONOTONIC ns.
struct Window {
    uint64_t first_seq = 0;  // deliveries with a smaller seq belong to earlier windows
    uint64_t t0 = 0, end = 0;
    uint64_t sent = 0, acked_ok = 0, ack_failed = 0, errors = 0;
    uint64_t delivered = 0, in_window = 0, stale = 0, out_of_order = 0, unmarked = 0;
    uint64_t last_delivery = 0;
    uint64_t closed_subscribers = 0;
    Histogram latency;
    // Publisher sends: from the send to its ack (a diagnostic that splits
    // the delivery latency into storing and delivering).
    Histogram ack_latency;
};

// Latency quantiles in microseconds, rounded to 0.1 us.
struct LatencyFigures {
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

// One CPU's use over the window (fractions of its time).
struct CoreUse {
    int cpu = -1;
    double busy = 0, softirq = 0, steal = 0;
};

// The generator's own figures over the window.
struct ClientFigures {
    double cpu_util = 0;       // its CPU time / the window (1 = a full core)
    double busy_fraction = 0;  // share of the window spent handling events
    double reads = 0;
    double messages_per_read = 0;
    double bytes_in = 0;
    double compressed_messages_in = 0;
};

// What a window measured, as the results report it.
struct WindowFigures {
    double rate = 0, duration_s = 0;
    size_t subscribers = 0;              // open when the window started
    uint64_t expected = 0;               // sent x subscribers
    uint64_t lost = 0;                   // expected - delivered
    uint64_t lost_after_ack = 0;         // counting only the sends acked with success
    double achieved_rate = 0;            // sends per second of the window
    double deliveries_per_s = 0;         // over the window and the tail of its deliveries
    double window_deliveries_per_s = 0;  // deliveries inside the window, per second of it
    double last_delivery_after_window_ms = 0;
    double measured_s = 0;  // window start to the end of the drain
    LatencyFigures latency_us;
    LatencyFigures ack_latency_us;  // all zero when no publisher ack was timed
    bool server_sampled = false;    // the server_* figures are set
    double server_cpu_us = 0, server_cpu_util = 0, cpu_us_per_delivery = 0;
    uint64_t server_rss_kib = 0;
    bool redis_sampled = false;  // the redis_* figures are set
    double redis_cpu_us = 0, redis_cpu_us_per_delivery = 0;
    ClientFigures client;
    std::vector<CoreUse> cores;
    // Use of the server's (generator's) pinned CPU by other processes.
    std::optional<double> server_core_other_util, client_core_other_util;
};

/* The figures of window `w`, run at `rate` for `duration_s` with
 * `subscribers` open, from the samples taken before it and after its
 * drain. Never fails: figures whose samples are missing stay unset. */
WindowFigures window_figures(const Window& w, double rate, double duration_s, size_t subscribers,
                             const HostSample& before, const HostSample& after);

/* Latency quantiles of `h` (nanoseconds) in microseconds. */
LatencyFigures latency_figures(const Histogram& h);

struct Verdict {
    bool pass = false;
    std::string reason;  // why not, when !pass
};

/* Whether the window passed: something sent, no send refused, nothing
 * lost, no subscriber closed, and sends and deliveries within `tolerance`
 * of the requested rate (rate 0: no rate to meet). */
Verdict window_verdict(const Window& w, const WindowFigures& f, double tolerance);

}  // namespace pushd_bench
