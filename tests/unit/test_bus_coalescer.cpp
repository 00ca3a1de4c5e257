// The bus coalescing policy (core/bus_coalescer): holds only under load,
// never when idle, and never beyond its bounds.
#include "core/bus_coalescer.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace pushd;

namespace {
constexpr int64_t kT0 = 5000000;  // us

// `n` entries one at a time, `gap_us` apart, each delivered and flushed in
// `cost_us`, starting at `t`; returns the time after the last.
int64_t steady(BusCoalescer& c, int n, int64_t gap_us, int64_t cost_us, int64_t t) {
    for (int i = 0; i < n; i++, t += gap_us) {
        c.on_arrival(1, t);
        c.on_delivered(1, cost_us);
    }
    return t;
}
}  // namespace

TEST_CASE("the first entry, and any entry after a quiet spell, goes at once", "[bus_coalescer]") {
    BusCoalescer c;
    c.on_arrival(1, kT0);
    CHECK(c.hold_us(1, kT0, kT0) == 0);
    // Saturated: entries 1 ms apart, each costing 0.9 ms to deliver.
    int64_t t = steady(c, 50, 1000, 900, kT0);
    REQUIRE(c.busy());
    // Then nothing for idle_gap_us: the next entry is not held.
    t += c.settings().idle_gap_us;
    c.on_arrival(1, t);
    CHECK_FALSE(c.busy());
    CHECK(c.hold_us(1, t, t) == 0);
}

TEST_CASE("100 msg/s fan-out is never held, however costly a flush", "[bus_coalescer]") {
    BusCoalescer c;
    // 10 ms apart; a flush to 1,000 connections at 5-9 us each.
    int64_t t = kT0;
    for (int i = 0; i < 200; i++, t += 10000) {
        c.on_arrival(1, t);
        CHECK(c.hold_us(1, t, t) == 0);
        c.on_delivered(1, 5000 + (i % 5) * 1000);
    }
    // Even at a load past enter_load: no second entry is expected within a hold.
    CHECK(c.load() >= c.settings().enter_load);
    CHECK(c.hold_us(1, t, t) == 0);
}

TEST_CASE("entries further apart than max_gap_us are not held, though a hold could last longer", "[bus_coalescer]") {
    BusCoalescer c;
    REQUIRE(c.settings().max_gap_us < c.settings().max_hold_us);
    // Busy (each flush takes most of the gap), entries just past max_gap_us apart.
    const int64_t gap = c.settings().max_gap_us + 500;
    int64_t t = steady(c, 50, gap, gap * 9 / 10, kT0);
    REQUIRE(c.busy());
    c.on_arrival(1, t);
    CHECK(c.hold_us(1, t, t) == 0);
    // Just under it: held.
    BusCoalescer d;
    const int64_t close_gap = d.settings().max_gap_us - 500;
    t = steady(d, 50, close_gap, close_gap * 9 / 10, kT0);
    REQUIRE(d.busy());
    d.on_arrival(1, t);
    CHECK(d.hold_us(1, t, t) > 0);
}

TEST_CASE("a saturated loop holds entries for about one flush, bounded", "[bus_coalescer]") {
    BusCoalescer c;
    // The closed loop before coalescing: one entry per read, ~1.8 ms apart,
    // each flush ~1.7 ms.
    int64_t t = steady(c, 40, 1800, 1700, kT0);
    REQUIRE(c.busy());
    CHECK(c.load() > 0.9);
    const int64_t window = c.hold_window_us();
    CHECK(window >= 1700);
    CHECK(window <= c.settings().max_hold_us);
    c.on_arrival(1, t);
    CHECK(c.hold_us(1, t, t) == window);
    // The hold counts from the oldest entry, and ends.
    CHECK(c.hold_us(2, t, t + 500) == window - 500);
    CHECK(c.hold_us(2, t, t + window) == 0);
    CHECK(c.hold_us(2, t, t + 10 * window) == 0);
    // A full slice goes at once.
    CHECK(c.hold_us(c.settings().max_entries, t, t) == 0);
    CHECK(c.hold_us(0, t, t) == 0);
}

TEST_CASE("holding stops once delivering takes a small share of the time", "[bus_coalescer]") {
    BusCoalescer c;
    int64_t t = steady(c, 40, 1000, 900, kT0);
    REQUIRE(c.busy());
    // Hysteresis: a load between leave_load and enter_load keeps holding.
    t = steady(c, 40, 1000, 350, t);
    CHECK(c.busy());
    // Below leave_load it stops.
    t = steady(c, 40, 1000, 100, t);
    CHECK_FALSE(c.busy());
    c.on_arrival(1, t);
    CHECK(c.hold_us(1, t, t) == 0);
}

