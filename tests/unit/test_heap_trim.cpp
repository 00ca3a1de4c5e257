#include "core/heap_trim.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("heap trim waits for enough accepted connections", "[heap_trim]") {
    HeapTrimState s;
    CHECK_FALSE(heap_trim_due(s, kTrimAfterAccepts - 1, 0, 5'000));
    CHECK(heap_trim_due(s, kTrimAfterAccepts, 0, 5'000));
}

TEST_CASE("heap trim runs once a burst is over, at most once per gap", "[heap_trim]") {
    HeapTrimState s{1'000, 100'000};
    const uint64_t accepted = 1'000 + kTrimAfterAccepts;
    // Handshakes still in progress: the burst goes on, wait for it.
    CHECK_FALSE(heap_trim_due(s, accepted, 3, 100'000 + kTrimMinGapMs));
    // It is over: trim, but not sooner than the gap after the last one.
    CHECK_FALSE(heap_trim_due(s, accepted, 0, 100'000 + kTrimMinGapMs - 1));
    CHECK(heap_trim_due(s, accepted, 0, 100'000 + kTrimMinGapMs));
}

TEST_CASE("heap trim under steady churn runs every kTrimEveryMs", "[heap_trim]") {
    HeapTrimState s{0, 50'000};
    const uint64_t accepted = 10 * kTrimAfterAccepts;
    CHECK_FALSE(heap_trim_due(s, accepted, 7, 50'000 + kTrimEveryMs - 1));
    CHECK(heap_trim_due(s, accepted, 7, 50'000 + kTrimEveryMs));
}
