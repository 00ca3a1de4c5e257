// pushd-bench scenarios (see scenarios.hpp).
#include "scenarios.hpp"

#include "host_sample.hpp"
#include "notify_sender.hpp"
#include "runner.hpp"
#include "window.hpp"
#include "window_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace pushd_bench {
namespace {

double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// A progress line on stderr (results go to stdout, from main).
void note(const char* fmt, double a = 0, double b = 0, double c = 0, double d = 0) {
    std::fprintf(stderr, fmt, a, b, c, d);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

cJSON* failures_json(const Runner& r) {
    cJSON* f = cJSON_CreateObject();
    for (const auto& [why, n] : r.failures()) cJSON_AddNumberToObject(f, why.c_str(), static_cast<double>(n));
    return f;
}

void add_host_info(cJSON* out, const Options& o) {
    cJSON_AddStringToObject(out, "url", ("ws://" + o.host + ":" + std::to_string(o.port) + o.path).c_str());
    cJSON_AddNumberToObject(out, "load_1m", load_average_1m());
    if (o.server_pid > 0) cJSON_AddNumberToObject(out, "server_pid", o.server_pid);
}

// The progress line of a measured window.
void note_window(const Window& w, const WindowFigures& f, const Verdict& v) {
    std::fprintf(
        stderr, "  rate %.0f/s x %.0fs: sent %llu delivered %llu lost %llu  %.0f deliveries/s  p50 %.0fus p99 %.0fus",
        f.rate, f.duration_s, static_cast<unsigned long long>(w.sent), static_cast<unsigned long long>(w.delivered),
        static_cast<unsigned long long>(f.lost), f.deliveries_per_s, f.latency_us.p50, f.latency_us.p99);
    if (f.server_sampled && w.delivered)
        std::fprintf(stderr, "  server %.2f us/delivery", f.server_cpu_us / static_cast<double>(w.delivered));
    std::fprintf(stderr, "  %s\n", v.pass ? "PASS" : v.reason.c_str());
}

// Runs one measured fan-out window (plus drain) on the subscribers
// [first, first+count): samples the host around it, works out its figures,
// adds them to `j` and returns whether the window passed.
bool measure_window(Runner& r, cJSON* j, double rate, double duration_s, size_t first, size_t count) {
    const Options& o = r.opts();
    Window w;
    // Each message reaches the members of its group: live / groups of them.
    const size_t live = r.ready_in(first, count) / std::max<size_t>(1, o.groups);
    const HostSample before = take_host_sample(o.server_pid, o.redis_pid, r.loop_stats(), now_ns());
    r.run_window(w, rate, duration_s);
    r.drain(w, r.expected_deliveries(first, count), first, count);
    const HostSample after = take_host_sample(o.server_pid, o.redis_pid, r.loop_stats(), now_ns());
    r.stop_counting();
    const WindowFigures f = window_figures(w, rate, duration_s, live, before, after);
    const Verdict v = window_verdict(w, f, o.tolerance);
    add_window_json(j, w, f, v);
    note_window(w, f, v);
    return v.pass;
}

// An unmeasured window at a low rate so that the first measured one does
// not pay for cold caches; false with `err` when nothing got through.
bool warm_up(Runner& r, std::string& err) {
    const Options& o = r.opts();
    Window w;
    r.run_window(w, std::min(o.rate > 0 ? o.rate : 100.0, 100.0), o.warmup_s);
    const uint64_t until = now_ns() + 5000000000ull;
    while (now_ns() < until && w.delivered < r.expected_deliveries(r.first_subscriber(), o.subscribers)) r.poll(1);
    r.stop_counting();
    const std::string down = r.publisher_down_reason();
    if (!down.empty()) {
        err = "warm-up: " + down;
        return false;
    }
    if (w.delivered == 0) {
        err =
            "warm-up: no new_message reached any subscriber (are the publishers allowed to send to '" + o.group + "'?)";
        return false;
    }
    r.settle(0.3);
    return true;
}

// Publishers at indices 0..P-1, subscribers P..P+n-1. Returns false with
// err on setup failure.
bool setup_fanout(Runner& r, std::string& err, double& setup_s) {
    const Options& o = r.opts();
    const size_t n = o.subscribers, p = o.publishers;
    if (!r.init(err)) return false;
    if (!r.sign_tokens(n + p, p, err)) return false;
    r.set_join(true);
    const uint64_t t0 = now_ns();
    std::vector<uint32_t> idx(n), pubs(p);
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(i + p);
    for (size_t i = 0; i < p; ++i) pubs[i] = static_cast<uint32_t>(i);
    note("fanout: connecting %.0f subscribers to group", static_cast<double>(n));
    size_t ready = r.open(idx, o.setup_timeout_s);
    if (ready < n) {
        err = "only " + std::to_string(ready) + " of " + std::to_string(n) + " subscribers joined";
        return false;
    }
    if (r.open(pubs, 10) != p) {
        err = "a publisher could not connect and authenticate";
        return false;
    }
    setup_s = secs(now_ns() - t0);
    note("fanout: %.0f subscribers ready in %.2f s", static_cast<double>(n), setup_s);
    return o.warmup_s <= 0 || warm_up(r, err);
}

// Waits until no delivery arrived for 1 s (at most 30 s).
void wait_quiet(Runner& r) {
    Window quiet;
    r.count_stale(quiet);
    const uint64_t limit = now_ns() + 30000000000ull;
    uint64_t last_seen = now_ns(), seen = 0;
    while (now_ns() < limit && now_ns() - last_seen < 1000000000ull) {
        r.poll(5);
        if (quiet.stale != seen) {
            seen = quiet.stale;
            last_seen = now_ns();
        }
    }
    r.stop_counting();
}

// After an overloaded window: waits for quiet, then until one probe message
// is acknowledged with success and reaches every open subscriber (at most
// 30 tries, ~1 s each). A server whose storage link tripped under the
// overload refuses sends until it reconnects. Returns false if it never
// recovered.
bool recover(Runner& r) {
    const Options& o = r.opts();
    wait_quiet(r);
    for (int attempt = 0; attempt < 30; ++attempt) {
        Window w;
        r.run_window(w, 2, 0.5);  // exactly one message
        const uint64_t want = r.expected_deliveries(r.first_subscriber(), o.subscribers);
        const uint64_t until = now_ns() + 2000000000ull;
        while (now_ns() < until && (w.acked_ok + w.ack_failed < w.sent || (w.acked_ok > 0 && w.delivered < want)))
            r.poll(1);
        r.stop_counting();
        if (w.acked_ok == w.sent && w.sent > 0 && w.delivered >= want) return true;
        r.settle(0.5);
    }
    return false;
}

// Reconnects subscribers that were closed during a window. True if all are back.
bool repair(Runner& r) {
    const Options& o = r.opts();
    const std::vector<uint32_t> idx = r.not_ready_in(r.first_subscriber(), o.subscribers);
    if (idx.empty()) return true;
    note("reconnecting %.0f closed subscribers", static_cast<double>(idx.size()));
    return r.open(idx, o.setup_timeout_s) == idx.size();
}

// The server's RSS before the connections, after their auth and after the
// hold, per connection, in `out`.
void add_idle_rss(cJSON* out, const Options& o, size_t ready, const ProcSample& before, const ProcSample& after_auth,
                  const ProcSample& after_hold) {
    if (before.ok && after_auth.ok && after_hold.ok && ready > 0) {
        cJSON_AddNumberToObject(out, "rss_before_kib", static_cast<double>(before.rss_kib));
        cJSON_AddNumberToObject(out, "rss_after_auth_kib", static_cast<double>(after_auth.rss_kib));
        cJSON_AddNumberToObject(out, "rss_after_hold_kib", static_cast<double>(after_hold.rss_kib));
        auto per = [&](const ProcSample& s) {
            return std::round((static_cast<double>(s.rss_kib) - static_cast<double>(before.rss_kib)) * 1024.0 /
                              static_cast<double>(ready));
        };
        cJSON_AddNumberToObject(out, "rss_per_conn_after_auth_bytes", per(after_auth));
        cJSON_AddNumberToObject(out, "rss_per_conn_bytes", per(after_hold));
        note("idle: server RSS %.0f -> %.0f KiB: %.0f bytes per connection", static_cast<double>(before.rss_kib),
             static_cast<double>(after_hold.rss_kib), per(after_hold));
    } else if (o.server_pid > 0) {
        cJSON_AddStringToObject(out, "rss_error", "could not read /proc/PID/status of the server");
    }
}

// The common start of fanout and sweep: `mode`, host info, group and
// content size in `out`, then subscribers joined and the time that took.
// False (with "error" and "failures" in `out`) when the setup failed.
bool begin_group_scenario(const Options& o, Runner& r, cJSON* out, const char* mode) {
    cJSON_AddStringToObject(out, "mode", mode);
    add_host_info(out, o);
    cJSON_AddStringToObject(out, "group", o.group.c_str());
    cJSON_AddNumberToObject(out, "content_bytes", static_cast<double>(o.content_bytes));
    cJSON_AddBoolToObject(out, "deflate_offered", o.deflate);
    std::string err;
    double setup_s = 0;
    if (setup_fanout(r, err, setup_s)) {
        cJSON_AddNumberToObject(out, "setup_s", setup_s);
        return true;
    }
    cJSON_AddStringToObject(out, "error", err.c_str());
    if (!r.failures().empty()) cJSON_AddItemToObject(out, "failures", failures_json(r));
    return false;
}

// The fanout's result: the figures of the window with the median CPU per
// delivery (else deliveries/s), copied to the top of `out`, then every
// window under "windows".
void add_fanout_result(cJSON* out, cJSON* windows, std::vector<std::pair<double, int>> order, int repeat,
                       uint64_t lost_all, bool all_pass, const Runner& r) {
    std::sort(order.begin(), order.end());
    const int median = order[(order.size() - 1) / 2].second;
    for (const cJSON* item = cJSON_GetArrayItem(windows, median)->child; item; item = item->next)
        cJSON_AddItemToObject(out, item->string, cJSON_Duplicate(item, 1));
    cJSON_AddNumberToObject(out, "repeat", repeat);
    cJSON_AddNumberToObject(out, "median_window", median);
    cJSON_AddNumberToObject(out, "lost_all_windows", static_cast<double>(lost_all));
    cJSON_AddBoolToObject(out, "all_windows_pass", all_pass);
    cJSON_AddItemToObject(out, "windows", windows);
    if (!r.close_codes().empty()) {
        cJSON* cc = cJSON_AddObjectToObject(out, "close_codes");
        for (const auto& [code, n] : r.close_codes())
            cJSON_AddNumberToObject(cc, std::to_string(code).c_str(), static_cast<double>(n));
    }
}

// The sweep's state: its steps so far and what they found.
struct Sweep {
    Runner& r;
    cJSON* steps;
    std::string err;
    double best = 0, first_fail = 0;
    cJSON* best_step = nullptr;

    // One measured window; its object goes into `steps`. Sets err when the
    // subscribers closed by an earlier step cannot be reconnected, or the
    // server does not recover after a failed step.
    bool step(double rate, double dur, cJSON** obj) {
        if (!repair(r)) {
            err = "could not reconnect the subscribers closed by an earlier step";
            return false;
        }
        cJSON* s = cJSON_CreateObject();
        cJSON_AddItemToArray(steps, s);
        const bool pass = measure_window(r, s, rate, dur, r.first_subscriber(), r.opts().subscribers);
        if (obj) *obj = s;
        r.settle(0.5);
        if (!pass && !recover(r)) err = "the server did not recover after a failed step (no successful send for 30 s)";
        return pass;
    }
};

// Geometric steps up to the first failure.
void sweep_up(Sweep& sw) {
    const Options& o = sw.r.opts();
    double rate = o.start_rate;
    for (int i = 0; i < 40 && rate <= o.max_rate && sw.err.empty(); ++i) {
        cJSON* s = nullptr;
        if (!sw.step(rate, o.step_duration_s, &s)) {
            sw.first_fail = rate;
            break;
        }
        sw.best = rate;
        sw.best_step = s;
        rate = std::round(rate * o.factor);
    }
}

// Bisection between the last pass and the first failure.
void sweep_refine(Sweep& sw) {
    const Options& o = sw.r.opts();
    for (int i = 0; i < o.refine_steps && sw.err.empty() && sw.best > 0 && sw.first_fail > sw.best * (1 + o.tolerance);
         ++i) {
        const double mid = std::round(std::sqrt(sw.best * sw.first_fail));
        if (mid <= sw.best || mid >= sw.first_fail) break;
        cJSON* s = nullptr;
        if (sw.step(mid, o.step_duration_s, &s)) {
            sw.best = mid;
            sw.best_step = s;
        } else {
            sw.first_fail = mid;
        }
    }
}

// The result: a full-length window at the best rate; while that fails,
// 10% lower (at most 5 tries: a server near its limit may pass a short
// step and still fall behind over the full duration).
void sweep_confirm(Sweep& sw) {
    const Options& o = sw.r.opts();
    if (!o.confirm || sw.best <= 0 || !sw.err.empty()) return;
    double cr = sw.best;
    sw.best = 0;
    sw.best_step = nullptr;
    for (int attempt = 0; attempt < 5 && cr >= 1; ++attempt, cr = std::round(cr * 0.9)) {
        note("sweep: confirming %.0f msg/s for %.0f s", cr, o.duration_s);
        cJSON* s = nullptr;
        if (sw.step(cr, o.duration_s, &s)) {
            sw.best = cr;
            sw.best_step = s;
            break;
        }
        if (!sw.err.empty()) break;
    }
}

}  // namespace

cJSON* run_idle(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "mode", "idle");
    add_host_info(out, o);
    cJSON_AddNumberToObject(out, "connections", static_cast<double>(o.connections));
    Runner r(o, o.connections);
    std::string err;
    if (!r.init(err) || !r.sign_tokens(o.connections, 0, err)) {
        cJSON_AddStringToObject(out, "error", err.c_str());
        return out;
    }
    const ProcSample before = sample_process(o.server_pid);
    std::vector<uint32_t> idx(o.connections);
    for (size_t i = 0; i < o.connections; ++i) idx[i] = static_cast<uint32_t>(i);
    note("idle: opening %.0f connections (%.0f handshakes at a time)", static_cast<double>(o.connections),
         static_cast<double>(o.batch));
    const uint64_t t0 = now_ns();
    const size_t ready = r.open(idx, o.setup_timeout_s);
    const double setup_s = secs(now_ns() - t0);
    note("idle: %.0f authenticated in %.2f s (%.0f failed)", static_cast<double>(ready), setup_s,
         static_cast<double>(r.setup_failed()));
    const ProcSample after_auth = sample_process(o.server_pid);
    if (ready > 0) r.settle(o.hold_s);
    const ProcSample after_hold = sample_process(o.server_pid);
    const size_t still_open = r.ready_in(0, o.connections);
    cJSON_AddNumberToObject(out, "authenticated", static_cast<double>(ready));
    cJSON_AddNumberToObject(out, "failed", static_cast<double>(o.connections - ready));
    cJSON_AddNumberToObject(out, "open_after_hold", static_cast<double>(still_open));
    cJSON_AddNumberToObject(out, "setup_s", setup_s);
    cJSON_AddNumberToObject(out, "connections_per_s", setup_s > 0 ? static_cast<double>(ready) / setup_s : 0);
    cJSON_AddNumberToObject(out, "hold_s", o.hold_s);
    add_idle_rss(out, o, ready, before, after_auth, after_hold);
    if (!r.failures().empty()) cJSON_AddItemToObject(out, "failures", failures_json(r));
    ok = ready == o.connections && still_open == o.connections;
    if (!ok) cJSON_AddStringToObject(out, "error", "not every connection authenticated and stayed open");
    r.close_all();
    return out;
}

