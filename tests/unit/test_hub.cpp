// The session logic over the in-process store, with a recording transport.
#include "core/hub.hpp"
#include "core/memory_store.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

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
    std::map<Session*, bool> paused;
    std::unique_ptr<MemoryStore> store;
    std::unique_ptr<Hub> hub;
    // Set to defer replay answers (to test live messages during a replay).
    bool defer_replay = false;
    std::vector<std::function<void()>> deferred;
    // Set to defer AutoJoin's group set and inbox replays the same way.
    bool defer_groups = false;
    bool defer_inbox = false;
    // Set to answer appends after the bus has delivered the message (as two
    // Redis connections may).
    bool defer_append = false;

    Fixture() {
        config.auth.access_secret = kSecret;
        TransportOps t;
        t.wake = [this](Session* s) { wakes[s]++; };
        t.close = [this](Session* s, uint16_t code, const char*) { closes[s] = code; };
        t.now_ms = [this] { return now; };
        t.pause_reading = [this](Session* s, bool p) { paused[s] = p; };
        store =
            std::make_unique<MemoryStore>(&config, [this](const StoredMessage& m) { hub->deliver_group_message(m); });
        StoreOps ops = store->ops();
        auto replay = ops.replay_group;
        ops.replay_group = [this, replay](const std::string& g, const std::string& since, size_t limit,
                                          std::function<void(ReplayResult)> done) {
            if (!defer_replay) return replay(g, since, limit, done);
            // Read now (like XRANGE sent now), answer later: messages stored
            // in between reach the hub live before the replay answer does.
            replay(g, since, limit, [this, done](ReplayResult r) { deferred.push_back([done, r] { done(r); }); });
        };
        auto append = ops.append;
        ops.append = [this, append](const AppendRequest& r, std::function<void(AppendResult)> done) {
            if (!defer_append) return append(r, done);
            append(r, [this, done](AppendResult res) { deferred.push_back([done, res] { done(res); }); });
        };
        auto groups = ops.user_groups;
        ops.user_groups = [this, groups](const std::string& u, size_t limit, std::function<void(GroupsResult)> done) {
            if (!defer_groups) return groups(u, limit, done);
            groups(u, limit, [this, done](GroupsResult r) { deferred.push_back([done, r] { done(r); }); });
        };
        auto inbox = ops.replay_inbox;
        ops.replay_inbox = [this, inbox](const std::string& u, const std::string& since, size_t limit,
                                         std::function<void(InboxResult)> done) {
            if (!defer_inbox) return inbox(u, since, limit, done);
            // Read later (the XRANGE runs after notifications stored meanwhile).
            deferred.push_back([inbox, u, since, limit, done] { inbox(u, since, limit, done); });
        };
        hub = std::make_unique<Hub>(&config, t, ops, "test", 16);
        store->set_notification_sink([this](const Notification& n) { hub->deliver_notification(n); });
    }

    void run_deferred() {
        auto d = std::move(deferred);
        deferred.clear();
        for (auto& f : d) f();
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
        if (cJSON_IsString(v))
            out = v->valuestring;
        else if (cJSON_IsNumber(v))
            out = std::to_string(static_cast<long long>(v->valuedouble));
        else if (cJSON_IsBool(v))
            out = cJSON_IsTrue(v) ? "true" : "false";
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
    for (int i = 0; i < 3; i++)
        f.hub->on_text(s, R"({"type":"auth","message_id":"a","data":{"token":"x.y.z"}})", f.now);
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
    f.config.heartbeat.interval = 3600;  // time jumps by minutes here without traffic
    f.config.heartbeat.timeout = 7200;
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
    f.config.limits.burst = 1000;  // the sender's 100 requests at one instant are not rate limited
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

TEST_CASE("join_group with since replays with no gap and no duplicate while live messages arrive", "[hub][replay]") {
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 10; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "old"), f.now);
    auto acks = f.drain(sender);
    const std::string since = Fixture::field(acks[3], "data", "server_message_id");  // after the 4th

    Session* r = f.open_authed("reader");
    f.defer_replay = true;
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}",
                   f.now);
    // Live messages while the replay is in flight.
    for (int i = 0; i < 5; i++) f.hub->on_text(sender, send_json("b" + std::to_string(i), "g", "live"), f.now);
    CHECK(f.drain(r).empty());
    REQUIRE(f.deferred.size() == 1);
    f.deferred[0]();
    auto out = f.drain(r);
    // Contract v1.1: the replay (6: the 5th..10th), then the ack with
    // "replayed", then the 5 live ones.
    REQUIRE(out.size() == 6 + 1 + 5);
    CHECK(Fixture::type_of(out[6]) == "ack");
    CHECK(Fixture::field(out[6], "message_id") == "j");
    CHECK(Fixture::field(out[6], "data", "replayed") == "6");
    CHECK(Fixture::field(out[6], "data", "truncated") == "");
    std::vector<std::string> ids;
    for (size_t i = 0; i < out.size(); i++) {
        if (i == 6) continue;
        CHECK(Fixture::type_of(out[i]) == "new_message");
        CHECK(Fixture::field(out[i], "data", "replay") == (i < 6 ? "true" : ""));
        ids.push_back(Fixture::field(out[i], "data", "message_id"));
    }
    for (size_t i = 1; i < ids.size(); i++) CHECK(*parse_stream_id(ids[i]) > *parse_stream_id(ids[i - 1]));
    CHECK(*parse_stream_id(ids[0]) > *parse_stream_id(since));
}

