// pushctl bench report FILE: the table of a bench/run.sh results file
// (pushd's figures, seedref's, the ratios and the targets), as
// Markdown on stdout. Reads only the file; no network.
#include "bench_report.hpp"

#include <cJSON.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace pushctl::bench {
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
    int met = -1;        // -1 no target, 0 missed, 1 met
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

}  // namespace

// The permessage-deflate comparison (pushd only), when the run has one:
// idle connections with compression negotiated (and their auth sent
// compressed, as browsers do) against the main idle scenario, and a 1 KiB
// fan-out without and with it.
void print_compression(const cJSON* R) {
    const cJSON* c = at(R, {"compression"});
    if (!c || !at(c, {"fanout_1k_deflate"})) return;
    const cJSON* plain = at(c, {"fanout_1k_plain"});
    const cJSON* zip = at(c, {"fanout_1k_deflate"});
    auto per_delivery_bytes = [](const cJSON* f) {
        const double d = num(f, {"delivered"});
        return d > 0 ? num(f, {"client", "bytes_in"}) / d : NAN;
    };
    std::printf("\n| permessage-deflate (pushd) | metric | without | with | with/without |\n");
    std::printf("|---|---|---|---|---|\n");
    auto line = [](const std::string& scen, const char* metric, double a, double b, const char* f, double scale,
                   const char* unit) {
        std::string ra = (std::isnan(a) || std::isnan(b) || a == 0) ? "-" : fmt(b / a, "%.2f");
        std::printf("| %s | %s | %s%s | %s%s | %s |\n", scen.c_str(), metric, fmt(a / scale, f).c_str(),
                    std::isnan(a) ? "" : unit, fmt(b / scale, f).c_str(), std::isnan(b) ? "" : unit, ra.c_str());
    };
    line("idle, " + fmt(num(R, {"pushd", "idle", "connections"}), "%.0f") + " connections",
         "RSS per authenticated connection", num(R, {"pushd", "idle", "rss_per_conn_bytes"}),
         num(c, {"idle_deflate", "rss_per_conn_bytes"}), "%.1f", 1024, " KiB");
    const std::string fan = "fan-out of 1 KiB text, " + fmt(num(zip, {"subscribers"}), "%.0f") + " subs @ " +
                            fmt(num(zip, {"rate"}), "%.0f") + " msg/s, " + fmt(num(zip, {"duration_s"}), "%.0f") + " s";
    line(fan, "server CPU per delivery", num(plain, {"cpu_us_per_delivery"}), num(zip, {"cpu_us_per_delivery"}),
         "%.2f", 1, " us");
    line("", "bytes per delivery on the wire", per_delivery_bytes(plain), per_delivery_bytes(zip), "%.0f", 1, " B");
    line("", "deliveries compressed", num(plain, {"client", "compressed_messages_in"}),
         num(zip, {"client", "compressed_messages_in"}), "%.0f", 1, "");
    line("", "lost", num(plain, {"lost_all_windows"}), num(zip, {"lost_all_windows"}), "%.0f", 1, "");
    line("", "latency p99", num(plain, {"latency_us", "p99"}), num(zip, {"latency_us", "p99"}), "%.2f", 1000, " ms");
    line("", "other processes on the server's CPU", num(plain, {"server_core_other_util"}),
         num(zip, {"server_core_other_util"}), "%.2f", 1, "");
}

