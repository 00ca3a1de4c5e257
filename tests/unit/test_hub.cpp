// The session logic over the in-process store, with a recording transport.
#include "core/hub.hpp"
#include "core/memory_store.hpp"

#include <catch2/catch.hpp>
#include <cJSON.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace pushd;

namespace {

constexpr const char* kSecret = "unit-test-secret-0123456789abcdef-xyz";
constexpr int64_t kNow = 1800000000000;  // ms

// A fake transport: records wakes and closes, drains queues into frames.
struct Fixture {
    Config config;
    int64_t now = kNow;
    std::map<Session*, int> wakes;
    std::map<Session*, uint16_t> closes;
    std::unique_ptr<MemoryStore> store;
    std::unique_ptr<Hub> hub;
    // Set to defer replay answers (to test live messages during a replay).
    bool defer_replay = false;
    std::vector<std::function<void()>> deferred;

    Fixture() {
        config.auth.access_secret = kSecret;
        TransportOps t;
        t.wake = [this](Session* s) { wakes[s]++; };
        t.close = [this](Session* s, uint16_t code, const char*) { closes[s] = code; };
        t.now_ms = [this] { return now; };
        store = std::make_unique<MemoryStore>(&config, [this](const StoredMessage& m) {
            hub->deliver_group_message(m);
        });
        StoreOps ops = store->ops();
        auto replay = ops.replay_group;
        ops.replay_group = [this, replay](const std::string& g, const std::string& since, size_t limit,
                                          std::function<void(ReplayResult)> done) {
            if (!defer_replay) return replay(g, since, limit, done);
            // Read now (like XRANGE sent now), answer later: messages stored
            // in between reach the hub live before the replay answer does.
            replay(g, since, limit, [this, done](ReplayResult r) {
                deferred.push_back([done, r] { done(r); });
            });
        };
        hub = std::make_unique<Hub>(&config, t, ops, "test", 16);
    }

    std::string token(const std::string& user, int64_t exp_s = kNow / 1000 + 3600) {
        return sign_token(kSecret, "userId", user, kNow / 1000, exp_s);
    }

    // Everything queued for `s`, as parsed JSON objects, in order.
    std::vector<std::string> drain(Session* s) {
        std::vector<std::string> out;
        std::vector<uint8_t> buf(1 << 20);
        while (!s->outq.empty()) {
            SharedFrame* big = nullptr;
            size_t n = hub->gather_output(s, buf.data(), buf.size(), &big);
            REQUIRE(big == nullptr);
            size_t i = 0;
            while (i < n) {
                REQUIRE(buf[i] == 0x81);
                size_t len = buf[i + 1];
                size_t hdr = 2;
                if (len == 126) {
                    len = (size_t(buf[i + 2]) << 8) | buf[i + 3];
                    hdr = 4;
                } else if (len == 127) {
                    len = 0;
                    for (int k = 0; k < 8; k++) len = (len << 8) | buf[i + 2 + k];
                    hdr = 10;
                }
                out.emplace_back(reinterpret_cast<char*>(&buf[i + hdr]), len);
                i += hdr + len;
            }
        }
        return out;
    }

    Session* open_authed(const std::string& user) {
        Session* s = hub->on_open(nullptr, std::nullopt, now);
        hub->on_text(s, R"({"type":"auth","message_id":"a","data":{"token":")" + token(user) + "\"}}", now);
        auto frames = drain(s);
        REQUIRE(frames.size() == 1);
        REQUIRE(type_of(frames[0]) == "auth_success");
        return s;
    }

    static std::string field(const std::string& json, const char* path1, const char* path2 = nullptr) {
        cJSON* root = cJSON_Parse(json.c_str());
        REQUIRE(root);
        cJSON* v = cJSON_GetObjectItemCaseSensitive(root, path1);
        if (v && path2) v = cJSON_GetObjectItemCaseSensitive(v, path2);
        std::string out;
        if (cJSON_IsString(v)) out = v->valuestring;
        else if (cJSON_IsNumber(v)) out = std::to_string(static_cast<long long>(v->valuedouble));
        else if (cJSON_IsBool(v)) out = cJSON_IsTrue(v) ? "true" : "false";
        cJSON_Delete(root);
        return out;
    }
    static std::string type_of(const std::string& json) { return field(json, "type"); }
};

