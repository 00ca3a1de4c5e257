// pushd-bench report FILE: the table of a bench/run.sh results file
// (pushd's figures, seedref's, the ratios and the targets), as
// Markdown. Reads only the file; no network.
#include "report.hpp"

#include <cJSON.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace pushd_bench {
namespace {

const cJSON* at(const cJSON* root, std::initializer_list<const char*> path) {
    const cJSON* n = root;
    for (const char* k : path) {
        if (!cJSON_IsObject(n)) return nullptr;
        n = cJSON_GetObjectItemCaseSensitive(n, k);
    }
    return n;
}

double num(const cJSON* root, std::initializer_list<const char*> path) {
    const cJSON* n = at(root, path);
    return cJSON_IsNumber(n) ? n->valuedouble : NAN;
}

std::string fmt(double v, const char* f) {
    if (std::isnan(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// printf into the end of `out`.
__attribute__((format(printf, 2, 3))) void appendf(std::string& out, const char* f, ...) {
    va_list ap, again;
    va_start(ap, f);
    va_copy(again, ap);
    const int n = std::vsnprintf(nullptr, 0, f, ap);
    va_end(ap);
    if (n > 0) {
        const size_t at = out.size();
        out.resize(at + static_cast<size_t>(n) + 1);
        std::vsnprintf(out.data() + at, static_cast<size_t>(n) + 1, f, again);
        out.resize(at + static_cast<size_t>(n));
    }
    va_end(again);
}

enum class Better { lower, higher, none };

struct Row {
    std::string scenario, metric;
    double pushd = NAN, seedref = NAN;
    const char* format = "%.0f";
    double scale = 1;  // displayed value = raw / scale
    const char* unit = "";
    Better better = Better::none;
    std::string target;  // text
    // met: evaluated on pushd's raw value (and seedref's when relative)
    int met = -1;            // -1 no target, 0 missed, 1 met
    bool show_ratio = true;  // false for context rows (interference, generator load)
};

std::string cell(const Row& r, double v) {
    if (std::isnan(v)) return "-";
    return fmt(v / r.scale, r.format) + r.unit;
}

std::string ratio(const Row& r) {
    if (!r.show_ratio) return "";
    if (std::isnan(r.pushd) || std::isnan(r.seedref) || r.seedref == 0) return "-";
    double x = r.pushd / r.seedref;
    std::string s = fmt(x, x < 10 ? "%.2f" : "%.1f");
    if (r.better == Better::lower && x > 0 && x < 1) s += " (" + fmt(1 / x, "%.1f") + "x better)";
    if (r.better == Better::higher && x > 1) s += " (" + fmt(x, "%.1f") + "x better)";
    return s;
}

int le(double v, double limit) { return std::isnan(v) ? -1 : (v <= limit ? 1 : 0); }

// The permessage-deflate comparison (pushd only), when the run has one:
// idle connections with compression negotiated (and their auth sent
// compressed, as browsers do) against the main idle scenario, and a 1 KiB
// fan-out without and with it.
void render_compression(const cJSON* R, std::string& out) {
    const cJSON* c = at(R, {"compression"});
    if (!c || !at(c, {"fanout_1k_deflate"})) return;
    const cJSON* plain = at(c, {"fanout_1k_plain"});
    const cJSON* zip = at(c, {"fanout_1k_deflate"});
    auto per_delivery_bytes = [](const cJSON* f) {
        const double d = num(f, {"delivered"});
        return d > 0 ? num(f, {"client", "bytes_in"}) / d : NAN;
    };
    out += "\n| permessage-deflate (pushd) | metric | without | with | with/without |\n";
    out += "|---|---|---|---|---|\n";
    auto line = [&out](const std::string& scen, const char* metric, double a, double b, const char* f, double scale,
                       const char* unit) {
        std::string ra = (std::isnan(a) || std::isnan(b) || a == 0) ? "-" : fmt(b / a, "%.2f");
        appendf(out, "| %s | %s | %s%s | %s%s | %s |\n", scen.c_str(), metric, fmt(a / scale, f).c_str(),
                std::isnan(a) ? "" : unit, fmt(b / scale, f).c_str(), std::isnan(b) ? "" : unit, ra.c_str());
    };
    line("idle, " + fmt(num(R, {"pushd", "idle", "connections"}), "%.0f") + " connections",
         "RSS per authenticated connection", num(R, {"pushd", "idle", "rss_per_conn_bytes"}),
         num(c, {"idle_deflate", "rss_per_conn_bytes"}), "%.1f", 1024, " KiB");
    const std::string fan = "fan-out of 1 KiB text, " + fmt(num(zip, {"subscribers"}), "%.0f") + " subs @ " +
                            fmt(num(zip, {"rate"}), "%.0f") + " msg/s, " + fmt(num(zip, {"duration_s"}), "%.0f") + " s";
    line(fan, "server CPU per delivery", num(plain, {"cpu_us_per_delivery"}), num(zip, {"cpu_us_per_delivery"}), "%.2f",
         1, " us");
    line("", "bytes per delivery on the wire", per_delivery_bytes(plain), per_delivery_bytes(zip), "%.0f", 1, " B");
    line("", "deliveries compressed", num(plain, {"client", "compressed_messages_in"}),
         num(zip, {"client", "compressed_messages_in"}), "%.0f", 1, "");
    line("", "lost", num(plain, {"lost_all_windows"}), num(zip, {"lost_all_windows"}), "%.0f", 1, "");
    line("", "latency p99", num(plain, {"latency_us", "p99"}), num(zip, {"latency_us", "p99"}), "%.2f", 1000, " ms");
    line("", "other processes on the server's CPU", num(plain, {"server_core_other_util"}),
         num(zip, {"server_core_other_util"}), "%.2f", 1, "");
}

// A latency row: microseconds in the JSON, shown in milliseconds.
Row latency_row(const std::string& scenario, std::string metric) {
    Row r{scenario, std::move(metric)};
    r.format = "%.2f";
    r.scale = 1000;
    r.unit = " ms";
    r.better = Better::lower;
    return r;
}

// A row that only gives context (no ratio, no target), two decimals.
Row context_row(const std::string& scenario, std::string metric) {
    Row r{scenario, std::move(metric)};
    r.format = "%.2f";
    r.show_ratio = false;
    return r;
}

// The idle scenario's rows.
void idle_rows(const cJSON* R, std::vector<Row>& rows) {
    auto both = [R](Row r, const char* field) {
        r.pushd = num(R, {"pushd", "idle", field});
        r.seedref = num(R, {"seedref", "idle", field});
        return r;
    };
    const std::string name = "idle, " + fmt(num(R, {"pushd", "idle", "connections"}), "%.0f") + " connections";
    Row r = both(Row{name, "RSS per authenticated connection"}, "rss_per_conn_bytes");
    r.format = "%.1f";
    r.scale = 1024;
    r.unit = " KiB";
    r.better = Better::lower;
    r.target = "<= 3 KiB";
    r.met = le(r.pushd, 3 * 1024);
    rows.push_back(r);
    rows.push_back(both(Row{name, "connections authenticated"}, "authenticated"));
}

// One group scenario of the results: fanout or closed (its headline
// window) or sweep (its best step); `field` reads a figure of each
// server's. Its targets: server CPU per delivery, and p99 (NAN: seedref's).
struct GroupScenario {
    const cJSON* R;
    const char* key;  // "fanout", "closed", "sweep"
    std::string name;
    double cpu_limit_us;  // NAN: none
    double p99_limit_us = NAN;
    bool sweep = false;

    double get(const char* server, std::initializer_list<const char*> tail) const {
        const cJSON* base = at(R, {server, key});
        if (sweep) base = at(base, {"best"});
        return base ? num(base, tail) : NAN;
    }
    Row field(Row row, std::initializer_list<const char*> tail) const {
        row.pushd = get("pushd", tail);
        row.seedref = get("seedref", tail);
        return row;
    }
};

// The sweep's rows at equal load: pushd at seedref's highest zero-loss
// rate against seedref there, when the run measured it.
void equal_load_rows(const GroupScenario& g, std::vector<Row>& rows) {
    const cJSON* eq = at(g.R, {"pushd_at_seedref_rate"});
    const cJSON* sr = at(g.R, {"seedref", "sweep", "best"});
    if (!eq || !sr || std::isnan(num(eq, {"rate"}))) return;
    Row e = latency_row(g.name, "latency p99 at seedref's rate (" + fmt(num(eq, {"rate"}), "%.0f") + " msg/s)");
    e.pushd = num(eq, {"latency_us", "p99"});
    e.seedref = num(sr, {"latency_us", "p99"});
    e.target = "<= seedref's";
    if (!std::isnan(e.pushd) && !std::isnan(e.seedref)) e.met = e.pushd <= e.seedref ? 1 : 0;
    rows.push_back(e);
    Row el{g.name, "lost at seedref's rate"};
    el.pushd = num(eq, {"lost"});
    el.seedref = num(sr, {"lost"});
    el.target = "0";
    el.met = std::isnan(el.pushd) ? -1 : (el.pushd == 0 ? 1 : 0);
    rows.push_back(el);
}

// Rate, deliveries, loss and latency of a group scenario.
void delivery_rows(const GroupScenario& g, std::vector<Row>& rows) {
    if (g.sweep) {
        Row r = g.field(Row{g.name, "rate (messages/s)"}, {"rate"});
        r.better = Better::higher;
        rows.push_back(r);
    }
    Row d = g.field(Row{g.name, "deliveries/s"}, {"deliveries_per_s"});
    d.better = Better::higher;
    rows.push_back(d);
    Row l = g.field(Row{g.name, g.sweep ? "lost" : "lost (all windows)"}, {g.sweep ? "lost" : "lost_all_windows"});
    l.target = "0";
    l.met = std::isnan(l.pushd) ? -1 : (l.pushd == 0 ? 1 : 0);
    rows.push_back(l);
    rows.push_back(g.field(latency_row(g.name, "latency p50"), {"latency_us", "p50"}));
    Row p99 = g.field(latency_row(g.name, "latency p99"), {"latency_us", "p99"});
    // At saturation each server runs at its own ceiling, a different
    // load: the p99 target is checked at equal load instead.
    if (!std::isnan(g.p99_limit_us)) {
        p99.target = "<= " + fmt(g.p99_limit_us / 1000, "%.0f") + " ms";
        p99.met = le(p99.pushd, g.p99_limit_us);
    } else if (!g.sweep) {
        p99.target = "<= seedref's";
        if (!std::isnan(p99.pushd) && !std::isnan(p99.seedref)) p99.met = p99.pushd <= p99.seedref ? 1 : 0;
    } else {
        p99.target = "(different loads)";
    }
    rows.push_back(p99);
    // Where the latency is spent: the publisher's send to its ack.
    if (!g.sweep) rows.push_back(g.field(latency_row(g.name, "send to ack p99"), {"ack_latency_us", "p99"}));
    if (g.sweep) equal_load_rows(g, rows);
}

// CPU of the server, of Redis and of the generator, and the interference.
void cpu_rows(const GroupScenario& g, std::vector<Row>& rows) {
    Row c = g.field(Row{g.name, "server CPU per delivery"}, {"cpu_us_per_delivery"});
    c.format = "%.2f";
    c.unit = " us";
    c.better = Better::lower;
    const double limit = g.cpu_limit_us;  // NAN: no target
    if (!std::isnan(limit)) {
        c.target = "<= " + fmt(limit, "%.1f") + " us";
        c.met = le(c.pushd, limit);
    }
    rows.push_back(c);
    Row rc = g.field(Row{g.name, "Redis CPU per delivery"}, {"redis_cpu_us_per_delivery"});
    rc.format = "%.2f";
    rc.unit = " us";
    rows.push_back(rc);
    rows.push_back(g.field(context_row(g.name, "generator CPU share (1 = a full core)"), {"client", "cpu_util"}));
    // It busy-polls: this share of its time went to handling events (near
    // 1: the generator is the bottleneck, and latency is its backlog).
    rows.push_back(g.field(context_row(g.name, "generator busy share"), {"client", "busy_fraction"}));
    rows.push_back(g.field(context_row(g.name, "other processes on the server's CPU"), {"server_core_other_util"}));
    rows.push_back(g.field(context_row(g.name, "other processes on the generator's CPU"), {"client_core_other_util"}));
}

// The names of the fanout and sweep scenarios, with their parameters.
std::string fanout_name(const cJSON* R) {
    const double repeat = num(R, {"pushd", "fanout", "repeat"});
    return "fan-out " + fmt(num(R, {"pushd", "fanout", "subscribers"}), "%.0f") + " subs @ " +
           fmt(num(R, {"pushd", "fanout", "rate"}), "%.0f") + " msg/s, " +
           fmt(num(R, {"pushd", "fanout", "duration_s"}), "%.0f") + " s" +
           (repeat > 1 ? " (median of " + fmt(repeat, "%.0f") + " windows)" : std::string());
}

// A closed-loop scenario's name: "closed" (one group) or "groups".
std::string closed_name(const cJSON* R, const char* key) {
    return "closed loop, " + fmt(num(R, {"pushd", key, "subscribers_total"}), "%.0f") + " subs in " +
           fmt(num(R, {"pushd", key, "groups"}), "%.0f") + " group(s), " +
           fmt(num(R, {"pushd", key, "publishers"}), "%.0f") + " publisher(s) x " +
           fmt(num(R, {"pushd", key, "in_flight"}), "%.0f") + " in flight, " +
           fmt(num(R, {"pushd", key, "duration_s"}), "%.0f") + " s";
}

std::string broadcast_name(const cJSON* R) {
    return "notification to all, " + fmt(num(R, {"pushd", "broadcast", "connections"}), "%.0f") + " connections @ " +
           fmt(num(R, {"pushd", "broadcast", "rate"}), "%.0f") + "/s (seedref: none)";
}

std::string sweep_name(const cJSON* R) {
    return "highest zero-loss rate, " + fmt(num(R, {"pushd", "sweep", "subscribers"}), "%.0f") + " subs";
}

void render_rows(const std::vector<Row>& rows, std::string& out) {
    out += "| scenario | metric | pushd | seedref | pushd/seedref | target | met |\n";
    out += "|---|---|---|---|---|---|---|\n";
    std::string last;
    for (const Row& r : rows) {
        appendf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", r.scenario == last ? "" : r.scenario.c_str(),
                r.metric.c_str(), cell(r, r.pushd).c_str(), cell(r, r.seedref).c_str(), ratio(r).c_str(),
                r.target.c_str(), r.met < 0 ? "" : (r.met ? "yes" : "**no**"));
        last = r.scenario;
    }
}

}  // namespace

bool render_report(const std::string& path, std::string& out, std::string& err) {
    std::ifstream in(path);
    if (!in) {
        err = "cannot read " + path;
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(cJSON_Parse(ss.str().c_str()), cJSON_Delete);
    if (!cJSON_IsObject(root.get())) {
        err = path + ": not a JSON object";
        return false;
    }
    const cJSON* R = root.get();
    std::vector<Row> rows;
    // A scenario is listed when either server ran it (bench/run.sh --scenarios).
    auto ran = [R](const char* key) { return at(R, {"pushd", key}) || at(R, {"seedref", key}); };
    if (ran("idle")) idle_rows(R, rows);
    // Targets: issue 3 (sweep), issue 16 (fan-out at 100 msg/s, closed loop).
    std::vector<GroupScenario> groups;
    if (ran("fanout")) groups.push_back(GroupScenario{R, "fanout", fanout_name(R), 5.0});
    if (ran("sweep")) groups.push_back(GroupScenario{R, "sweep", sweep_name(R), 1.5, NAN, true});
    if (ran("closed")) groups.push_back(GroupScenario{R, "closed", closed_name(R, "closed"), 0.8, 30000});
    if (ran("groups")) groups.push_back(GroupScenario{R, "groups", closed_name(R, "groups"), NAN});
    if (at(R, {"pushd", "broadcast", "connections"}))
        groups.push_back(GroupScenario{R, "broadcast", broadcast_name(R), NAN});
    for (const GroupScenario& g : groups) {
        delivery_rows(g, rows);
        cpu_rows(g, rows);
    }
    render_rows(rows, out);
    render_compression(R, out);
    return true;
}

}  // namespace pushd_bench
