// What pushd-bench reads of the host: the server's (and Redis') RSS and CPU
// from /proc, each CPU's times, the generator's own CPU, RLIMIT_NOFILE.
#pragma once

#include "loop_stats.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pushd_bench {

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
    uint64_t busy = 0;  // user + nice + system + irq + softirq
    uint64_t softirq = 0;
    uint64_t steal = 0;  // taken by the hypervisor
    uint64_t total = 0;  // everything, idle and iowait included
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

// What is read of the host at a window's start and at the end of its drain.
struct HostSample {
    uint64_t t_ns = 0;         // CLOCK_MONOTONIC when taken
    ProcSample server, redis;  // ok false when no pid was given
    std::vector<CoreTimes> cores;
    uint64_t self_cpu_us = 0;                            // the generator's CPU time
    LoopStats loop;                                      // the generator's loop counters
    int server_cpu = -1, self_cpu = -1, redis_cpu = -1;  // pinned CPUs, or -1
    long clock_ticks = 100;                              // per second, for CoreTimes
};

/* Samples the server (`server_pid`), Redis (`redis_pid`; <= 0: not
 * sampled), every CPU and this process at `now_ns`, with the loop's
 * counters `loop`. Never fails: what cannot be read is marked so. */
HostSample take_host_sample(int server_pid, int redis_pid, const LoopStats& loop, uint64_t now_ns);

}  // namespace pushd_bench