std::string send_json(const std::string& mid, const std::string& group, const std::string& content) {
    return R"({"type":"send_message","message_id":")" + mid + R"(","data":{"group_id":")" + group +
           R"(","msg_type":1,"content":")" + content + "\"}}";
}

}  // namespace

TEST_CASE("ping works before auth; other requests need auth", "[hub]") {
    Fixture f;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":7})", f.now);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::type_of(out[0]) == "pong");
    CHECK(Fixture::field(out[0], "message_id") == "7");
    CHECK(Fixture::type_of(out[1]) == "ack");
    CHECK(Fixture::field(out[1], "data", "success") == "false");
    CHECK(Fixture::field(out[1], "data", "code") == "401");
    CHECK(f.wakes[s] >= 1);
}

TEST_CASE("malformed frames get error 400 and the connection stays", "[hub]") {
    Fixture f;
    Session* s = f.open_authed("u1");
    f.hub->on_text(s, "not json", f.now);
    f.hub->on_text(s, R"({"type":"bogus","message_id":"x"})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::field(out[0], "data", "code") == "400");
    CHECK(Fixture::field(out[1], "data", "code") == "400");
    CHECK(Fixture::field(out[1], "message_id") == "x");
    CHECK(f.closes.empty());
}

TEST_CASE("send_message: ack with server id, then new_message to every subscriber in order", "[hub]") {
    Fixture f;
    Session* a = f.open_authed("alice");
    Session* b = f.open_authed("bob");
    f.hub->on_text(a, R"({"type":"join_group","message_id":"j1","data":{"group_id":"g1"}})", f.now);
    f.hub->on_text(b, R"({"type":"join_group","message_id":"j2","data":{"group_id":"g1"}})", f.now);
    f.drain(a);
    f.drain(b);
    for (int i = 0; i < 5; i++) f.hub->on_text(a, send_json("m" + std::to_string(i), "g1", "hi"), f.now);
    auto out_a = f.drain(a);
    auto out_b = f.drain(b);
    REQUIRE(out_a.size() == 10);  // 5 acks + 5 pushes (the sender's own included)
    REQUIRE(out_b.size() == 5);
    std::vector<std::string> ids;
    for (auto& m : out_b) {
        CHECK(Fixture::type_of(m) == "new_message");
        CHECK(Fixture::field(m, "data", "sender_id") == "alice");
        ids.push_back(Fixture::field(m, "data", "message_id"));
    }
    for (size_t i = 1; i < ids.size(); i++) CHECK(*parse_stream_id(ids[i]) > *parse_stream_id(ids[i - 1]));
    CHECK(Fixture::type_of(out_a[0]) == "ack");
    CHECK(Fixture::field(out_a[0], "data", "server_message_id") == ids[0]);
    CHECK(f.hub->counters().fanout_deliveries == 10);
}

TEST_CASE("a retried send_message is acked as duplicate and pushed once", "[hub]") {
    Fixture f;
    Session* a = f.open_authed("alice");
    f.hub->on_text(a, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    f.drain(a);
    f.hub->on_text(a, send_json("same", "g", "x"), f.now);
    f.hub->on_text(a, send_json("same", "g", "x"), f.now);
    auto out = f.drain(a);
    REQUIRE(out.size() == 3);  // ack, push, duplicate ack
    CHECK(Fixture::field(out[2], "data", "duplicate") == "true");
    CHECK(Fixture::field(out[2], "data", "server_message_id") == Fixture::field(out[0], "data", "server_message_id"));
}

TEST_CASE("storage unavailable: 503 ack, nothing pushed", "[hub]") {
    Fixture f;
    Session* a = f.open_authed("alice");
    f.hub->on_text(a, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    f.drain(a);
    f.store->set_unavailable(true);
    f.hub->on_text(a, send_json("m", "g", "x"), f.now);
    auto out = f.drain(a);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "code") == "503");
    CHECK(Fixture::field(out[0], "data", "success") == "false");
}

TEST_CASE("auth: three failures close with 4001; re-auth as another user is 409", "[hub]") {
    Fixture f;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    for (int i = 0; i < 3; i++) f.hub->on_text(s, R"({"type":"auth","message_id":"a","data":{"token":"x.y.z"}})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 3);
    CHECK(Fixture::type_of(out[2]) == "auth_failed");
    CHECK(f.closes[s] == kCloseAuth);

    Session* t = f.open_authed("u1");
    f.hub->on_text(t, R"({"type":"auth","message_id":"b","data":{"token":")" + f.token("u2") + "\"}}", f.now);
    out = f.drain(t);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "error");
    CHECK(Fixture::field(out[0], "data", "code") == "409");
    CHECK(t->user_id == "u1");
}

