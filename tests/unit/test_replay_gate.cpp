// The replay/live handover on its own: what is held, what the boundary drops.
#include "core/replay_gate.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {

HeldPush push(uint64_t ms, bool replayable = true) {
    HeldPush p;
    p.id = StreamId{ms, 0};
    p.replayable = replayable;
    p.frame = FrameRef::adopt(frame_create_text("{}", 0));
    return p;
}

std::vector<uint64_t> ids(const std::vector<HeldPush>& v) {
    std::vector<uint64_t> out;
    for (const HeldPush& p : v) out.push_back(p.id.ms);
    return out;
}

}  // namespace

TEST_CASE("replay_boundary is the greater of since and the last replayed id", "[replay_gate]") {
    CHECK(*replay_boundary("5-0", "") == StreamId{5, 0});
    CHECK(*replay_boundary("5-0", "7-1") == StreamId{7, 1});
    CHECK(*replay_boundary("9-0", "7-1") == StreamId{9, 0});  // a since in the future: the client has up to it
    CHECK(*replay_boundary("0", "") == StreamId{0, 0});
    CHECK_FALSE(replay_boundary("", ""));
    CHECK(replay_covers(StreamId{7, 1}, StreamId{7, 1}));
    CHECK_FALSE(replay_covers(StreamId{7, 1}, StreamId{7, 2}));
}

TEST_CASE("a gate holds pushes in order while open; the boundary drops what the replay covered", "[replay_gate]") {
    ReplayGate gate(100);
    CHECK(gate.empty());
    CHECK(gate.hold(1, "g", push(1)) == ReplayGate::Hold::not_open);
    const uint64_t t = gate.open(1, "g");
    REQUIRE(t != 0);
    CHECK(gate.open(1, "g") == 0);  // one replay per (session, scope)
    CHECK(gate.is_open(1, "g"));
    CHECK_FALSE(gate.is_open(1, "h"));
    CHECK_FALSE(gate.is_open(2, "g"));
    for (uint64_t ms : {3, 4, 5, 6}) CHECK(gate.hold(1, "g", push(ms)) == ReplayGate::Hold::held);
    CHECK(gate.hold(1, "g", push(2, false)) == ReplayGate::Hold::held);  // not replayable: always kept
    CHECK(gate.hold(2, "g", push(9)) == ReplayGate::Hold::not_open);
    CHECK(gate.held() == 5);
    auto out = gate.close(1, "g", t, StreamId{4, 0});
    REQUIRE(out);
    CHECK(ids(*out) == std::vector<uint64_t>{5, 6, 2});
    CHECK(gate.empty());
    CHECK(gate.held() == 0);
}

TEST_CASE("a stale ticket closes nothing; abandon and forget drop what was held", "[replay_gate]") {
    ReplayGate gate(100);
    const uint64_t first = gate.open(1, "g");
    gate.hold(1, "g", push(1));
    gate.abandon(1, "g");
    CHECK(gate.held() == 0);
    const uint64_t second = gate.open(1, "g");
    CHECK(second != first);
    gate.hold(1, "g", push(2));
    CHECK_FALSE(gate.close(1, "g", first, std::nullopt));  // the first replay's late answer
    CHECK(gate.is_open(1, "g"));
    auto out = gate.close(1, "g", second, std::nullopt);  // no boundary: everything held follows
    REQUIRE(out);
    CHECK(ids(*out) == std::vector<uint64_t>{2});
    gate.open(3, "a");
    gate.open(3, "b");
    gate.hold(3, "a", push(1));
    gate.hold(3, "b", push(1));
    gate.forget(3);
    CHECK(gate.empty());
    CHECK(gate.held() == 0);
}

TEST_CASE("a gate holds at most its bound per replay", "[replay_gate]") {
    ReplayGate gate(3);
    gate.open(1, "");
    for (int i = 0; i < 3; i++) CHECK(gate.hold(1, "", push(i)) == ReplayGate::Hold::held);
    CHECK(gate.hold(1, "", push(9)) == ReplayGate::Hold::full);
    CHECK(gate.held() == 3);
}