int print_report(const std::string& path, std::string& err) {
    std::ifstream in(path);
    if (!in) {
        err = "cannot read " + path;
        return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(cJSON_Parse(ss.str().c_str()), cJSON_Delete);
    if (!cJSON_IsObject(root.get())) {
        err = path + ": not a JSON object";
        return 1;
    }
    const cJSON* R = root.get();
    auto both = [&](Row r, std::initializer_list<const char*> tail, const char* scen) {
        auto get = [&](const char* server) -> double {
            const cJSON* base = at(R, {server, scen});
            if (!base) return NAN;
            return num(base, tail);
        };
        r.pushd = get("pushd");
        r.seedref = get("seedref");
        return r;
    };
    std::vector<Row> rows;
    const std::string idle_name = "idle, " + fmt(num(R, {"pushd", "idle", "connections"}), "%.0f") + " connections";
    {
        Row r{idle_name, "RSS per authenticated connection"};
        r = both(r, {"rss_per_conn_bytes"}, "idle");
        r.format = "%.1f";
        r.scale = 1024;
        r.unit = " KiB";
        r.better = Better::lower;
        r.target = "<= 3 KiB";
        r.met = le(r.pushd, 3 * 1024);
        rows.push_back(r);
        Row a{idle_name, "connections authenticated"};
        a = both(a, {"authenticated"}, "idle");
        rows.push_back(a);
    }
    const double subs = num(R, {"pushd", "fanout", "subscribers"});
    const std::string fan = "fan-out " + fmt(subs, "%.0f") + " subs @ " + fmt(num(R, {"pushd", "fanout", "rate"}), "%.0f") +
                            " msg/s, " + fmt(num(R, {"pushd", "fanout", "duration_s"}), "%.0f") + " s" +
                            (num(R, {"pushd", "fanout", "repeat"}) > 1
                                 ? " (median of " + fmt(num(R, {"pushd", "fanout", "repeat"}), "%.0f") + " windows)"
                                 : std::string());
    const std::string sat = "highest zero-loss rate, " + fmt(num(R, {"pushd", "sweep", "subscribers"}), "%.0f") + " subs";
    for (int s = 0; s < 2; ++s) {
        const std::string name = s == 0 ? fan : sat;
        const char* key = s == 0 ? "fanout" : "sweep";
        auto field = [&](std::initializer_list<const char*> tail, auto&& row) {
            auto get = [&](const char* server) -> double {
                const cJSON* base = at(R, {server, key});
                if (s == 1) base = at(base, {"best"});
                return base ? num(base, tail) : NAN;
            };
            row.pushd = get("pushd");
            row.seedref = get("seedref");
            return row;
        };
        if (s == 1) {
            Row r{name, "rate (messages/s)"};
            r = field({"rate"}, r);
            r.better = Better::higher;
            rows.push_back(r);
        }
        Row d{name, "deliveries/s"};
        d = field({"deliveries_per_s"}, d);
        d.better = Better::higher;
        rows.push_back(d);
        Row l{name, s == 0 ? "lost (all windows)" : "lost"};
        l = field({s == 0 ? "lost_all_windows" : "lost"}, l);
        l.target = "0";
        l.met = std::isnan(l.pushd) ? -1 : (l.pushd == 0 ? 1 : 0);
        rows.push_back(l);
        // Latency rows: microseconds in the JSON, shown in milliseconds.
        auto latency = [&](const char* metric, const char* key) {
            Row r{name, metric};
            r = field({"latency_us", key}, r);
            r.format = "%.2f";
            r.scale = 1000;
            r.unit = " ms";
            r.better = Better::lower;
            return r;
        };
        rows.push_back(latency("latency p50", "p50"));
        Row p99 = latency("latency p99", "p99");
        // At saturation each server runs at its own ceiling, a different
        // load: the p99 target is checked at equal load below instead.
        if (s == 0) {
            p99.target = "<= seedref's";
            if (!std::isnan(p99.pushd) && !std::isnan(p99.seedref)) p99.met = p99.pushd <= p99.seedref ? 1 : 0;
        } else {
            p99.target = "(different loads)";
        }
        rows.push_back(p99);
        if (s == 1) {
            // pushd at seedref's highest zero-loss rate against seedref there.
            const cJSON* eq = at(R, {"pushd_at_seedref_rate"});
            const cJSON* sr = at(R, {"seedref", "sweep", "best"});
            if (eq && sr && !std::isnan(num(eq, {"rate"}))) {
                Row e{name, "latency p99 at seedref's rate (" + fmt(num(eq, {"rate"}), "%.0f") + " msg/s)"};
                e.pushd = num(eq, {"latency_us", "p99"});
                e.seedref = num(sr, {"latency_us", "p99"});
                e.format = "%.2f";
                e.scale = 1000;
                e.unit = " ms";
                e.better = Better::lower;
                e.target = "<= seedref's";
                if (!std::isnan(e.pushd) && !std::isnan(e.seedref)) e.met = e.pushd <= e.seedref ? 1 : 0;
                rows.push_back(e);
                Row el{name, "lost at seedref's rate"};
                el.pushd = num(eq, {"lost"});
                el.seedref = num(sr, {"lost"});
                el.target = "0";
                el.met = std::isnan(el.pushd) ? -1 : (el.pushd == 0 ? 1 : 0);
                rows.push_back(el);
            }
        }
        Row c{name, "server CPU per delivery"};
        c = field({"cpu_us_per_delivery"}, c);
        c.format = "%.2f";
        c.unit = " us";
        c.better = Better::lower;
        const double limit = s == 0 ? 6.0 : 1.5;
        c.target = "<= " + fmt(limit, "%.1f") + " us";
        c.met = le(c.pushd, limit);
        rows.push_back(c);
        Row rc{name, "Redis CPU per delivery"};
        rc = field({"redis_cpu_us_per_delivery"}, rc);
        rc.format = "%.2f";
        rc.unit = " us";
        rows.push_back(rc);
        Row cl{name, "generator CPU share (1 = a full core)"};
        cl = field({"client", "cpu_util"}, cl);
        cl.format = "%.2f";
        cl.show_ratio = false;
        rows.push_back(cl);
        Row so{name, "other processes on the server's CPU"};
        so = field({"server_core_other_util"}, so);
        so.format = "%.2f";
        so.show_ratio = false;
        rows.push_back(so);
        Row co{name, "other processes on the generator's CPU"};
        co = field({"client_core_other_util"}, co);
        co.format = "%.2f";
        co.show_ratio = false;
        rows.push_back(co);
    }
    std::printf("| scenario | metric | pushd | seedref | pushd/seedref | target | met |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    std::string last;
    for (const Row& r : rows) {
        std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.scenario == last ? "" : r.scenario.c_str(),
                    r.metric.c_str(), cell(r, r.pushd).c_str(), cell(r, r.seedref).c_str(), ratio(r).c_str(),
                    r.target.c_str(), r.met < 0 ? "" : (r.met ? "yes" : "**no**"));
        last = r.scenario;
    }
    print_compression(R);
    return 0;
}

}  // namespace pushctl::bench
