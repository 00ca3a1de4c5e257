// permessage-deflate (PROTOCOL.md section 1, issue 6): negotiated when
// Compression.Enabled, pushes compressed once per message and shared, what
// clients send compressed is inflated; seen on the wire by a raw client.
#include "client/requests.hpp"
#include "harness.hpp"
#include "raw_ws_client.hpp"

#include <catch2/catch.hpp>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

const char* kOffer = "permessage-deflate; client_max_window_bits";

std::string auth_json(const std::string& user) { return requests::auth("a", user_token(user)); }

std::string join_json(const std::string& group) { return requests::join_group("j", group); }

// The next message of `type` on a raw client (others are skipped).
RawMessage next_of(RawWsClient& c, const std::string& type) {
    for (;;) {
        std::optional<RawMessage> m = c.recv();
        INFO(c.error());
        REQUIRE(m);
        if (jfield(m->text, "type") == type) return *m;
    }
}

// Authenticates and joins `group`, all requests sent compressed when `compress`.
void login_and_join(RawWsClient& c, const std::string& user, const std::string& group, bool compress) {
    REQUIRE(c.send_text(auth_json(user), compress));
    CHECK(jfield(next_of(c, "auth_success").text, "data.user_id") == user);
    REQUIRE(c.send_text(join_json(group), compress));
    CHECK(jfield(next_of(c, "ack").text, "data.success") == "true");
}

// Starts pushd on `redis` and waits until it is healthy.
void start_pushd(PushdProcess& p, const RedisProcess& redis, const ConfigOverrides& overrides = {}) {
    REQUIRE(p.start(standard_options(redis.port(), overrides)));
    REQUIRE(wait_until([&] { return p.get("/health", 1000).status == 200; }, 10000));
}

// The next message of `type` on an lws client connection.
std::string hub_next_of(WsClientHub& hub, int c, const std::string& type) {
    for (;;) {
        std::optional<std::string> m = hub.recv_text(c, 5000);
        REQUIRE(m);
        if (jfield(*m, "type") == type) return *m;
    }
}

}  // namespace

TEST_CASE("permessage-deflate is negotiated; pushes are compressed once and shared; compressed requests work",
          "[compression]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess p;
    start_pushd(p, redis);

    RawWsClient a, b;
    REQUIRE(a.open(p.port(), "/ws", kOffer));
    REQUIRE(b.open(p.port(), "/ws", kOffer));
    CHECK(a.deflate());
    CHECK(b.deflate());
    login_and_join(a, "alice", "room", true);  // requests compressed: lws inflates them
    login_and_join(b, "bob", "room", false);   // uncompressed requests are fine too

    // A client that did not offer compression, in the same group.
    WsClientHub hub;
    int plain = hub.connect(p.ws_options());
    REQUIRE(hub.wait_open(plain, 5000));
    hub.send_text(plain, auth_json("carol"));
    hub.send_text(plain, join_json("room"));
    CHECK(jfield(hub_next_of(hub, plain, "ack"), "data.success") == "true");

    std::string content;
    while (content.size() < 1024) content += "the quick brown fox jumps over the lazy dog ";
    REQUIRE(a.send_text(requests::send_message("m1", "room", content), true));
    RawMessage ack = next_of(a, "ack");
    CHECK_FALSE(ack.compressed);  // replies go uncompressed
    CHECK(jfield(ack.text, "data.success") == "true");
    const std::string id = jfield(ack.text, "data.server_message_id");

    RawMessage at_a = next_of(a, "new_message");
    RawMessage at_b = next_of(b, "new_message");
    CHECK(at_a.compressed);
    CHECK(at_b.compressed);
    CHECK(jfield(at_a.text, "data.content") == content);
    CHECK(jfield(at_a.text, "data.message_id") == id);
    CHECK(at_b.text == at_a.text);
    CHECK(hub_next_of(hub, plain, "new_message") == at_a.text);  // the same bytes, uncompressed

    // Compressed once for both compressing recipients.
    CHECK(metric(p, "pushd_deflate_messages_total") == "1");
    const long in = std::stol(metric(p, "pushd_deflate_bytes_in_total"));
    const long out = std::stol(metric(p, "pushd_deflate_bytes_out_total"));
    CHECK(in == static_cast<long>(at_a.text.size()));
    CHECK(out < in / 4);
}

TEST_CASE("a client limiting the server's window gets uncompressed pushes; disabled compression declines",
          "[compression]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    std::string content(2000, 'z');

    SECTION("server_max_window_bits below 15") {
        PushdProcess p;
        start_pushd(p, redis);
        RawWsClient c;
        REQUIRE(c.open(p.port(), "/ws", "permessage-deflate; server_max_window_bits=10"));
        login_and_join(c, "dave", "g", false);
        REQUIRE(c.send_text(requests::send_message("m", "g", content)));
        RawMessage m = next_of(c, "new_message");
        CHECK_FALSE(m.compressed);
        CHECK(jfield(m.text, "data.content") == content);
    }
    SECTION("Compression.Enabled: false") {
        PushdProcess p;
        start_pushd(p, redis, {{"Compression.Enabled", "false"}});
        RawWsClient c;
        REQUIRE(c.open(p.port(), "/ws", kOffer));
        CHECK_FALSE(c.deflate());
        login_and_join(c, "erin", "g", false);
        REQUIRE(c.send_text(requests::send_message("m", "g", content)));
        RawMessage m = next_of(c, "new_message");
        CHECK_FALSE(m.compressed);
        CHECK(jfield(m.text, "data.content") == content);
        CHECK(metric(p, "pushd_deflate_messages_total") == "0");
    }
}

TEST_CASE("compressed requests: a large one is reassembled; one inflating past MaxMessageBytes closes with 1009",
          "[compression]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess p;
    start_pushd(p, redis, {{"Limits.MaxMessageBytes", "65536"}});
    RawWsClient c;
    REQUIRE(c.open(p.port(), "/ws", kOffer));
    REQUIRE(c.deflate());
    login_and_join(c, "frank", "big", true);
    std::string content;
    for (int i = 0; content.size() < 40000; i++) content += "line " + std::to_string(i) + " of a long message; ";
    REQUIRE(c.send_text(requests::send_message("big1", "big", content), true));  // ~40 KiB inflated in 128-byte pieces
    CHECK(jfield(next_of(c, "ack").text, "data.success") == "true");
    RawMessage m = next_of(c, "new_message");
    CHECK(m.compressed);
    CHECK(jfield(m.text, "data.content") == content);

    // 200 KiB that deflates to a few hundred bytes.
    REQUIRE(c.send_text(requests::send_message("bomb", "big", std::string(200000, 'a')), true));
    std::optional<RawMessage> none = c.recv(5000);
    CHECK_FALSE(none);
    CHECK(c.error() == "closed with 1009");
    // The server keeps serving others.
    RawWsClient d;
    REQUIRE(d.open(p.port(), "/ws", kOffer));
    login_and_join(d, "grace", "big", true);
}