TEST_CASE("join_group with since and nothing newer acks replayed 0; since 0 replays everything retained",
          "[hub][replay]") {
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 3; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "x"), f.now);
    auto acks = f.drain(sender);
    const std::string last = Fixture::field(acks[2], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + last + "\"}}",
                   f.now);
    auto out = f.drain(r);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "replayed") == "0");
    Session* all = f.open_authed("all");
    f.hub->on_text(all, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":"0"}})", f.now);
    out = f.drain(all);
    REQUIRE(out.size() == 4);
    CHECK(Fixture::field(out[3], "data", "replayed") == "3");
    // A join without since carries no "replayed".
    Session* plain = f.open_authed("plain");
    f.hub->on_text(plain, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    out = f.drain(plain);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "replayed") == "");
}

TEST_CASE("join_group since older than the retained history says truncated", "[hub][replay]") {
    Fixture f;
    f.config.groups.history_size = 3;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 6; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "x"), f.now);
    auto acks = f.drain(sender);
    const std::string first = Fixture::field(acks[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + first + "\"}}",
                   f.now);
    auto out = f.drain(r);
    REQUIRE(out.size() == 4);
    CHECK(Fixture::type_of(out[3]) == "ack");
    CHECK(Fixture::field(out[3], "data", "truncated") == "true");
    CHECK(Fixture::field(out[3], "data", "replayed") == "3");
}

TEST_CASE(
    "a failed join_group replay acks 503 and leaves the connection unsubscribed; the retry has no gap, "
    "no duplicate and no disorder",
    "[hub][replay][faults]") {
    // Issue 12, failure 2: the connection stayed subscribed after the 503,
    // got newer live messages, and the retry replayed older ones after them.
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 3; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "old"), f.now);
    auto acks = f.drain(sender);
    const std::string since = Fixture::field(acks[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    const std::string join =
        R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}";
    f.defer_replay = true;
    f.store->set_unavailable(true);
    f.hub->on_text(r, join, f.now);
    f.store->set_unavailable(false);
    // Stored while the failing replay is in flight.
    f.hub->on_text(sender, send_json("b0", "g", "during"), f.now);
    f.run_deferred();
    auto out = f.drain(r);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "ack");
    CHECK(Fixture::field(out[0], "data", "success") == "false");
    CHECK(Fixture::field(out[0], "data", "code") == "503");
    CHECK_FALSE(f.hub->registry().is_subscribed(r, "g"));
    // Stored after the failure: not pushed to the unsubscribed connection.
    f.hub->on_text(sender, send_json("b1", "g", "after"), f.now);
    CHECK(f.drain(r).empty());
    // The client retries with the same since: everything after it, once, in order.
    f.defer_replay = false;
    f.hub->on_text(r, join, f.now);
    out = f.drain(r);
    REQUIRE(out.size() == 5);  // a1, a2, b0, b1 replayed, then the ack
    std::vector<std::string> contents;
    for (size_t i = 0; i < 4; i++) contents.push_back(Fixture::field(out[i], "data", "content"));
    CHECK(contents == std::vector<std::string>{"old", "old", "during", "after"});
    CHECK(Fixture::field(out[4], "data", "replayed") == "4");
    f.hub->on_text(sender, send_json("b2", "g", "live"), f.now);
    out = f.drain(r);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "content") == "live");
}

TEST_CASE("a connection already subscribed (AutoJoin) whose replay fails is unsubscribed too",
          "[hub][replay][faults]") {
    Fixture f;
    f.store->add_user_group("reader", "g");
    Session* sender = f.open_authed("sender");
    f.hub->on_text(sender, send_json("a0", "g", "old"), f.now);
    const std::string since = Fixture::field(f.drain(sender)[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    REQUIRE(f.hub->registry().is_subscribed(r, "g"));
    f.store->set_unavailable(true);
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}",
                   f.now);
    f.store->set_unavailable(false);
    auto out = f.drain(r);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "code") == "503");
    CHECK_FALSE(f.hub->registry().is_subscribed(r, "g"));
    f.hub->on_text(sender, send_json("a1", "g", "new"), f.now);
    CHECK(f.drain(r).empty());
}

