// A measured window as JSON (see window_json.hpp).
#include "window_json.hpp"

namespace pushd_bench {
namespace {

void add_number(cJSON* j, const char* key, double v) { cJSON_AddNumberToObject(j, key, v); }

void add_count(cJSON* j, const char* key, uint64_t v) { cJSON_AddNumberToObject(j, key, static_cast<double>(v)); }

void add_latency(cJSON* j, const char* key, const LatencyFigures& l) {
    cJSON* lat = cJSON_AddObjectToObject(j, key);
    add_number(lat, "p50", l.p50);
    add_number(lat, "p90", l.p90);
    add_number(lat, "p99", l.p99);
    add_number(lat, "p999", l.p999);
    add_number(lat, "max", l.max);
    add_number(lat, "mean", l.mean);
}

void add_processes(cJSON* j, const WindowFigures& f) {
    if (f.server_sampled) {
        add_number(j, "server_cpu_us", f.server_cpu_us);
        add_number(j, "server_cpu_util", f.server_cpu_util);
        add_number(j, "cpu_us_per_delivery", f.cpu_us_per_delivery);
        add_count(j, "server_rss_kib", f.server_rss_kib);
    }
    if (f.redis_sampled) {
        add_number(j, "redis_cpu_us", f.redis_cpu_us);
        add_number(j, "redis_cpu_us_per_delivery", f.redis_cpu_us_per_delivery);
    }
    cJSON* cl = cJSON_AddObjectToObject(j, "client");
    add_number(cl, "cpu_util", f.client.cpu_util);
    add_number(cl, "busy_fraction", f.client.busy_fraction);
    add_number(cl, "reads", f.client.reads);
    add_number(cl, "messages_per_read", f.client.messages_per_read);
    add_number(cl, "bytes_in", f.client.bytes_in);
    add_number(cl, "compressed_messages_in", f.client.compressed_messages_in);
}

void add_cores(cJSON* j, const WindowFigures& f) {
    cJSON* cores = cJSON_AddArrayToObject(j, "cores");
    for (const CoreUse& u : f.cores) {
        cJSON* c = cJSON_CreateObject();
        add_number(c, "cpu", u.cpu);
        add_number(c, "busy", u.busy);
        add_number(c, "softirq", u.softirq);
        add_number(c, "steal", u.steal);
        cJSON_AddItemToArray(cores, c);
    }
    if (f.server_core_other_util) add_number(j, "server_core_other_util", *f.server_core_other_util);
    if (f.client_core_other_util) add_number(j, "client_core_other_util", *f.client_core_other_util);
}

}  // namespace

void add_window_json(cJSON* j, const Window& w, const WindowFigures& f, const Verdict& v) {
    add_number(j, "rate", f.rate);
    add_number(j, "duration_s", f.duration_s);
    add_count(j, "subscribers", f.subscribers);
    add_count(j, "sent", w.sent);
    add_count(j, "acked", w.acked_ok);
    add_count(j, "ack_failed", w.ack_failed);
    add_count(j, "errors", w.errors);
    add_number(j, "achieved_rate", f.achieved_rate);
    add_count(j, "expected", f.expected);
    add_count(j, "delivered", w.delivered);
    add_count(j, "lost", f.lost);
    add_count(j, "lost_after_ack", f.lost_after_ack);
    add_count(j, "stale", w.stale);
    add_count(j, "out_of_order", w.out_of_order);
    add_count(j, "unmarked", w.unmarked);
    add_count(j, "subscribers_closed", w.closed_subscribers);
    add_number(j, "deliveries_per_s", f.deliveries_per_s);
    add_number(j, "window_deliveries_per_s", f.window_deliveries_per_s);
    add_number(j, "last_delivery_after_window_ms", f.last_delivery_after_window_ms);
    add_latency(j, "latency_us", f.latency_us);
    if (f.ack_latency_us.max > 0) add_latency(j, "ack_latency_us", f.ack_latency_us);
    add_number(j, "measured_s", f.measured_s);
    add_processes(j, f);
    add_cores(j, f);
    cJSON_AddBoolToObject(j, "pass", v.pass);
    if (!v.pass) cJSON_AddStringToObject(j, "fail_reason", v.reason.c_str());
}

}  // namespace pushd_bench