TEST_CASE("auth timeout and token expiry close with 4001; re-auth extends", "[hub]") {
    Fixture f;
    f.config.auth.auth_timeout = 10;
    Session* idle = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->tick(f.now + 9999);
    CHECK(f.closes.count(idle) == 0);
    f.hub->tick(f.now + 10000);
    CHECK(f.closes[idle] == kCloseAuth);
    auto out = f.drain(idle);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "message") == "auth timeout");

    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    const int64_t exp = kNow / 1000 + 60;
    f.hub->on_text(s, R"({"type":"auth","message_id":"a","data":{"token":")" + f.token("u", exp) + "\"}}", f.now);
    f.drain(s);
    // A fresh token for the same user before expiry moves the deadline.
    f.hub->on_text(s, R"({"type":"auth","message_id":"b","data":{"token":")" + f.token("u", exp + 60) + "\"}}", f.now);
    out = f.drain(s);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    f.hub->tick(exp * 1000 + 1);
    CHECK(f.closes.count(s) == 0);
    f.hub->tick((exp + 60) * 1000);
    CHECK(f.closes[s] == kCloseAuth);
    out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "message") == "token expired");
}

TEST_CASE("MaxSessionsPerUser closes the oldest with 4009", "[hub]") {
    Fixture f;
    f.config.limits.max_sessions_per_user = 2;
    Session* s1 = f.open_authed("u");
    Session* s2 = f.open_authed("u");
    CHECK(f.closes.empty());
    Session* s3 = f.open_authed("u");
    CHECK(f.closes[s1] == kCloseTooManySessions);
    CHECK(f.closes.count(s2) == 0);
    CHECK(f.closes.count(s3) == 0);
    CHECK(f.hub->registry().find_user("u")->count == 2);
    CHECK(f.hub->user_count() == 1);
}

TEST_CASE("a slow consumer is dropped with 4008 while others keep everything", "[hub]") {
    Fixture f;
    f.config.limits.max_queue_bytes = 4096;
    Session* slow = f.open_authed("slow");
    Session* fast = f.open_authed("fast");
    Session* sender = f.open_authed("sender");
    for (Session* s : {slow, fast}) {
        f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
        f.drain(s);
    }
    size_t fast_got = 0;
    for (int i = 0; i < 100; i++) {
        f.hub->on_text(sender, send_json("m" + std::to_string(i), "g", std::string(100, 'x')), f.now);
        fast_got += f.drain(fast).size();  // the fast reader keeps up; the slow one never reads
        f.drain(sender);
    }
    CHECK(fast_got == 100);
    CHECK(f.closes[slow] == kCloseSlowConsumer);
    CHECK(slow->outq.empty());  // its queue was dropped at once
    CHECK(f.hub->counters().slow_consumer_closes == 1);
    f.hub->on_closed(slow);
    CHECK(f.hub->queued_bytes() == 0);
}

