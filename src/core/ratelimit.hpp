// Per-connection request rate limit (PROTOCOL.md section 5, "Rate limits"):
// a token bucket of Limits.Burst tokens refilled at Limits.MessagesPerSecond,
// kept as one timestamp (GCRA, the "virtual scheduling" form of a token
// bucket), plus the count of refusals in the current one-second window that
// tells a flood from a burst.
//
// Pure: time is a parameter; the rate and burst are passed on every call,
// so a reload that changes them applies to open connections at once.
#pragma once

#include <cstdint>

namespace pushd {

// 16 bytes per connection. Zero-initialised is a full bucket.
struct RateBucket {
    // GCRA's theoretical arrival time, microseconds since the epoch: the
    // bucket is full when it is <= now; each request moves it one
    // emission interval (1 s / rate) later.
    int64_t tat_us = 0;
    // Start of the current refusal window, milliseconds since the epoch
    // modulo 2^32 (compared by unsigned difference), and the refusals in it.
    uint32_t window_start_ms = 0;
    uint32_t refused = 0;
};

enum class RateVerdict : uint8_t {
    allowed,  // a token was taken: handle the request
    refused,  // no token: answer 429, do not handle it
    abusive,  // refused, and the refusals within one second reached
              // kAbuseFactor x rate: close the connection with 1008
};

// Refusals within one second, as a multiple of the rate, that close a
// connection. A client sending steadily at 10x the rate has 9x refused, so
// it reaches 8x within about 0.9 s of each window: timing jitter cannot
// keep it just under the line. At 7x or less a client is never closed.
inline constexpr int64_t kAbuseFactor = 8;

/* Takes one token from `bucket` for a request arriving at `now_ms`.
 * `rate_per_s` >= 1 tokens come back per second, at most `burst` >= 1 are
 * held (both as in the configuration; smaller values are taken as 1).
 * A refusal opens a one-second window at its own time unless one is open;
 * when the refusals in the open window reach kAbuseFactor * rate_per_s the
 * verdict is abusive. A clock going backwards refills nothing and never
 * refuses more than the burst allows. */
RateVerdict rate_take(RateBucket& bucket, int64_t rate_per_s, int64_t burst, int64_t now_ms);

}  // namespace pushd