TEST_CASE("leave_group during a replay: the join still gets one ack; a new join is not confused by the old answer",
          "[hub][replay]") {
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 2; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "old"), f.now);
    const std::string since = Fixture::field(f.drain(sender)[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    f.defer_replay = true;
    const std::string join =
        R"({"type":"join_group","message_id":"j1","data":{"group_id":"g","since":")" + since + "\"}}";
    f.hub->on_text(r, join, f.now);
    f.hub->on_text(r, R"({"type":"leave_group","message_id":"l","data":{"group_id":"g"}})", f.now);
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j2","data":{"group_id":"g","since":")" + since + "\"}}",
                   f.now);
    f.hub->on_text(sender, send_json("b0", "g", "live"), f.now);
    REQUIRE(f.deferred.size() == 2);
    f.deferred[0]();  // the first join's answer: its gate is gone
    auto out = f.drain(r);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::field(out[0], "message_id") == "l");
    CHECK(Fixture::field(out[1], "message_id") == "j1");
    CHECK(Fixture::field(out[1], "data", "replayed") == "0");
    f.deferred[1]();  // the second join: its replay, its ack, then the live one
    out = f.drain(r);
    REQUIRE(out.size() == 3);
    CHECK(Fixture::field(out[0], "data", "replay") == "true");
    CHECK(Fixture::field(out[1], "message_id") == "j2");
    CHECK(Fixture::field(out[1], "data", "replayed") == "1");
    CHECK(Fixture::field(out[2], "data", "content") == "live");
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

namespace {

std::string auth_json(Fixture& f, const std::string& user, const std::string& since = "") {
    std::string j = R"({"type":"auth","message_id":"a","data":{"token":")" + f.token(user) + "\"";
    if (!since.empty()) j += R"(,"since":")" + since + "\"";
    return j + "}}";
}

}  // namespace

