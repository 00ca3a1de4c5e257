// A burst of requests in one write (issue 16). lws reads 128 bytes per
// POLLIN; pushd services a connection again while its reads fill that
// buffer (io/read_again). These check that every request of a burst is
// read whole and answered in order, a bad one in the middle included, and
// that an unmasked frame deep in a burst still closes with 1002.
#include "client/requests.hpp"
#include "client/ws_codec.hpp"
#include "harness.hpp"
#include "raw_ws_client.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pushd::test;
namespace requests = pushd::requests;
namespace ws = pushd::ws;

namespace {

const ConfigOverrides kFlood = {{"Limits.MessagesPerSecond", "1000000"}, {"Limits.Burst", "10000000"}};

struct BurstInstance {
    RedisProcess redis;
    PushdProcess pushd;
    BurstInstance() {
        REQUIRE(redis.start());
        REQUIRE(pushd.start(standard_options(redis.port(), kFlood)));
        REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    }
    // A connection authenticated by ?token= (its auth_success read).
    void open(RawWsClient& c, const std::string& user) {
        REQUIRE(c.open(pushd.port(), "/ws?token=" + user_token(user), ""));
        auto m = c.recv();
        REQUIRE(m);
        REQUIRE(jfield(m->text, "type") == "auth_success");
    }
};

// The next message that is not a new_message push.
std::string next_answer(RawWsClient& c) {
    for (;;) {
        auto m = c.recv();
        REQUIRE(m);
        if (jfield(m->text, "type") != "new_message") return m->text;
    }
}

}  // namespace

TEST_CASE("a burst of requests in one write is read whole and answered in order", "[reads]") {
    BurstInstance s;
    RawWsClient c;
    s.open(c, "burst-user");
    constexpr int kSends = 60;
    std::string burst;
    uint32_t mask = 0x9e3779b9u;
    auto add = [&](const std::string& text) { burst += ws::client_text_frame(text, mask++); };
    add(requests::join_group("j", "burst-room"));
    for (int i = 0; i < kSends; i++) {
        if (i == kSends / 2) add("{not json");  // a bad frame in the middle
        add(requests::send_message("m" + std::to_string(i), "burst-room", "content number " + std::to_string(i)));
    }
    add(requests::ping("p"));
    REQUIRE(burst.size() > 40 * 128);  // many of lws's 128-byte reads
    REQUIRE(c.send_raw(burst));

    // Answers to stores come when Redis answers, the others at once: the
    // acks of the sends are in order among themselves.
    int join_acks = 0, errors = 0, pongs = 0, next_ack = 0;
    for (int answers = 0; answers < kSends + 3; answers++) {
        const std::string r = next_answer(c);
        CAPTURE(r);
        const std::string type = jfield(r, "type"), id = jfield(r, "message_id");
        if (type == "ack" && id == "j") {
            join_acks++;
            CHECK(jfield(r, "data.success") == "true");
        } else if (type == "ack") {
            CHECK(id == "m" + std::to_string(next_ack));
            CHECK(jfield(r, "data.success") == "true");
            next_ack++;
        } else if (type == "error") {
            errors++;
            CHECK(jfield(r, "data.code") == "400");
        } else {
            CHECK(type == "pong");
            pongs++;
        }
    }
    CHECK(join_acks == 1);
    CHECK(next_ack == kSends);
    CHECK(errors == 1);
    CHECK(pongs == 1);

    // Every send was stored: a second member joining with since 0 replays
    // them all, in order.
    RawWsClient d;
    s.open(d, "burst-reader");
    REQUIRE(d.send_text(requests::join_group("j2", "burst-room", "0")));
    int next = 0;
    while (next < kSends) {
        auto m = d.recv();
        REQUIRE(m);
        if (jfield(m->text, "type") != "new_message") continue;
        CHECK(jfield(m->text, "data.client_message_id") == "m" + std::to_string(next));
        next++;
    }
}

TEST_CASE("an unmasked frame deep in a burst still closes the connection with 1002", "[reads]") {
    BurstInstance s;
    RawWsClient c;
    s.open(c, "burst-unmasked");
    std::string burst;
    for (int i = 0; i < 20; i++) burst += ws::client_text_frame(requests::ping("p" + std::to_string(i)), 0x1234u + i);
    // An unmasked text frame: FIN + text, payload length without the mask bit.
    const std::string bad = requests::ping("bad");
    burst += static_cast<char>(0x81);
    burst += static_cast<char>(bad.size());
    burst += bad;
    REQUIRE(bad.size() < 126);
    REQUIRE(c.send_raw(burst));
    int pongs = 0;
    bool bad_answered = false;
    for (;;) {
        auto m = c.recv();
        if (!m) break;  // closed
        if (jfield(m->text, "type") == "pong") pongs++;
        if (jfield(m->text, "message_id") == "bad") bad_answered = true;
    }
    CHECK(pongs <= 20);  // those read before the unmasked header are answered
    CHECK_FALSE(bad_answered);
    CHECK(c.error().find("1002") != std::string::npos);
}
