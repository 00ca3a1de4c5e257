// The per-connection token bucket (core/ratelimit).
#include "core/ratelimit.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {
constexpr int64_t kT0 = 1800000000000;  // ms

// Takes `n` tokens at `now_ms`; returns how many were allowed.
int take_n(RateBucket& b, int n, int64_t rate, int64_t burst, int64_t now_ms) {
    int allowed = 0;
    for (int i = 0; i < n; i++) {
        if (rate_take(b, rate, burst, now_ms) == RateVerdict::allowed) allowed++;
    }
    return allowed;
}
}  // namespace

TEST_CASE("a fresh bucket allows exactly the burst at one instant", "[ratelimit]") {
    RateBucket b;
    CHECK(take_n(b, 40, 20, 40, kT0) == 40);
    CHECK(rate_take(b, 20, 40, kT0) == RateVerdict::refused);
    CHECK(sizeof(RateBucket) == 16);
}

TEST_CASE("tokens come back at the rate, never beyond the burst", "[ratelimit]") {
    RateBucket b;
    REQUIRE(take_n(b, 5, 10, 5, kT0) == 5);
    CHECK(rate_take(b, 10, 5, kT0 + 99) == RateVerdict::refused);  // 1 token takes 100 ms
    CHECK(rate_take(b, 10, 5, kT0 + 100) == RateVerdict::allowed);
    CHECK(rate_take(b, 10, 5, kT0 + 150) == RateVerdict::refused);
    CHECK(rate_take(b, 10, 5, kT0 + 200) == RateVerdict::allowed);
    // A long pause refills to the burst, not more.
    CHECK(take_n(b, 10, 10, 5, kT0 + 60000) == 5);
}

TEST_CASE("a steady client at the rate is never refused", "[ratelimit]") {
    RateBucket b;
    int64_t t = kT0;
    for (int i = 0; i < 1000; i++, t += 50) {  // 20 per second
        REQUIRE(rate_take(b, 20, 1, t) == RateVerdict::allowed);
    }
}

TEST_CASE("burst 1 allows one request per interval", "[ratelimit]") {
    RateBucket b;
    CHECK(rate_take(b, 1, 1, kT0) == RateVerdict::allowed);
    CHECK(rate_take(b, 1, 1, kT0 + 999) == RateVerdict::refused);
    CHECK(rate_take(b, 1, 1, kT0 + 1000) == RateVerdict::allowed);
}

TEST_CASE("a flood at 10x the rate is abusive; a short burst over it is not", "[ratelimit]") {
    SECTION("burst past the bucket: refused, not abusive") {
        RateBucket b;
        take_n(b, 5, 5, 5, kT0);
        for (int i = 0; i < 39; i++) REQUIRE(rate_take(b, 5, 5, kT0) == RateVerdict::refused);
        // The 40th refusal within the second reaches 8 x 5.
        CHECK(rate_take(b, 5, 5, kT0 + 10) == RateVerdict::abusive);
    }
    SECTION("refusals spread over separate seconds never add up") {
        RateBucket b;
        int64_t t = kT0;
        for (int second = 0; second < 10; second++, t += 1000) {
            // Each second: the 5 tokens refilled, then 39 refused (just under 8x).
            REQUIRE(take_n(b, 5, 5, 5, t) == 5);
            for (int i = 0; i < 39; i++) REQUIRE(rate_take(b, 5, 5, t + 1) == RateVerdict::refused);
        }
    }
    SECTION("a steady 10x sender is closed within two seconds, whatever the jitter") {
        RateBucket b;
        int64_t t = kT0;
        RateVerdict v = RateVerdict::allowed;
        int sent = 0;
        for (; sent < 1000 && v != RateVerdict::abusive; sent++, t += 10) v = rate_take(b, 10, 10, t);  // 100/s
        CHECK(v == RateVerdict::abusive);
        CHECK(t - kT0 <= 2000);
    }
    SECTION("a jittery 10x sender is closed too") {
        RateBucket b;
        int64_t t = kT0;
        RateVerdict v = RateVerdict::allowed;
        for (int i = 0; i < 1000 && v != RateVerdict::abusive; i++) {
            v = rate_take(b, 10, 10, t);
            t += (i % 3 == 0) ? 25 : 3;  // bursts and gaps, 100/s on average
        }
        CHECK(v == RateVerdict::abusive);
        CHECK(t - kT0 <= 2500);
    }
    SECTION("a 7x sender is never closed") {
        RateBucket b;
        int64_t t = kT0;
        for (int i = 0; i < 5000; i++, t += 14) REQUIRE(rate_take(b, 10, 10, t) != RateVerdict::abusive);  // ~71/s
    }
}

TEST_CASE("a reload's new rate applies to an existing bucket", "[ratelimit]") {
    RateBucket b;
    REQUIRE(take_n(b, 2, 1, 2, kT0) == 2);
    CHECK(rate_take(b, 1, 2, kT0 + 10) == RateVerdict::refused);
    // Rate raised to 1000/s and burst to 100: the bucket is drained as of
    // its stamp but refills at the new pace.
    CHECK(take_n(b, 100, 1000, 100, kT0 + 2010) >= 99);
}

TEST_CASE("a clock stepping backwards does not lock a connection out", "[ratelimit]") {
    RateBucket b;
    REQUIRE(take_n(b, 5, 5, 5, kT0) == 5);
    // One hour back: the stamp is clamped to one full bucket ahead of now.
    const int64_t back = kT0 - 3600 * 1000;
    CHECK(rate_take(b, 5, 5, back) == RateVerdict::refused);
    CHECK(take_n(b, 5, 5, 5, back + 1000) == 5);
}

TEST_CASE("out-of-range rate and burst are taken as 1", "[ratelimit]") {
    RateBucket b;
    CHECK(rate_take(b, 0, 0, kT0) == RateVerdict::allowed);
    CHECK(rate_take(b, 0, 0, kT0) == RateVerdict::refused);
    CHECK(rate_take(b, 0, 0, kT0 + 1000) == RateVerdict::allowed);
}
