#include "core/outq.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pushd;

namespace {

std::string wire(const SharedFrame* f) {
    return std::string(reinterpret_cast<const char*>(frame_wire(f)), frame_wire_len(f));
}

}  // namespace

TEST_CASE("frames carry RFC 6455 server headers for each length class", "[outq]") {
    SECTION("7-bit length") {
        SharedFrame* f = frame_create_text("hello", 16);
        REQUIRE(f);
        CHECK(wire(f) == std::string("\x81\x05hello", 7));
        CHECK(f->header_len == 2);
        frame_unref(f);
    }
    SECTION("16-bit length") {
        std::string p(300, 'x');
        SharedFrame* f = frame_create_text(p, 16);
        std::string w = wire(f);
        CHECK(w.size() == 304);
        CHECK(static_cast<uint8_t>(w[0]) == 0x81);
        CHECK(static_cast<uint8_t>(w[1]) == 126);
        CHECK(static_cast<uint8_t>(w[2]) == 0x01);
        CHECK(static_cast<uint8_t>(w[3]) == 0x2c);
        CHECK(w.substr(4) == p);
        frame_unref(f);
    }
    SECTION("64-bit length") {
        std::string p(70000, 'y');
        SharedFrame* f = frame_create_text(p, 0);
        std::string w = wire(f);
        CHECK(w.size() == 70010);
        CHECK(static_cast<uint8_t>(w[1]) == 127);
        CHECK(w.substr(2, 8) == std::string("\0\0\0\0\0\x01\x11\x70", 8));
        CHECK(w.substr(10) == p);
        frame_unref(f);
    }
    SECTION("the payload has the requested headroom before its header") {
        SharedFrame* f = frame_create_text("abc", 32);
        CHECK(frame_payload(f) - frame_wire(f) == 2);
        CHECK(std::string(reinterpret_cast<char*>(frame_payload(f)), 3) == "abc");
        frame_unref(f);
    }
}

TEST_CASE("one frame shared by many queues is freed after the last", "[outq]") {
    SharedFrame* f = frame_create_text("shared", 16);
    {
        OutQueue a, b, c;
        REQUIRE(a.push(f, 1024));
        REQUIRE(b.push(f, 1024));
        REQUIRE(c.push(f, 1024));
        CHECK(f->refs == 4);
        uint8_t buf[64];
        CHECK(a.gather(buf, sizeof buf) == 8);
        CHECK(f->refs == 3);
        CHECK(a.empty());
        CHECK(a.bytes() == 0);
    }
    CHECK(f->refs == 1);  // b and c released theirs when destroyed
    frame_unref(f);       // ASan reports a leak or double free if counting is wrong
}

TEST_CASE("the frame pool level counts frames until their last reference goes", "[outq]") {
    const FramePoolLevel before = frame_pool_level();
    SharedFrame* f = frame_create_text(std::string(100, 'x'), 16);
    SharedFrame* p = frame_create_ping("p", 0);
    const FramePoolLevel held = frame_pool_level();
    CHECK(held.frames == before.frames + 2);
    CHECK(held.bytes >= before.bytes + 100 + 16 + 1);
    {
        OutQueue q;
        REQUIRE(q.push(f, 1024));
        frame_unref(f);  // the queue holds the last reference
        CHECK(frame_pool_level().frames == before.frames + 2);
    }
    CHECK(frame_pool_level().frames == before.frames + 1);
    frame_unref(p);
    CHECK(frame_pool_level().frames == before.frames);
    CHECK(frame_pool_level().bytes == before.bytes);
}

TEST_CASE("gather writes several frames back to back in one buffer", "[outq]") {
    OutQueue q;
    std::vector<SharedFrame*> frames;
    std::string expected;
    for (int i = 0; i < 10; i++) {
        SharedFrame* f = frame_create_text("m" + std::to_string(i), 16);
        expected += wire(f);
        REQUIRE(q.push(f, 1 << 20));
        frame_unref(f);
    }
    CHECK(q.frames() == 10);
    CHECK(q.bytes() == expected.size());
    std::string out(expected.size() + 8, '\0');
    size_t n = q.gather(reinterpret_cast<uint8_t*>(out.data()), out.size());
    CHECK(n == expected.size());
    CHECK(out.substr(0, n) == expected);
    CHECK(q.empty());
}

TEST_CASE("gather never splits a frame", "[outq]") {
    OutQueue q;
    std::vector<SharedFrame*> made;
    for (int i = 0; i < 3; i++) {
        SharedFrame* f = frame_create_text(std::string(100, static_cast<char>('a' + i)), 16);
        REQUIRE(q.push(f, 1 << 20));
        made.push_back(f);
    }
    uint8_t buf[250];  // room for two 102-byte frames, not three
    CHECK(q.gather(buf, sizeof buf) == 204);
    CHECK(q.frames() == 1);
    CHECK(q.bytes() == 102);
    CHECK(q.gather(buf, 50) == 0);  // the next frame alone is larger than the room
    CHECK(q.front() == made[2]);
    q.pop_front();
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
    for (SharedFrame* f : made) {
        CHECK(f->refs == 1);
        frame_unref(f);
    }
}

TEST_CASE("the byte cap refuses the frame that would exceed it", "[outq]") {
    OutQueue q;
    SharedFrame* f = frame_create_text(std::string(98, 'z'), 16);  // 100 wire bytes
    CHECK(q.push(f, 250));
    CHECK(q.push(f, 250));
    CHECK_FALSE(q.push(f, 250));  // 300 > 250: refused, nothing queued
    CHECK(q.frames() == 2);
    CHECK(q.bytes() == 200);
    CHECK(f->refs == 3);
    q.clear();
    CHECK(q.bytes() == 0);
    CHECK(f->refs == 1);
    frame_unref(f);
}

TEST_CASE("front/pop_front serve frame-by-frame writers", "[outq]") {
    OutQueue q;
    SharedFrame* a = frame_create_text("first", 16);
    SharedFrame* b = frame_create_text("second", 16);
    q.push(a, 1024);
    q.push(b, 1024);
    CHECK(q.front() == a);
    q.pop_front();
    CHECK(q.front() == b);
    CHECK(q.bytes() == frame_wire_len(b));
    q.pop_front();
    CHECK(q.front() == nullptr);
    CHECK(q.bytes() == 0);
    frame_unref(a);
    frame_unref(b);
}

TEST_CASE("the ring grows under a burst and wraps correctly", "[outq]") {
    OutQueue q;
    std::string expected;
    uint8_t buf[4096];
    std::string got;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++) {
            SharedFrame* f = frame_create_text(std::to_string(round * 7 + i), 16);
            expected += wire(f);
            REQUIRE(q.push(f, 1 << 20));
            frame_unref(f);
        }
        size_t n = q.gather(buf, 9);  // drain less than was added
        got.append(reinterpret_cast<char*>(buf), n);
    }
    while (!q.empty()) {
        size_t n = q.gather(buf, sizeof buf);
        got.append(reinterpret_cast<char*>(buf), n);
    }
    CHECK(got == expected);
}
