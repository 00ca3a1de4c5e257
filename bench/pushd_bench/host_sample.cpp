// What pushd-bench reads of the host (see host_sample.hpp).
#include "host_sample.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pushd_bench {
namespace {

// Reads a small /proc file whole; empty on failure.
std::string read_small_file(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return out;
    char buf[4096];
    for (int i = 0; i < 16; ++i) {  // /proc/PID/status is ~1.5 KiB
        size_t n = std::fread(buf, 1, sizeof buf, f);
        out.append(buf, n);
        if (n < sizeof buf) break;
    }
    std::fclose(f);
    return out;
}

}  // namespace

ProcSample sample_process(int pid) {
    ProcSample s;
    if (pid <= 0) return s;
    const std::string base = "/proc/" + std::to_string(pid);
    std::string stat = read_small_file(base + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return s;
    // Fields after "comm)": 3 state, 4 ppid, ... 14 utime, 15 stime.
    const char* p = stat.c_str() + paren + 1;
    unsigned long long utime = 0, stime = 0;
    int field = 2;
    while (*p && field < 15) {
        while (*p == ' ') ++p;
        ++field;
        if (field == 14) utime = std::strtoull(p, nullptr, 10);
        if (field == 15) stime = std::strtoull(p, nullptr, 10);
        while (*p && *p != ' ') ++p;
    }
    if (field < 15) return s;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    s.cpu_us = (utime + stime) * 1000000ull / static_cast<unsigned long long>(hz);
    std::string status = read_small_file(base + "/status");
    size_t at = status.find("VmRSS:");
    if (at == std::string::npos) return s;
    s.rss_kib = std::strtoull(status.c_str() + at + 6, nullptr, 10);
    s.ok = true;
    return s;
}

std::vector<CoreTimes> sample_cores() {
    std::vector<CoreTimes> out;
    std::string stat = read_small_file("/proc/stat");
    size_t pos = 0;
    for (int guard = 0; guard < 4096 && pos < stat.size(); ++guard) {
        size_t eol = stat.find('\n', pos);
        if (eol == std::string::npos) eol = stat.size();
        std::string line = stat.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') continue;
        unsigned long long v[10] = {};
        int cpu = -1;
        int n = std::sscanf(line.c_str(), "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7]);
        if (n < 9) continue;
        CoreTimes c;
        c.cpu = cpu;
        c.busy = v[0] + v[1] + v[2] + v[5] + v[6];
        c.softirq = v[6];
        c.steal = v[7];
        c.total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        out.push_back(c);
    }
    return out;
}

int pinned_cpu(int pid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (pid < 0 || sched_getaffinity(pid, sizeof set, &set) != 0) return -1;
    if (CPU_COUNT(&set) != 1) return -1;
    for (int i = 0; i < CPU_SETSIZE; ++i)
        if (CPU_ISSET(i, &set)) return i;
    return -1;
}

long clock_ticks() {
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? hz : 100;
}

uint64_t self_cpu_us() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval& tv) {
        return static_cast<uint64_t>(tv.tv_sec) * 1000000ull + static_cast<uint64_t>(tv.tv_usec);
    };
    return us(ru.ru_utime) + us(ru.ru_stime);
}

uint64_t raise_nofile_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    return static_cast<uint64_t>(rl.rlim_cur);
}

double load_average_1m() {
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1.0;
}

HostSample take_host_sample(int server_pid, int redis_pid, const LoopStats& loop, uint64_t now_ns) {
    HostSample s;
    s.t_ns = now_ns;
    s.server = sample_process(server_pid);
    s.redis = sample_process(redis_pid);
    s.cores = sample_cores();
    s.self_cpu_us = self_cpu_us();
    s.loop = loop;
    s.server_cpu = pinned_cpu(server_pid);
    s.self_cpu = pinned_cpu(0);
    s.redis_cpu = pinned_cpu(redis_pid);
    s.clock_ticks = clock_ticks();
    return s;
}

}  // namespace pushd_bench
