#include "io/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

namespace pushd {
namespace {

// Seconds since the epoch at which the system booted (btime in /proc/stat).
double boot_time_seconds() {
    FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[256];
    double btime = 0;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "btime ", 6) == 0) {
            btime = std::strtod(line + 6, nullptr);
            break;
        }
    }
    std::fclose(f);
    return btime;
}

}  // namespace

ProcessStats read_process_stats() {
    ProcessStats s;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    if (FILE* f = std::fopen("/proc/self/stat", "r")) {
        char buf[1024];
        size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        // Fields after the command name, which may itself hold spaces or ')'.
        if (char* p = std::strrchr(buf, ')')) {
            unsigned long utime = 0, stime = 0, vsize = 0;
            unsigned long long starttime = 0;
            long rss = 0;
            // state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
            if (std::sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                            "%*d %*d %llu %lu %ld",
                            &utime, &stime, &starttime, &vsize, &rss) == 5) {
                s.cpu_seconds = (static_cast<double>(utime) + static_cast<double>(stime)) / ticks;
                s.virtual_bytes = vsize;
                s.resident_bytes = static_cast<uint64_t>(static_cast<double>(rss) * page);
                s.start_time_seconds = boot_time_seconds() + static_cast<double>(starttime) / ticks;
            }
        }
    }
    if (DIR* d = opendir("/proc/self/fd")) {
        uint64_t count = 0;
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] != '.') count++;
        }
        closedir(d);
        s.open_fds = count > 0 ? count - 1 : 0;  // minus the directory's own descriptor
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = rl.rlim_cur;
    return s;
}

}  // namespace pushd
