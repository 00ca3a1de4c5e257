// Measurement helpers for pushctl bench: a bounded latency histogram, the
// server's RSS and CPU from /proc, the generator's own CPU, RLIMIT_NOFILE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pushctl::bench {

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

// A process's CPU (user + system) and RSS, from /proc/PID/{stat,status}.
struct ProcSample {
    bool ok = false;
    uint64_t cpu_us = 0;   // utime + stime, converted from clock ticks
    uint64_t rss_kib = 0;  // VmRSS
};

/* Reads `pid`'s CPU time and RSS. ok false when the process is gone or
 * /proc could not be read. pid <= 0 gives ok false. */
ProcSample sample_process(int pid);

// One CPU's cumulative times from /proc/stat, in clock ticks.
struct CoreTimes {
    int cpu = -1;
    uint64_t busy = 0;     // user + nice + system + irq + softirq
    uint64_t softirq = 0;
    uint64_t steal = 0;    // taken by the hypervisor
    uint64_t total = 0;    // everything, idle and iowait included
};

/* Every "cpuN" line of /proc/stat; empty when it cannot be read. */
std::vector<CoreTimes> sample_cores();

/* The single CPU `pid` is pinned to, or -1 (not pinned to exactly one,
 * or unknown). pid 0 is this process. */
int pinned_cpu(int pid);

/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
long clock_ticks();

/* This process's CPU time (user + system) in microseconds (getrusage). */
uint64_t self_cpu_us();

/* Raises the soft RLIMIT_NOFILE to the hard limit. Returns the soft limit
 * in effect afterwards. */
uint64_t raise_nofile_limit();

/* The 1-minute load average, or -1 when unknown. */
double load_average_1m();

}  // namespace pushctl::bench