TEST_CASE("the window follows the flush time within its bounds", "[bus_coalescer]") {
    SECTION("cheap flushes: at least min_hold_us") {
        BusCoalescer c;
        steady(c, 40, 100, 90, kT0);  // 10,000 entries/s, 90 us each
        REQUIRE(c.busy());
        CHECK(c.hold_window_us() == c.settings().min_hold_us);
    }
    SECTION("long flushes: at most max_hold_us") {
        BusCoalescer c;
        // Batches of 20 entries every 20 ms, each batch's flush 19 ms.
        int64_t t = kT0;
        for (int i = 0; i < 40; i++, t += 19000) {
            c.on_arrival(20, t);
            c.on_delivered(20, 19000);
        }
        REQUIRE(c.busy());
        CHECK(c.hold_window_us() == c.settings().max_hold_us);
    }
}

TEST_CASE("no input sequence makes a hold exceed max_hold_us", "[bus_coalescer]") {
    std::mt19937 rng(12345);
    BusCoalescer c;
    int64_t t = kT0;
    for (int i = 0; i < 20000; i++) {
        t += static_cast<int64_t>(rng() % 4000);
        const size_t n = 1 + rng() % 80;
        c.on_arrival(n, t);
        const int64_t oldest = t - static_cast<int64_t>(rng() % 5000);
        const int64_t h = c.hold_us(n, oldest, t);
        REQUIRE(h >= 0);
        REQUIRE(h <= c.settings().max_hold_us);
        if (n >= c.settings().max_entries) REQUIRE(h == 0);
        // Never past max_hold_us after the oldest entry arrived.
        if (h > 0) REQUIRE(t - oldest + h <= c.settings().max_hold_us);
        c.on_delivered(n, static_cast<int64_t>(rng() % 20000));
    }
}

TEST_CASE("off never holds; always holds every slice for max_hold_us", "[bus_coalescer]") {
    CoalesceSettings off;
    off.mode = CoalesceMode::off;
    CoalesceSettings always;
    always.mode = CoalesceMode::always;
    BusCoalescer c_off(off), c_always(always);
    int64_t t = steady(c_off, 40, 1000, 900, kT0);
    steady(c_always, 40, 1000, 900, kT0);
    CHECK(c_off.hold_us(1, t, t) == 0);
    CHECK(c_always.hold_us(1, t, t) == always.max_hold_us);
    CHECK(c_always.hold_us(1, t, t + 1000) == always.max_hold_us - 1000);
    CHECK(c_always.hold_us(always.max_entries, t, t) == 0);
    // Even the very first entry, unmeasured.
    BusCoalescer fresh(always);
    fresh.on_arrival(1, kT0);
    CHECK(fresh.hold_us(1, kT0, kT0) == always.max_hold_us);
}

TEST_CASE("a loop busy with other work holds entries that come close together", "[bus_coalescer]") {
    BusCoalescer c;
    // Cheap flushes (a small group), but the loop has no time to spare:
    // requests, storage replies, a CPU shared with others.
    int64_t t = kT0;
    for (int i = 0; i < 40; i++, t += 1300) {
        c.on_arrival(1, t);
        c.on_delivered(1, 100);
        c.on_loop_busy(0.9);
    }
    CHECK(c.load() >= 0.8);
    REQUIRE(c.busy());
    c.on_arrival(1, t);
    CHECK(c.hold_us(1, t, t) == c.hold_window_us());
    CHECK(c.hold_window_us() >= 1300);
    // The same loop, idle: no holding.
    for (int i = 0; i < 40; i++, t += 1300) {
        c.on_arrival(1, t);
        c.on_delivered(1, 100);
        c.on_loop_busy(0.05);
    }
    CHECK_FALSE(c.busy());
    CHECK(c.hold_us(1, t, t) == 0);
}

TEST_CASE("a fully busy loop still never holds entries 10 ms apart", "[bus_coalescer]") {
    BusCoalescer c;
    int64_t t = kT0;
    for (int i = 0; i < 100; i++, t += 10000) {
        c.on_arrival(1, t);
        c.on_loop_busy(1.0);
        CHECK(c.hold_us(1, t, t) == 0);
        c.on_delivered(1, 8000);
    }
    CHECK(c.busy());
    // Out-of-range shares are clamped.
    c.on_loop_busy(7.5);
    c.on_loop_busy(-3);
    CHECK(c.load() <= 1.0);
}
