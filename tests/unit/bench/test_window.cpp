#include "histogram.hpp"
#include "window.hpp"

#include <catch2/catch.hpp>

using namespace pushd_bench;

namespace {

constexpr uint64_t kSec = 1000000000ull;

// A 2 s window with 100 sends acknowledged and 100 x 10 deliveries.
Window full_window() {
    Window w;
    w.t0 = 10 * kSec;
    w.end = 12 * kSec;
    w.sent = 100;
    w.acked_ok = 100;
    w.delivered = 1000;
    w.in_window = 900;
    w.last_delivery = 12 * kSec + kSec / 2;                                         // 0.5 s after the window
    for (int i = 1; i <= 100; ++i) w.latency.add(static_cast<uint64_t>(i) * 1000);  // 1..100 us
    return w;
}

HostSample sample_at(uint64_t t_ns, uint64_t server_cpu_us, uint64_t self_cpu_us) {
    HostSample s;
    s.t_ns = t_ns;
    s.server.ok = true;
    s.server.cpu_us = server_cpu_us;
    s.server.rss_kib = 5000;
    s.self_cpu_us = self_cpu_us;
    s.clock_ticks = 100;
    return s;
}

}  // namespace

TEST_CASE("histogram quantiles are exact below 128 and within 1.6% above", "[bench][histogram]") {
    Histogram h;
    CHECK(h.quantile(0.5) == 0);
    for (uint64_t v = 1; v <= 100; ++v) h.add(v);
    CHECK(h.count() == 100);
    CHECK(h.quantile(0.5) == 50);
    CHECK(h.quantile(0.99) == 99);
    CHECK(h.quantile(1.0) == 100);
    CHECK(h.min() == 1);
    CHECK(h.mean() == Approx(50.5));
    h.reset();
    h.add(1000000);
    CHECK(h.quantile(0.5) == 1000000);  // capped at the max
    h.add(2000000);
    CHECK(static_cast<double>(h.quantile(0.0)) == Approx(1000000).epsilon(0.016));
}

TEST_CASE("a window's figures: rates, loss, latency and CPU per delivery", "[bench][window]") {
    const Window w = full_window();
    const HostSample before = sample_at(9 * kSec, 1000000, 0);
    const HostSample after = sample_at(14 * kSec, 1500000, 2000000);  // 4 s after t0
    const WindowFigures f = window_figures(w, 50, 2, 10, before, after);
    CHECK(f.expected == 1000);
    CHECK(f.lost == 0);
    CHECK(f.lost_after_ack == 0);
    CHECK(f.achieved_rate == Approx(50));
    CHECK(f.deliveries_per_s == Approx(1000 / 2.5));  // up to the last delivery
    CHECK(f.window_deliveries_per_s == Approx(450));
    CHECK(f.last_delivery_after_window_ms == Approx(500));
    CHECK(f.measured_s == Approx(4));
    CHECK(f.latency_us.p50 == Approx(50).epsilon(0.016));  // bucket edges: within 1.6%
    CHECK(f.latency_us.p99 == Approx(99).epsilon(0.016));
    CHECK(f.latency_us.max == Approx(100));
    REQUIRE(f.server_sampled);
    CHECK(f.server_cpu_us == Approx(500000));
    CHECK(f.cpu_us_per_delivery == Approx(500));
    CHECK(f.server_cpu_util == Approx(0.125));
    CHECK(f.server_rss_kib == 5000);
    CHECK_FALSE(f.redis_sampled);
    CHECK(f.client.cpu_util == Approx(0.5));
    CHECK_FALSE(f.server_core_other_util);
}

TEST_CASE("a window's figures without samples and with nothing sent", "[bench][window]") {
    Window w;
    w.t0 = kSec;
    w.end = 2 * kSec;
    HostSample none;
    none.t_ns = 2 * kSec;
    const WindowFigures f = window_figures(w, 0, 1, 5, HostSample{}, none);
    CHECK_FALSE(f.server_sampled);
    CHECK(f.deliveries_per_s == 0);
    CHECK(f.latency_us.p50 == 0);
    const Verdict v = window_verdict(w, f, 0.05);
    CHECK_FALSE(v.pass);
    CHECK(v.reason == "nothing sent");
}

TEST_CASE("CPU use per core and what other processes took of the server's", "[bench][window]") {
    const Window w = full_window();
    HostSample a = sample_at(9 * kSec, 0, 0), b = sample_at(14 * kSec, 2000000, 1000000);
    a.cores = {CoreTimes{0, 100, 10, 0, 1000}, CoreTimes{1, 0, 0, 0, 1000}};
    b.cores = {CoreTimes{0, 500, 20, 0, 1500}, CoreTimes{1, 400, 0, 50, 1500}};
    b.server_cpu = 0;
    b.self_cpu = 1;
    const WindowFigures f = window_figures(w, 50, 2, 10, a, b);
    REQUIRE(f.cores.size() == 2);
    CHECK(f.cores[0].busy == Approx(0.8));
    CHECK(f.cores[0].softirq == Approx(0.02));
    CHECK(f.cores[1].steal == Approx(0.1));
    // CPU 0 was busy 0.8 of 5 s = 4 s; the server took 2 s of it.
    REQUIRE(f.server_core_other_util);
    CHECK(*f.server_core_other_util == Approx(0.4));
    // CPU 1 was busy 0.8 of 5 s; the generator took 1 s.
    REQUIRE(f.client_core_other_util);
    CHECK(*f.client_core_other_util == Approx(0.6));
}

TEST_CASE("a window's verdict, in the order of its reasons", "[bench][window]") {
    Window w = full_window();
    w.last_delivery = 12 * kSec - 1;  // every delivery inside the window
    const HostSample s = sample_at(14 * kSec, 0, 0);
    auto verdict = [&](double rate, size_t subs) {
        return window_verdict(w, window_figures(w, rate, 2, subs, s, s), 0.05);
    };
    CHECK(verdict(50, 10).pass);
    CHECK(verdict(0, 10).pass);  // as fast as possible: no rate to meet
    CHECK(verdict(60, 10).reason == "publisher fell short of the rate");
    CHECK(verdict(50, 11).reason == "lost 100");
    w.delivered = 1000;
    w.closed_subscribers = 2;
    CHECK(verdict(50, 10).reason == "2 subscribers closed");
    w.ack_failed = 3;
    CHECK(verdict(50, 11).reason == "3 sends refused (ack success false), lost 100");
    w = full_window();
    w.last_delivery = 30 * kSec;  // deliveries trailed far behind
    CHECK(verdict(50, 10).reason == "deliveries fell behind the rate");
}
