// The arithmetic and the verdict of one measured window (see window.hpp).
#include "window.hpp"

#include <algorithm>
#include <cmath>

namespace pushd_bench {
namespace {

double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// a / b, or 0 when b is not positive.
double ratio_or_zero(double a, double b) { return b > 0 ? a / b : 0; }

// Nanoseconds as microseconds rounded to 0.1.
double us(uint64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; }

void process_figures(WindowFigures& f, const Window& w, const HostSample& a, const HostSample& b) {
    const double elapsed_s = f.measured_s;
    if (a.server.ok && b.server.ok) {
        const double cpu = static_cast<double>(b.server.cpu_us - a.server.cpu_us);
        f.server_sampled = true;
        f.server_cpu_us = cpu;
        f.server_cpu_util = ratio_or_zero(cpu / 1e6, elapsed_s);
        f.cpu_us_per_delivery = w.delivered ? cpu / static_cast<double>(w.delivered) : 0;
        f.server_rss_kib = b.server.rss_kib;
    }
    if (a.redis.ok && b.redis.ok) {
        const double cpu = static_cast<double>(b.redis.cpu_us - a.redis.cpu_us);
        f.redis_sampled = true;
        f.redis_cpu_us = cpu;
        f.redis_cpu_us_per_delivery = w.delivered ? cpu / static_cast<double>(w.delivered) : 0;
    }
    ClientFigures& c = f.client;
    c.cpu_util = ratio_or_zero(static_cast<double>(b.self_cpu_us - a.self_cpu_us) / 1e6, elapsed_s);
    c.busy_fraction = ratio_or_zero(secs(b.loop.busy_ns - a.loop.busy_ns), elapsed_s);
    c.reads = static_cast<double>(b.loop.reads - a.loop.reads);
    c.messages_per_read = ratio_or_zero(static_cast<double>(b.loop.messages_in - a.loop.messages_in), c.reads);
    c.bytes_in = static_cast<double>(b.loop.bytes_in - a.loop.bytes_in);
    c.compressed_messages_in = static_cast<double>(b.loop.compressed_in - a.loop.compressed_in);
}

// Per-CPU use over the window, and what on the server's and the
// generator's CPUs was neither them (nor Redis when it shares the server's
// CPU): other processes, i.e. interference.
void core_figures(WindowFigures& f, const HostSample& a, const HostSample& b) {
    for (size_t i = 0; i < a.cores.size() && i < b.cores.size(); ++i) {
        const CoreTimes& x = a.cores[i];
        const CoreTimes& y = b.cores[i];
        const double total = static_cast<double>(y.total - x.total);
        if (x.cpu != y.cpu || total <= 0) continue;
        const double busy = static_cast<double>(y.busy - x.busy) / total;
        f.cores.push_back(CoreUse{x.cpu, busy, static_cast<double>(y.softirq - x.softirq) / total,
                                  static_cast<double>(y.steal - x.steal) / total});
        const double secs_total = total / static_cast<double>(b.clock_ticks);
        if (secs_total <= 0) continue;
        if (x.cpu == b.server_cpu && f.server_sampled) {
            double ours = f.server_cpu_us / 1e6;
            if (b.redis_cpu == b.server_cpu && f.redis_sampled) ours += f.redis_cpu_us / 1e6;
            f.server_core_other_util = std::max(0.0, busy - ours / secs_total);
        }
        if (x.cpu == b.self_cpu)
            f.client_core_other_util =
                std::max(0.0, busy - static_cast<double>(b.self_cpu_us - a.self_cpu_us) / 1e6 / secs_total);
    }
}

}  // namespace

LatencyFigures latency_figures(const Histogram& h) {
    LatencyFigures l;
    l.p50 = us(h.quantile(0.50));
    l.p90 = us(h.quantile(0.90));
    l.p99 = us(h.quantile(0.99));
    l.p999 = us(h.quantile(0.999));
    l.max = us(h.max());
    l.mean = us(static_cast<uint64_t>(h.mean()));
    return l;
}

WindowFigures window_figures(const Window& w, double rate, double duration_s, size_t subscribers,
                             const HostSample& before, const HostSample& after) {
    WindowFigures f;
    f.rate = rate;
    f.duration_s = duration_s;
    f.subscribers = subscribers;
    f.expected = w.sent * subscribers;
    f.lost = f.expected > w.delivered ? f.expected - w.delivered : 0;
    const uint64_t expected_acked = w.acked_ok * subscribers;
    f.lost_after_ack = expected_acked > w.delivered ? expected_acked - w.delivered : 0;
    const double window_s = secs(w.end - w.t0);
    const double span_s = secs(std::max(w.last_delivery, w.end) - w.t0);
    f.achieved_rate = ratio_or_zero(static_cast<double>(w.sent), window_s);
    f.deliveries_per_s = ratio_or_zero(static_cast<double>(w.delivered), span_s);
    f.window_deliveries_per_s = ratio_or_zero(static_cast<double>(w.in_window), window_s);
    f.last_delivery_after_window_ms = w.last_delivery > w.end ? static_cast<double>(w.last_delivery - w.end) / 1e6 : 0;
    f.measured_s = secs(after.t_ns - w.t0);
    f.latency_us = latency_figures(w.latency);
    f.ack_latency_us = latency_figures(w.ack_latency);
    process_figures(f, w, before, after);
    core_figures(f, before, after);
    return f;
}

Verdict window_verdict(const Window& w, const WindowFigures& f, double tolerance) {
    const double want_sent = f.rate > 0 ? f.rate * f.duration_s : 0;
    std::string why;
    if (w.ack_failed > 0)
        why = std::to_string(w.ack_failed) + " sends refused (ack success false), lost " + std::to_string(f.lost);
    else if (f.lost > 0)
        why = "lost " + std::to_string(f.lost);
    else if (w.closed_subscribers > 0)
        why = std::to_string(w.closed_subscribers) + " subscribers closed";
    else if (f.rate > 0 && static_cast<double>(w.sent) < (1 - tolerance) * want_sent)
        why = "publisher fell short of the rate";
    else if (f.rate > 0 && f.deliveries_per_s < (1 - tolerance) * f.rate * static_cast<double>(f.subscribers))
        why = "deliveries fell behind the rate";
    if (w.sent == 0 && why.empty()) why = "nothing sent";
    return Verdict{why.empty(), why};
}

}  // namespace pushd_bench