TEST_CASE("notifications reach their targets: users, a group, everyone authenticated", "[hub][notify]") {
    Fixture f;
    Session* a1 = f.open_authed("a");
    Session* a2 = f.open_authed("a");
    Session* b = f.open_authed("b");
    Session* anon = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(b, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    f.drain(b);

    REQUIRE(!f.store->publish_notification("user:a", R"({"title":"hi"})", f.now).empty());
    auto o1 = f.drain(a1);
    auto o2 = f.drain(a2);
    REQUIRE(o1.size() == 1);
    REQUIRE(o2.size() == 1);
    CHECK(o1[0] == o2[0]);  // serialized once
    CHECK(Fixture::type_of(o1[0]) == "notification");
    CHECK(Fixture::field(o1[0], "data", "notification_id") == Fixture::field(o1[0], "message_id"));
    CHECK(o1[0].find(R"("data":{"title":"hi"})") != std::string::npos);
    CHECK(f.drain(b).empty());
    CHECK(f.store->inbox_size("a") == 1);

    f.store->publish_notification("group:g", R"({"n":2})", f.now);
    CHECK(f.drain(a1).empty());
    CHECK(f.drain(b).size() == 1);
    CHECK(f.store->inbox_size("b") == 0);  // group targets are not stored per user

    f.store->publish_notification("all", R"({"n":3})", f.now);
    CHECK(f.drain(a1).size() == 1);
    CHECK(f.drain(a2).size() == 1);
    CHECK(f.drain(b).size() == 1);
    CHECK(f.drain(anon).empty());  // not authenticated

    std::string why;
    CHECK(f.store->publish_notification("user:a", "not json", f.now, &why).empty());
    CHECK(f.drain(a1).empty());
    CHECK(f.hub->counters().out[static_cast<size_t>(OutType::notification)] == 6);
}

TEST_CASE("auth with since replays the inbox, oldest first, then live ones with no duplicate", "[hub][notify]") {
    Fixture f;
    std::vector<std::string> ids;
    for (int i = 0; i < 4; i++)
        ids.push_back(f.store->publish_notification("user:u", R"({"i":)" + std::to_string(i) + "}", f.now + i));
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.defer_inbox = true;
    f.hub->on_text(s, auth_json(f, "u", ids[1]), f.now);
    // Live while the replay is in flight: one for the user, one for all.
    const std::string live_user = f.store->publish_notification("user:u", R"({"i":4})", f.now + 10);
    f.store->publish_notification("all", R"({"i":5})", f.now + 11);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    REQUIRE(f.deferred.size() == 1);
    f.run_deferred();
    out = f.drain(s);
    // Replayed: ids[2], ids[3] and the live one stored meanwhile (the read
    // happened after it was stored); then the "all" one; the live user one
    // is not sent twice.
    REQUIRE(out.size() == 4);
    CHECK(Fixture::field(out[0], "message_id") == ids[2]);
    CHECK(Fixture::field(out[0], "data", "replay") == "true");
    CHECK(Fixture::field(out[1], "message_id") == ids[3]);
    CHECK(Fixture::field(out[2], "message_id") == live_user);
    CHECK(Fixture::field(out[2], "data", "replay") == "true");
    CHECK(Fixture::field(out[3], "data", "replay") == "");
    // A late bus copy of a replayed notification is not delivered again.
    Notification again;
    again.id = ids[3];
    again.target.kind = NotifyTargetKind::users;
    again.target.users = {"u"};
    again.data = "{}";
    f.hub->deliver_notification(again);
    CHECK(f.drain(s).empty());
    f.store->publish_notification("user:u", "{}", f.now + 20);
    CHECK(f.drain(s).size() == 1);
}

TEST_CASE(
    "auth with since while storage is down: the inbox is replayed once it answers, ahead of every live "
    "notification",
    "[hub][notify][faults]") {
    // Issue 12, failure 3: the replay failed with an error 503, and the next
    // live notification moved the client's resume point past the missed ones.
    Fixture f;
    f.config.groups.auto_join = false;
    const std::string n0 = f.store->publish_notification("user:u", R"({"i":0})", f.now);
    const std::string n1 = f.store->publish_notification("user:u", R"({"i":1})", f.now + 1);
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.store->set_unavailable(true);
    f.hub->on_text(s, auth_json(f, "u", n0), f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    CHECK(f.hub->waiting_for_storage() == 1);
    // Live while storage is still down (a bus on another link): held.
    f.store->set_unavailable(false);
    const std::string n2 = f.store->publish_notification("user:u", R"({"i":2})", f.now + 2);
    f.store->publish_notification("all", R"({"i":3})", f.now + 3);
    f.store->set_unavailable(true);
    CHECK(f.drain(s).empty());
    // A retry that fails again changes nothing.
    f.now += kStorageRetryMs;
    f.hub->tick(f.now);
    CHECK(f.drain(s).empty());
    CHECK(f.hub->counters().inbox_replay_retries == 2);
    // Storage back: the replay (n1, n2), then the held "all" one; n2 once.
    f.store->set_unavailable(false);
    f.hub->on_storage_up();
    out = f.drain(s);
    REQUIRE(out.size() == 3);
    CHECK(Fixture::field(out[0], "message_id") == n1);
    CHECK(Fixture::field(out[0], "data", "replay") == "true");
    CHECK(Fixture::field(out[1], "message_id") == n2);
    CHECK(Fixture::field(out[1], "data", "replay") == "true");
    CHECK(Fixture::field(out[2], "data", "data") == "");
    CHECK(Fixture::field(out[2], "data", "replay") == "");
    CHECK(f.hub->waiting_for_storage() == 0);
    // Nothing more is asked once answered.
    f.now += 10 * kStorageRetryMs;
    f.hub->tick(f.now);
    CHECK(f.drain(s).empty());
}

TEST_CASE("an inbox replay retried by the timer; the held notifications are bounded (4008)", "[hub][notify][faults]") {
    Fixture f;
    f.config.groups.auto_join = false;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.store->set_unavailable(true);
    f.hub->on_text(s, auth_json(f, "u", "0-1"), f.now);
    f.drain(s);
    f.store->set_unavailable(false);
    f.now += kStorageRetryMs;
    f.hub->tick(f.now);  // the timer, without on_storage_up
    CHECK(f.hub->waiting_for_storage() == 0);
    f.store->publish_notification("user:u", R"({"late":1})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "replay") == "");  // the gate is closed: live at once

    Session* t = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.store->set_unavailable(true);
    f.hub->on_text(t, auth_json(f, "v", "0-1"), f.now);
    f.store->set_unavailable(false);
    f.defer_inbox = true;  // keep the gate open while the live ones pile up
    for (size_t i = 0; i <= kMaxInboxBuffered; i++) f.store->publish_notification("all", "{}", f.now);
    CHECK(f.closes[t] == kCloseSlowConsumer);
}

TEST_CASE("AutoJoin subscribes to the user's groups before the next request is handled", "[hub][autojoin]") {
    Fixture f;
    f.store->add_user_group("u", "g1");
    f.store->add_user_group("u", "g2");
    Session* other = f.open_authed("other");
    f.defer_groups = true;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(s, auth_json(f, "u"), f.now);
    // Requests sent right after auth wait for the group set.
    f.hub->on_text(s, R"({"type":"ping","message_id":"p"})", f.now);
    f.hub->on_text(s, R"({"type":"leave_group","message_id":"l","data":{"group_id":"g2"}})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    f.run_deferred();
    out = f.drain(s);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::type_of(out[0]) == "pong");
    CHECK_FALSE(f.paused[s]);
    CHECK(Fixture::field(out[1], "message_id") == "l");
    CHECK(f.hub->registry().is_subscribed(s, "g1"));
    CHECK_FALSE(f.hub->registry().is_subscribed(s, "g2"));  // left after the auto-join
    f.hub->on_text(other, send_json("m", "g1", "x"), f.now);
    // Held for a join_group with since the client may have sent behind its
    // auth; none came, so it follows once the hold ends.
    CHECK(f.drain(s).empty());
    f.now += kAutoJoinHoldMs;
    f.hub->tick(f.now);
    out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "new_message");
    CHECK(f.hub->counters().auto_joined == 2);
    f.hub->on_text(other, send_json("m2", "g1", "y"), f.now);
    CHECK(f.drain(s).size() == 1);  // no hold any more

    // Many requests during the hold: reading pauses, then everything is answered in order.
    Session* busy = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(busy, auth_json(f, "u"), f.now);
    for (int i = 0; i < 100; i++)
        f.hub->on_text(busy, R"({"type":"ping","message_id":)" + std::to_string(i) + "}", f.now);
    CHECK(f.paused[busy]);
    f.run_deferred();
    CHECK_FALSE(f.paused[busy]);
    out = f.drain(busy);
    REQUIRE(out.size() == 101);
    for (int i = 0; i < 100; i++) CHECK(Fixture::field(out[i + 1], "message_id") == std::to_string(i));
}

TEST_CASE(
    "AutoJoin's first live messages wait for the client's join_group with since read after the group set: "
    "replay, ack, live, in order",
    "[hub][autojoin][replay][faults]") {
    // Found by tests/faults: the client's re-join (sent right behind its
    // auth) was read after the group set arrived, and a live message of the
    // auto-joined group went out ahead of the replay of older ones.
    Fixture f;
    f.store->add_user_group("u", "g");
    f.store->add_user_group("u", "h");
    Session* sender = f.open_authed("sender");
    f.hub->on_text(sender, send_json("a0", "g", "old"), f.now);
    const std::string since = Fixture::field(f.drain(sender)[0], "data", "server_message_id");
    f.hub->on_text(sender, send_json("a1", "g", "missed"), f.now);
    f.drain(sender);
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(s, auth_json(f, "u"), f.now);  // AutoJoin answers at once: g and h subscribed
    REQUIRE(f.hub->registry().is_subscribed(s, "g"));
    REQUIRE(Fixture::type_of(f.drain(s).at(0)) == "auth_success");
    f.hub->on_text(sender, send_json("a2", "g", "live before the join"), f.now);
    f.hub->on_text(sender, send_json("b0", "h", "h live"), f.now);
    f.drain(sender);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}",
                   f.now);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"k","data":{"group_id":"h"}})", f.now);
    f.hub->on_text(sender, send_json("a3", "g", "live after"), f.now);
    auto out = f.drain(s);
    std::vector<std::string> seen;
    for (const std::string& m : out) {
        seen.push_back(Fixture::type_of(m) == "ack"
                           ? "ack " + Fixture::field(m, "message_id")
                           : Fixture::field(m, "data", "content") +
                                 (Fixture::field(m, "data", "replay") == "true" ? " (r)" : ""));
    }
    CHECK(seen ==
          std::vector<std::string>{"missed (r)", "live before the join (r)", "ack j", "ack k", "h live", "live after"});
    // Nothing more after the hold's time.
    f.now += kAutoJoinHoldMs;
    f.hub->tick(f.now);
    CHECK(f.drain(s).empty());
}

