// Counters and gauges, and their Prometheus text exposition (format 0.0.4).
//
// Hot paths increment plain integer fields of ServerCounters (no lookups, no
// locks: one instance is one thread). /metrics turns a snapshot of them into
// text through a table, so adding a metric is a field plus a table row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pushd {

// What the process reads from /proc; filled by io, rendered by core.
struct ProcessStats {
    double cpu_seconds = 0;
    uint64_t resident_bytes = 0;
    uint64_t virtual_bytes = 0;
    uint64_t open_fds = 0;
    uint64_t max_fds = 0;
    double start_time_seconds = 0;  // since the Unix epoch
};

// Monotonic event counts of one instance. Every field only ever grows.
struct ServerCounters {
    uint64_t ws_connections_opened = 0;
    uint64_t ws_connections_closed = 0;
    uint64_t ws_handshakes_refused = 0;
    uint64_t http_requests = 0;
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
};

// Current levels, computed when /metrics or /stats is asked for.
struct ServerGauges {
    uint64_t connections = 0;     // open WebSocket connections
    uint64_t online_users = 0;    // distinct authenticated users
    uint64_t groups = 0;          // groups with at least one local subscriber
    double uptime_seconds = 0;
    bool draining = false;        // shutting down
};

// One sample line of a family: `labels` is the inside of {...} already
// escaped (empty for none).
struct MetricSample {
    std::string labels;
    double value = 0;
};

enum class MetricType { counter, gauge };

struct MetricFamily {
    std::string name;
    std::string help;
    MetricType type = MetricType::gauge;
    std::vector<MetricSample> samples;
};

// Escapes a label value per the exposition format (backslash, quote, newline).
std::string prometheus_escape_label(const std::string& value);

// Renders families as exposition text: # HELP, # TYPE, then one line per
// sample; integral values print without a decimal point.
std::string render_prometheus(const std::vector<MetricFamily>& families);

// The families of one instance: process_*, pushd_* gauges and counters, and
// pushd_build_info{version}. `extra` families (added by later modules) are
// appended as given.
std::vector<MetricFamily> server_metric_families(const ProcessStats& process,
                                                 const ServerGauges& gauges,
                                                 const ServerCounters& counters);

// The /stats JSON object: {"online_users", "connections", "groups",
// "uptime_s", ...counters}; one line, no trailing newline.
std::string render_stats_json(const ServerGauges& gauges, const ServerCounters& counters);

}  // namespace pushd
