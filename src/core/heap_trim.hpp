// When the heap's free memory is worth handing back to the kernel.
//
// A burst of handshakes leaves free memory in the middle of the heap: lws
// allocates a request-head buffer (io/ws_handshake.hpp: 20 KiB) for each
// connection in its handshake and frees it after the upgrade, between the
// sessions allocated meanwhile. glibc returns free memory to the kernel
// only from the top of the heap, so without help those pages stay in the
// process's RSS for good (measured: ~160 bytes per connection after 10,000
// connections opened 500 at a time). malloc_trim(0) gives back every whole
// free page; it walks the free lists, so it runs only after a burst: once
// no handshake is left in progress, or every kTrimEveryMs under steady
// churn, never twice within kTrimMinGapMs.
#pragma once

#include <cstdint>

namespace pushd {

inline constexpr uint64_t kTrimAfterAccepts = 256;
inline constexpr uint64_t kTrimEveryMs = 10'000;
inline constexpr uint64_t kTrimMinGapMs = 1'000;

struct HeapTrimState {
    uint64_t accepted_at_last = 0;  // connections accepted at the last trim
    uint64_t last_ms = 0;           // when it ran (0: never)
};

/* True when enough connections were accepted since the last trim for it to
 * be worth its walk, and their burst is over (`in_handshake` connections
 * are still in theirs) or the last trim is old. */
inline bool heap_trim_due(const HeapTrimState& s, uint64_t accepted, uint64_t in_handshake, uint64_t now_ms) {
    if (accepted - s.accepted_at_last < kTrimAfterAccepts) return false;
    if (s.last_ms == 0) return true;
    if (now_ms - s.last_ms < kTrimMinGapMs) return false;
    return in_handshake == 0 || now_ms - s.last_ms >= kTrimEveryMs;
}

}  // namespace pushd