TEST_CASE(
    "AutoJoin with storage down: requests are served, the groups are joined once storage answers, "
    "except those the client joined or left itself; too many held requests close with 1008",
    "[hub][autojoin][faults]") {
    Fixture f;
    f.store->add_user_group("u", "g1");
    f.store->add_user_group("u", "g2");
    f.store->add_user_group("u", "g3");
    Session* sender = f.open_authed("sender");
    f.store->set_unavailable(true);
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(s, auth_json(f, "u"), f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    CHECK(f.hub->counters().auto_join_failures == 1);
    // Not held: a ping is answered at once; a join with since fails (503).
    f.hub->on_text(s, R"({"type":"ping","message_id":"p"})", f.now);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g2","since":"0"}})", f.now);
    f.hub->on_text(s, R"({"type":"leave_group","message_id":"l","data":{"group_id":"g3"}})", f.now);
    out = f.drain(s);
    REQUIRE(out.size() == 3);
    CHECK(Fixture::type_of(out[0]) == "pong");
    CHECK(Fixture::field(out[1], "data", "code") == "503");
    CHECK(f.hub->group_count() == 0);
    f.store->set_unavailable(false);
    f.now += kStorageRetryMs;
    f.hub->tick(f.now);
    CHECK(f.hub->registry().is_subscribed(s, "g1"));
    CHECK_FALSE(f.hub->registry().is_subscribed(s, "g2"));  // the client's own retry will join it
    CHECK_FALSE(f.hub->registry().is_subscribed(s, "g3"));  // left by the client
    CHECK(f.hub->waiting_for_storage() == 0);
    f.hub->on_text(sender, send_json("m", "g1", "x"), f.now);
    f.hub->on_text(sender, send_json("m", "g2", "x"), f.now);
    out = f.drain(s);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "group_id") == "g1");

    f.defer_groups = true;
    // The held-request bounds, not the rate limit, are under test here.
    f.config.limits.messages_per_second = 1000000;
    f.config.limits.burst = 10000000;
    Session* t = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(t, auth_json(f, "u"), f.now);
    for (size_t i = 0; i < kPauseHeldRequests; i++) f.hub->on_text(t, R"({"type":"ping"})", f.now);
    CHECK(f.paused[t]);  // reading stops: TCP pushes back
    for (size_t i = kPauseHeldRequests; i <= kMaxHeldRequests; i++) f.hub->on_text(t, R"({"type":"ping"})", f.now);
    CHECK(f.closes[t] == kClosePolicy);
    f.run_deferred();  // the answer finds the session closing: nothing more is sent
    out = f.drain(t);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
}

TEST_CASE("a bus copy of a replayed message arriving after the replay is not delivered twice", "[hub]") {
    Fixture f;
    Session* sender = f.open_authed("sender");
    for (int i = 0; i < 3; i++) f.hub->on_text(sender, send_json("a" + std::to_string(i), "g", "x"), f.now);
    auto acks = f.drain(sender);
    const std::string first = Fixture::field(acks[0], "data", "server_message_id");
    Session* r = f.open_authed("reader");
    f.hub->on_text(r, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + first + "\"}}",
                   f.now);
    auto out = f.drain(r);
    REQUIRE(out.size() == 3);  // 2 replayed + ack
    StoredMessage late;
    late.group_id = "g";
    late.message_id = Fixture::field(out[1], "message_id");
    late.sender_id = "sender";
    f.hub->deliver_group_message(late);  // e.g. the bus lagging behind the XRANGE
    CHECK(f.drain(r).empty());
    f.hub->on_text(sender, send_json("b", "g", "new"), f.now);
    out = f.drain(r);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "data", "content") == "new");
}

