// Fan-out slice bounds: per group, per slice in frames, and in entries.
#include "core/bus_slice.hpp"

#include <catch2/catch.hpp>

#include <string>

using pushd::BusSlice;

TEST_CASE("bus slice: one group's entries end a slice at kGroupEntries", "[bus_slice][limits]") {
    BusSlice s;
    size_t taken = 0;
    while (s.admit("g", 1000, 100)) taken++;
    CHECK(taken == BusSlice::kGroupEntries);
    CHECK(s.deliveries() == BusSlice::kGroupEntries * 1000);
    // Another group still fits while the frames in all allow it.
    BusSlice t;
    for (size_t i = 0; i < BusSlice::kGroupEntries; i++) REQUIRE(t.admit("g", 10, 100));
    CHECK_FALSE(t.admit("g", 10, 100));
    CHECK(t.admit("h", 10, 100));
}

TEST_CASE("bus slice: one group's bytes end a slice at kGroupBytes", "[bus_slice][limits]") {
    BusSlice s;
    const size_t big = BusSlice::kGroupBytes / 4;
    CHECK(s.admit("g", 1, big));
    CHECK(s.admit("g", 1, big));
    CHECK(s.admit("g", 1, big));
    CHECK(s.admit("g", 1, big));
    CHECK_FALSE(s.admit("g", 1, 1));
    // The first entry always fits, however large.
    BusSlice t;
    CHECK(t.admit("g", 1, 10 * BusSlice::kGroupBytes));
    CHECK_FALSE(t.admit("g", 1, 1));
}

TEST_CASE("bus slice: many groups share a slice until the frames in all reach kDeliveries", "[bus_slice][limits]") {
    // 50 groups of 200 subscribers: far more entries per slice than one
    // group's 64, so each connection gets several frames per write.
    BusSlice s;
    size_t taken = 0;
    while (s.admit("g" + std::to_string(taken % 50), 200, 300)) taken++;
    CHECK(taken == BusSlice::kDeliveries / 200);
    CHECK(s.deliveries() == taken * 200);
    // A wide entry (a notification to everyone) first always fits...
    BusSlice t;
    CHECK(t.admit("\nall", 10 * BusSlice::kDeliveries, 100));
    // ...and nothing after it does.
    CHECK_FALSE(t.admit("g", 1, 100));
}

TEST_CASE("bus slice: at most kEntries entries, even to nobody", "[bus_slice][limits]") {
    BusSlice s;
    size_t taken = 0;
    while (s.admit("", 0, 50)) taken++;
    CHECK(taken == BusSlice::kEntries);
    s.clear();
    CHECK(s.entries() == 0);
    CHECK(s.deliveries() == 0);
    CHECK(s.admit("g", 1, 1));
}