TEST_CASE("join_group with since replays with no gap and no duplicate while live messages arrive", "[hub]") {
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 10; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "old"), f.now);
    auto acks = f.drain(sender);
    const std::string since = Fixture::field(acks[3], "data", "server_message_id");  // after the 4th

    Session* r = f.open_authed("reader");
    f.defer_replay = true;
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}", f.now);
    // Live messages while the replay is in flight.
    for (int i = 0; i < 5; i++) f.hub->on_text(sender, send_json("b" + std::to_string(i), "g", "live"), f.now);
    CHECK(f.drain(r).empty());
    REQUIRE(f.deferred.size() == 1);
    f.deferred[0]();
    auto out = f.drain(r);
    REQUIRE(out.size() == 1 + 6 + 5);  // ack, 6 replayed (5..10th), 5 live
    CHECK(Fixture::type_of(out[0]) == "ack");
    std::vector<std::string> ids;
    for (size_t i = 1; i < out.size(); i++) {
        CHECK(Fixture::type_of(out[i]) == "new_message");
        CHECK(Fixture::field(out[i], "data", "replay") == (i <= 6 ? "true" : ""));
        ids.push_back(Fixture::field(out[i], "data", "message_id"));
    }
    for (size_t i = 1; i < ids.size(); i++) CHECK(*parse_stream_id(ids[i]) > *parse_stream_id(ids[i - 1]));
    CHECK(*parse_stream_id(ids[0]) > *parse_stream_id(since));
}

TEST_CASE("join_group since older than the retained history says truncated", "[hub]") {
    Fixture f;
    f.config.groups.history_size = 3;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 6; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "x"), f.now);
    auto acks = f.drain(sender);
    const std::string first = Fixture::field(acks[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + first + "\"}}", f.now);
    auto out = f.drain(r);
    REQUIRE(out.size() == 4);
    CHECK(Fixture::field(out[0], "data", "truncated") == "true");
}

TEST_CASE("RequireMembership: join and send need membership (403)", "[hub]") {
    Fixture f;
    f.config.groups.require_membership = true;
    Session* s = f.open_authed("u");
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    f.hub->on_text(s, send_json("m", "g", "x"), f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::field(out[0], "data", "code") == "403");
    CHECK(Fixture::field(out[1], "data", "code") == "403");
    f.store->add_member("g", "u");
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j2","data":{"group_id":"g"}})", f.now);
    out = f.drain(s);
    CHECK(Fixture::field(out[0], "data", "success") == "true");
}

TEST_CASE("leave_group stops delivery; mark_read is stored; close leaves nothing", "[hub]") {
    Fixture f;
    Session* s = f.open_authed("u");
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    f.hub->on_text(s, R"({"type":"leave_group","message_id":"l","data":{"group_id":"g"}})", f.now);
    f.hub->on_text(s, send_json("m", "g", "x"), f.now);
    f.hub->on_text(s, R"({"type":"mark_read","message_id":"r","data":{"group_id":"g","message_id":"5-1"}})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 4);  // ack join, ack leave, ack send (no push), ack mark_read
    for (auto& m : out) CHECK(Fixture::type_of(m) == "ack");
    CHECK(f.store->read_position("u", "g") == "5-1");
    CHECK(f.hub->group_count() == 0);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g2"}})", f.now);
    f.hub->on_closed(s);
    CHECK(f.hub->group_count() == 0);
    CHECK(f.hub->user_count() == 0);
    CHECK(f.hub->session_count() == 0);
}

TEST_CASE("handshake token: auth_success is the first message", "[hub]") {
    Fixture f;
    VerifiedToken t{"42", kNow / 1000 + 100};
    Session* s = f.hub->on_open(nullptr, t, f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    CHECK(Fixture::field(out[0], "data", "user_id") == "42");
    CHECK(Fixture::field(out[0], "data", "expires_at") == std::to_string((kNow / 1000 + 100) * 1000));
}