TEST_CASE("the sender's own push waits for its ack when storage delivers it first; others get it at once", "[hub]") {
    Fixture f;
    Session* a = f.open_authed("alice");
    Session* b = f.open_authed("bob");
    for (Session* s : {a, b}) {
        f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
        f.drain(s);
    }
    f.defer_append = true;
    f.hub->on_text(a, send_json("m1", "g", "first"), f.now);
    CHECK(f.drain(b).size() == 1);  // bob is not waiting for anything
    CHECK(f.drain(a).empty());      // alice's push waits for her ack
    // bob's message arrives meanwhile: it stays behind alice's, in order.
    f.defer_append = false;
    f.hub->on_text(b, send_json("b1", "g", "from bob"), f.now);
    f.drain(b);
    CHECK(f.drain(a).empty());
    f.run_deferred();
    auto out = f.drain(a);
    REQUIRE(out.size() == 3);
    CHECK(Fixture::type_of(out[0]) == "ack");
    CHECK(Fixture::field(out[1], "data", "content") == "first");
    CHECK(Fixture::field(out[2], "data", "content") == "from bob");
    CHECK(Fixture::field(out[0], "data", "server_message_id") == Fixture::field(out[1], "message_id"));
    // Nothing is held any more.
    f.hub->on_text(b, send_json("b2", "g", "again"), f.now);
    CHECK(f.drain(a).size() == 1);
}

TEST_CASE(
    "the same message_id to two groups is two sends; the own push released by a replay still waits for "
    "its ack",
    "[hub][replay]") {
    Fixture f;
    Session* a = f.open_authed("alice");
    Session* watcher = f.open_authed("watcher");
    for (const char* g : {"g", "h"}) {
        f.hub->on_text(
            watcher, std::string(R"({"type":"join_group","message_id":"j","data":{"group_id":")") + g + "\"}}", f.now);
    }
    f.drain(watcher);
    // Dedup is per (user, group, message_id): "same" in g and in h are two messages.
    f.hub->on_text(a, send_json("same", "g", "to g"), f.now);
    f.hub->on_text(a, send_json("same", "h", "to h"), f.now);
    auto acks = f.drain(a);
    REQUIRE(acks.size() == 2);
    CHECK(Fixture::field(acks[1], "data", "duplicate") == "");
    CHECK(f.drain(watcher).size() == 2);
    const std::string since = Fixture::field(acks[0], "data", "server_message_id");

    // alice joins g with since (replay in flight) and sends to g (ack in flight).
    f.defer_replay = true;
    f.defer_append = true;
    f.hub->on_text(a, R"({"type":"join_group","message_id":"j","data":{"group_id":"g","since":")" + since + "\"}}",
                   f.now);
    f.hub->on_text(a, send_json("m2", "g", "own"), f.now);
    REQUIRE(f.deferred.size() == 2);
    f.deferred[0]();  // the replay answers: nothing newer than since; the own push waits for its ack
    auto out = f.drain(a);
    REQUIRE(out.size() == 1);
    CHECK(Fixture::field(out[0], "message_id") == "j");
    f.deferred[1]();  // the append answers
    out = f.drain(a);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::field(out[0], "message_id") == "m2");
    CHECK(Fixture::type_of(out[0]) == "ack");
    CHECK(Fixture::field(out[1], "data", "content") == "own");
}

TEST_CASE("permessage-deflate sessions get one shared compressed twin, the others the plain frame", "[hub][deflate]") {
    Fixture f;
    Session* plain = f.open_authed("alice");
    std::vector<Session*> zipped = {f.open_authed("bob"), f.open_authed("carol"), f.open_authed("dave")};
    for (Session* s : zipped) s->deflate = true;
    for (Session* s : {plain, zipped[0], zipped[1], zipped[2]}) {
        f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g1"}})", f.now);
        f.drain(s);
    }
    const std::string content(600, 'x');
    f.hub->on_text(plain, send_json("m1", "g1", content), f.now);
    auto plain_out = f.drain(plain);
    REQUIRE(plain_out.size() == 2);  // ack + the push, both uncompressed
    const std::string& push = plain_out[1];
    CHECK(Fixture::type_of(push) == "new_message");
    REQUIRE(f.hub->deflater());
    CHECK(f.hub->deflater()->compressed() == 1);  // once for three recipients
    SharedFrame* first_twin = nullptr;
    for (Session* s : zipped) {
        REQUIRE(s->outq.frames() == 1);
        SharedFrame* fr = s->outq.front();
        CHECK(frame_wire(fr)[0] == 0xC1);
        if (!first_twin) first_twin = fr;
        CHECK(fr == first_twin);  // the same frame by reference
        MessageInflater inf;
        std::string out;
        REQUIRE(
            inf.inflate(std::string(reinterpret_cast<const char*>(frame_wire(fr)) + fr->header_len, fr->payload_len),
                        1 << 20, out));
        CHECK(out == push);
    }
    for (Session* s : zipped) {
        SharedFrame* big = nullptr;
        std::vector<uint8_t> buf(1 << 16);
        CHECK(f.hub->gather_output(s, buf.data(), buf.size(), &big) > 0);
    }
    CHECK(f.hub->queued_bytes() == 0);
}