namespace {

// fanout and closed: o.repeat windows at o.rate (0: closed loop, o.max_inflight
// sends unacknowledged at most), reported under `mode`.
// o.repeat measured windows on the connections [first, first+count), each
// after a failed one waiting for the server to recover; their results in
// `out` (add_fanout_result).
void measure_windows(Runner& r, cJSON* out, size_t first, size_t count) {
    const Options& o = r.opts();
    const int repeat = std::max(1, o.repeat);
    cJSON* windows = cJSON_CreateArray();
    std::vector<std::pair<double, int>> order;  // (CPU per delivery, else -deliveries/s; window)
    uint64_t lost_all = 0;
    bool all_pass = true;
    for (int i = 0; i < repeat; ++i) {
        note("measuring %.0f msg/s (0: closed loop) for %.0f s (window %.0f of %.0f)", o.rate, o.duration_s, i + 1.0,
             repeat);
        cJSON* wj = cJSON_CreateObject();
        cJSON_AddItemToArray(windows, wj);
        const bool pass = measure_window(r, wj, o.rate, o.duration_s, first, count);
        all_pass = all_pass && pass;
        lost_all += static_cast<uint64_t>(cJSON_GetObjectItemCaseSensitive(wj, "lost")->valuedouble);
        const cJSON* cpu = cJSON_GetObjectItemCaseSensitive(wj, "cpu_us_per_delivery");
        const cJSON* dps = cJSON_GetObjectItemCaseSensitive(wj, "deliveries_per_s");
        order.emplace_back(cJSON_IsNumber(cpu) ? cpu->valuedouble : -dps->valuedouble, i);
        if (i + 1 < repeat) {
            r.settle(0.5);
            if (!pass && (!recover(r) || !repair(r))) break;
        }
    }
    add_fanout_result(out, windows, std::move(order), repeat, lost_all, all_pass, r);
}

cJSON* run_group_windows(const Options& o, bool& ok, const char* mode) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    Runner r(o, o.subscribers + o.publishers);
    if (!begin_group_scenario(o, r, out, mode)) return out;
    measure_windows(r, out, r.first_subscriber(), o.subscribers);
    r.close_all();
    ok = true;
    return out;
}

}  // namespace

