#include "core/metrics.hpp"

#include <cJSON.h>

#include <cmath>
#include <cstdio>
#include <memory>

namespace pushd {
namespace {

void append_value(std::string& out, double value) {
    char buf[64];
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
        std::snprintf(buf, sizeof buf, "%.0f", value);
        out += buf;
    } else {
        std::snprintf(buf, sizeof buf, "%.17g", value);
        out += buf;
    }
}

MetricFamily single(const char* name, const char* help, MetricType type, double value) {
    return MetricFamily{name, help, type, {MetricSample{"", value}}};
}

// Counter rows: name, help, field. Shared by /metrics and /stats.
struct CounterRow {
    const char* metric;
    const char* stats_key;
    const char* help;
    uint64_t ServerCounters::*field;
};

constexpr CounterRow kCounterRows[] = {
    {"pushd_ws_connections_opened_total", "connections_opened", "WebSocket connections accepted",
     &ServerCounters::ws_connections_opened},
    {"pushd_ws_connections_closed_total", "connections_closed", "WebSocket connections closed",
     &ServerCounters::ws_connections_closed},
    {"pushd_ws_handshakes_refused_total", "handshakes_refused",
     "WebSocket handshakes refused (wrong path, limits, auth, origin)",
     &ServerCounters::ws_handshakes_refused},
    {"pushd_http_requests_total", "http_requests", "plain HTTP requests served",
     &ServerCounters::http_requests},
    {"pushd_config_reloads_total", nullptr, "configuration reloads applied (SIGHUP)",
     &ServerCounters::reloads_ok},
    {"pushd_config_reload_failures_total", nullptr,
     "configuration reloads refused because the file was invalid",
     &ServerCounters::reloads_failed},
};

}  // namespace

std::string prometheus_escape_label(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string render_prometheus(const std::vector<MetricFamily>& families) {
    std::string out;
    out.reserve(families.size() * 128);
    for (const MetricFamily& f : families) {
        out += "# HELP ";
        out += f.name;
        out += ' ';
        for (char c : f.help) {  // HELP escapes backslash and newline only
            if (c == '\\') out += "\\\\";
            else if (c == '\n') out += "\\n";
            else out += c;
        }
        out += "\n# TYPE ";
        out += f.name;
        out += f.type == MetricType::counter ? " counter\n" : " gauge\n";
        for (const MetricSample& s : f.samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out += '{';
                out += s.labels;
                out += '}';
            }
            out += ' ';
            append_value(out, s.value);
            out += '\n';
        }
    }
    return out;
}

std::vector<MetricFamily> server_metric_families(const ProcessStats& process,
                                                 const ServerGauges& gauges,
                                                 const ServerCounters& counters) {
    std::vector<MetricFamily> f;
    f.push_back(single("process_cpu_seconds_total", "user and system CPU time spent in seconds",
                       MetricType::counter, process.cpu_seconds));
    f.push_back(single("process_resident_memory_bytes", "resident memory size in bytes",
                       MetricType::gauge, static_cast<double>(process.resident_bytes)));
    f.push_back(single("process_virtual_memory_bytes", "virtual memory size in bytes",
                       MetricType::gauge, static_cast<double>(process.virtual_bytes)));
    f.push_back(single("process_open_fds", "number of open file descriptors", MetricType::gauge,
                       static_cast<double>(process.open_fds)));
    f.push_back(single("process_max_fds", "maximum number of open file descriptors",
                       MetricType::gauge, static_cast<double>(process.max_fds)));
    f.push_back(single("process_start_time_seconds",
                       "start time of the process since the Unix epoch in seconds",
                       MetricType::gauge, process.start_time_seconds));
    f.push_back(MetricFamily{"pushd_build_info", "pushd version", MetricType::gauge,
                             {MetricSample{"version=\"" PUSHD_VERSION "\"", 1}}});
    f.push_back(single("pushd_up", "1 while the instance serves, 0 while it shuts down",
                       MetricType::gauge, gauges.draining ? 0 : 1));
    f.push_back(single("pushd_uptime_seconds", "seconds since the instance started",
                       MetricType::gauge, gauges.uptime_seconds));
    f.push_back(single("pushd_connections", "open WebSocket connections", MetricType::gauge,
                       static_cast<double>(gauges.connections)));
    f.push_back(single("pushd_online_users", "distinct authenticated users on this instance",
                       MetricType::gauge, static_cast<double>(gauges.online_users)));
    f.push_back(single("pushd_groups", "groups with at least one subscriber on this instance",
                       MetricType::gauge, static_cast<double>(gauges.groups)));
    for (const CounterRow& row : kCounterRows) {
        f.push_back(single(row.metric, row.help, MetricType::counter,
                           static_cast<double>(counters.*row.field)));
    }
    return f;
}

std::string render_stats_json(const ServerGauges& gauges, const ServerCounters& counters) {
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> obj(cJSON_CreateObject(), cJSON_Delete);
    cJSON* o = obj.get();
    cJSON_AddNumberToObject(o, "online_users", static_cast<double>(gauges.online_users));
    cJSON_AddNumberToObject(o, "connections", static_cast<double>(gauges.connections));
    cJSON_AddNumberToObject(o, "groups", static_cast<double>(gauges.groups));
    cJSON_AddNumberToObject(o, "uptime_s", std::floor(gauges.uptime_seconds));
    for (const CounterRow& row : kCounterRows) {
        if (row.stats_key) {
            cJSON_AddNumberToObject(o, row.stats_key, static_cast<double>(counters.*row.field));
        }
    }
    char* text = cJSON_PrintUnformatted(o);
    std::string out = text ? text : "{}";
    cJSON_free(text);
    return out;
}

}  // namespace pushd