TEST_CASE("rate limit: past the burst requests get 429 and are not handled; tokens refill", "[hub][ratelimit]") {
    Fixture f;
    f.config.limits.messages_per_second = 10;
    f.config.limits.burst = 3;
    f.config.groups.auto_join = false;
    Session* s = f.open_authed("u");  // the auth took one token
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j1","data":{"group_id":"g1"}})", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"p1"})", f.now);
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j2","data":{"group_id":"g2"}})", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"p2"})", f.now);
    f.hub->on_text(s, R"({"type":"ping"})", f.now);
    f.hub->on_text(s, R"({"type":"auth","message_id":"a2","data":{"token":")" + f.token("u") + "\"}}", f.now);
    f.hub->on_text(s, "not json", f.now);
    f.hub->on_text(s, R"({"type":"leave_group","message_id":"l1","data":{}})", f.now);
    auto out = f.drain(s);
    REQUIRE(out.size() == 8);
    CHECK(Fixture::type_of(out[0]) == "ack");
    CHECK(Fixture::field(out[0], "data", "success") == "true");
    CHECK(Fixture::type_of(out[1]) == "pong");
    CHECK(Fixture::type_of(out[2]) == "ack");
    CHECK(Fixture::field(out[2], "message_id") == "j2");
    CHECK(Fixture::field(out[2], "data", "code") == "429");
    CHECK(Fixture::field(out[2], "data", "success") == "false");
    for (size_t i : {3, 4, 5, 6}) {
        INFO(out[i]);
        CHECK(Fixture::type_of(out[i]) == "error");
        CHECK(Fixture::field(out[i], "data", "code") == "429");
    }
    CHECK(Fixture::field(out[3], "message_id") == "p2");
    CHECK(Fixture::field(out[4], "message_id") == "");
    CHECK(Fixture::field(out[5], "message_id") == "a2");
    CHECK(Fixture::type_of(out[7]) == "ack");  // rate limited before its fields are looked at
    CHECK(Fixture::field(out[7], "data", "code") == "429");
    CHECK(f.hub->group_count() == 1);  // j2 was not handled
    CHECK(f.hub->counters().rate_limited == 6);
    CHECK(f.closes.count(s) == 0);

    f.now += 100;  // one token back
    f.hub->on_text(s, R"({"type":"ping","message_id":"p3"})", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"p4"})", f.now);
    out = f.drain(s);
    REQUIRE(out.size() == 2);
    CHECK(Fixture::type_of(out[0]) == "pong");
    CHECK(Fixture::type_of(out[1]) == "error");

    // A reload's new limits apply to this open connection.
    f.config.limits.burst = 100;
    f.now += 10000;
    for (int i = 0; i < 100; i++) f.hub->on_text(s, R"({"type":"ping"})", f.now);
    out = f.drain(s);
    REQUIRE(out.size() == 100);
    CHECK(Fixture::type_of(out[99]) == "pong");
}

TEST_CASE("rate limit: a flood closes with 1008 after 8x the rate refused within a second", "[hub][ratelimit]") {
    Fixture f;
    f.config.limits.messages_per_second = 4;
    f.config.limits.burst = 4;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    for (int i = 0; i < 4 + 31; i++) f.hub->on_text(s, R"({"type":"ping"})", f.now);
    CHECK(f.closes.count(s) == 0);
    f.hub->on_text(s, R"({"type":"ping"})", f.now);  // the 32nd refusal: 8 x 4
    CHECK(f.closes[s] == kClosePolicy);
    CHECK(s->close_reason == std::string("rate limit exceeded"));
    CHECK(f.hub->counters().rate_limit_closes == 1);
    CHECK(f.hub->counters().rate_limited == 32);
    auto out = f.drain(s);
    CHECK(out.size() == 4 + 31);                     // replies queued before the close are still written
    f.hub->on_text(s, R"({"type":"ping"})", f.now);  // closing: ignored
    CHECK(f.drain(s).empty());
}