cJSON* run_fanout(const Options& o, bool& ok) { return run_group_windows(o, ok, "fanout"); }

cJSON* run_closed(const Options& o, bool& ok) {
    Options closed = o;
    closed.rate = 0;
    ok = false;
    if (o.publishers == 0 || o.groups % o.publishers != 0) {
        cJSON* out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "error", "--groups must be a multiple of --publishers (one publisher per group)");
        return out;
    }
    cJSON* out = run_group_windows(closed, ok, o.groups > 1 ? "groups" : "closed");
    cJSON_AddNumberToObject(out, "in_flight", static_cast<double>(o.max_inflight));
    // ("subscribers", from the window, counts those each message reaches.)
    cJSON_AddNumberToObject(out, "subscribers_total", static_cast<double>(o.subscribers));
    cJSON_AddNumberToObject(out, "groups", static_cast<double>(std::max<size_t>(1, o.groups)));
    cJSON_AddNumberToObject(out, "publishers", static_cast<double>(o.publishers));
    return out;
}

cJSON* run_broadcast(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "mode", "broadcast");
    add_host_info(out, o);
    cJSON_AddNumberToObject(out, "connections", static_cast<double>(o.connections));
    cJSON_AddNumberToObject(out, "content_bytes", static_cast<double>(o.content_bytes));
    Options bo = o;
    bo.publishers = 0;
    bo.subscribers = o.connections;
    Runner r(bo, o.connections);
    NotifySender sender;
    std::string err;
    if (!sender.connect(o.redis_addr, o.key_prefix, err) || !r.init(err) || !r.sign_tokens(o.connections, 0, err)) {
        cJSON_AddStringToObject(out, "error", err.c_str());
        return out;
    }
    r.set_external_send([&sender](const std::string& content) { return sender.send_all(content); });
    std::vector<uint32_t> idx(o.connections);
    for (size_t i = 0; i < o.connections; ++i) idx[i] = static_cast<uint32_t>(i);
    note("broadcast: opening %.0f connections", static_cast<double>(o.connections));
    if (r.open(idx, o.setup_timeout_s) < o.connections || (o.warmup_s > 0 && !warm_up(r, err))) {
        cJSON_AddStringToObject(out, "error", err.empty() ? "not every connection authenticated" : err.c_str());
        if (!r.failures().empty()) cJSON_AddItemToObject(out, "failures", failures_json(r));
        return out;
    }
    measure_windows(r, out, 0, o.connections);
    r.close_all();
    ok = true;
    return out;
}

cJSON* run_sweep(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    Runner r(o, o.subscribers + o.publishers);
    if (!begin_group_scenario(o, r, out, "sweep")) return out;
    cJSON_AddNumberToObject(out, "subscribers", static_cast<double>(o.subscribers));
    Sweep sw{r, cJSON_AddArrayToObject(out, "steps")};
    note("sweep: from %.0f msg/s, x%.2f per step, %.0f s per step", o.start_rate, o.factor, o.step_duration_s);
    sweep_up(sw);
    sweep_refine(sw);
    sweep_confirm(sw);
    if (!sw.err.empty()) cJSON_AddStringToObject(out, "error", sw.err.c_str());
    cJSON_AddNumberToObject(out, "best_rate", sw.best);
    cJSON_AddNumberToObject(out, "first_failing_rate", sw.first_fail);
    if (sw.best_step)
        cJSON_AddItemToObject(out, "best", cJSON_Duplicate(sw.best_step, 1));
    else
        cJSON_AddNullToObject(out, "best");
    r.close_all();
    ok = sw.err.empty() && sw.best > 0;
    return out;
}

}  // namespace pushd_bench