TEST_CASE("rate limit: requests held for AutoJoin take their token on arrival and answer in order",
          "[hub][ratelimit][autojoin]") {
    Fixture f;
    f.config.limits.messages_per_second = 1;
    f.config.limits.burst = 3;
    f.store->add_user_group("u", "g1");
    f.defer_groups = true;
    Session* s = f.hub->on_open(nullptr, std::nullopt, f.now);
    f.hub->on_text(s, R"({"type":"auth","message_id":"a","data":{"token":")" + f.token("u") + "\"}}", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"h1"})", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"h2"})", f.now);
    f.hub->on_text(s, R"({"type":"ping","message_id":"h3"})", f.now);  // no token left
    f.now += 5000;  // the answer comes late; the tokens refilled meanwhile do not help h3
    f.run_deferred();
    auto out = f.drain(s);
    REQUIRE(out.size() == 4);
    CHECK(Fixture::type_of(out[0]) == "auth_success");
    CHECK(Fixture::type_of(out[1]) == "pong");
    CHECK(Fixture::type_of(out[2]) == "pong");
    CHECK(Fixture::type_of(out[3]) == "error");
    CHECK(Fixture::field(out[3], "message_id") == "h3");
    CHECK(Fixture::field(out[3], "data", "code") == "429");
}

TEST_CASE("heartbeat: silent connections are pinged after Interval and closed with 1001 after Timeout",
          "[hub][heartbeat]") {
    Fixture f;
    f.config.heartbeat.interval = 3;
    f.config.heartbeat.timeout = 10;
    Session* quiet = f.open_authed("q");
    Session* chatty = f.open_authed("c");
    int pings_to_quiet = 0;
    for (int i = 1; i <= 12; i++) {
        f.now += 1000;
        f.hub->touch(chatty, f.now);  // e.g. its pong, every second
        f.hub->tick(f.now);
        // Pings are pre-framed control frames: FIN | opcode 9, payload "pushd".
        while (!quiet->outq.empty()) {
            SharedFrame* fr = quiet->outq.front();
            CHECK(frame_wire(fr)[0] == 0x89);
            CHECK(std::string(reinterpret_cast<const char*>(frame_wire(fr)) + fr->header_len, fr->payload_len) ==
                  "pushd");
            pings_to_quiet++;
            SharedFrame* big = nullptr;
            std::vector<uint8_t> buf(256);
            f.hub->gather_output(quiet, buf.data(), buf.size(), &big);
        }
        CHECK(chatty->outq.empty());  // never silent for an interval: never pinged
    }
    CHECK(pings_to_quiet == 3);  // at 3, 6 and 9 s of silence
    CHECK(f.closes.count(quiet) == 1);
    CHECK(f.closes[quiet] == 1001);
    CHECK(f.closes.count(chatty) == 0);
    CHECK(f.hub->counters().heartbeat_closes == 1);
    // Chatty's deadline re-arms from its last frame: pinged at +3 s, closed at +10 s.
    f.now += 3000;
    f.hub->tick(f.now);
    CHECK(chatty->outq.frames() == 1);
    f.now += 6000;
    f.hub->tick(f.now);
    CHECK(f.closes.count(chatty) == 0);
    f.now += 1000;
    f.hub->tick(f.now);
    CHECK(f.closes[chatty] == 1001);
}

TEST_CASE("presence: the hub counts authenticated connections and their groups, and forgets them on close",
          "[hub][presence]") {
    Fixture f;
    PresenceTracker& p = f.hub->presence();
    Session* unauth = f.hub->on_open(nullptr, std::nullopt, f.now);
    CHECK(p.user_count() == 0);
    Session* a = f.open_authed("u1");
    Session* b = f.open_authed("u1");
    CHECK(p.user_connections("u1") == 2);
    for (Session* s : {a, b}) {
        f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
        f.hub->on_text(s, R"({"type":"join_group","message_id":"j2","data":{"group_id":"g"}})", f.now);  // again
    }
    f.hub->on_text(a, R"({"type":"join_group","message_id":"j","data":{"group_id":"h"}})", f.now);
    CHECK(p.group_connections("g", "u1") == 2);
    CHECK(p.group_connections("h", "u1") == 1);

    f.hub->on_text(b, R"({"type":"leave_group","message_id":"l","data":{"group_id":"g"}})", f.now);
    CHECK(p.group_connections("g", "u1") == 1);

    // A close counts at once (the session's subscriptions stay until the
    // transport is gone, but not in presence); the transport's end after
    // it changes nothing more.
    f.hub->close_session(a, kCloseGoingAway, "bye");
    CHECK(p.user_connections("u1") == 1);
    CHECK(p.group_connections("g", "u1") == 0);
    CHECK(p.group_connections("h", "u1") == 0);
    f.hub->on_closed(a);
    CHECK(p.user_connections("u1") == 1);
    // A transport gone without a close first: all of it too.
    f.hub->on_closed(b);
    f.hub->on_closed(unauth);
    CHECK(p.user_count() == 0);
    CHECK(p.group_pair_count() == 0);
}

TEST_CASE("presence: Groups.Presence false counts nothing", "[hub][presence]") {
    Fixture f;
    f.config.groups.presence = false;
    f.hub = std::make_unique<Hub>(
        &f.config,
        TransportOps{[](Session*) {}, [](Session*, uint16_t, const char*) {}, [&f] { return f.now; }, nullptr},
        f.store->ops(), "test", 16);
    Session* s = f.open_authed("u1");
    f.hub->on_text(s, R"({"type":"join_group","message_id":"j","data":{"group_id":"g"}})", f.now);
    CHECK(f.hub->presence().user_count() == 0);
    CHECK(f.hub->presence().group_pair_count() == 0);
    CHECK_FALSE(f.hub->presence().has_changes());
}
