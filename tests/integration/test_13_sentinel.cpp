// Redis.Mode sentinel (issue 15): pushd finds the master through the
// sentinels and follows a failover without a restart. Real processes: a
// master, a replica, three redis-sentinels, two pushd instances.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <memory>

using namespace pushd::test;
using pushd::WsClientHub;

namespace {

const char* kMasterName = "mymaster";

// One redis-server in sentinel mode, with its own config file (a sentinel
// rewrites it) and port.
class SentinelProcess {
public:
    explicit SentinelProcess(uint16_t master_port) : port_(free_port()) {
        dir_ = make_temp_subdir("sentinel-" + std::to_string(port_));
        write_file(dir_ + "/sentinel.conf",
                   "port " + std::to_string(port_) + "\nbind 127.0.0.1\nprotected-mode no\ndir " + dir_ +
                       "\nsentinel monitor " + kMasterName + " 127.0.0.1 " + std::to_string(master_port) +
                       " 2\nsentinel down-after-milliseconds " + kMasterName + " 1000\nsentinel failover-timeout " +
                       kMasterName + " 5000\n");
    }
    bool start() {
        std::string error;
        if (!child_.start({"redis-server", dir_ + "/sentinel.conf", "--sentinel"}, {}, dir_ + "/log", error))
            return false;
        return wait_until([&] { return !master().empty(); }, 10000, 50);
    }
    // The master's "host:port" as this sentinel names it, or "".
    std::string master() const {
        RespValue r = redis_command(port_, {"SENTINEL", "get-master-addr-by-name", kMasterName}, 500);
        if (r.elements.size() != 2) return "";
        return r.elements[0].str + ":" + r.elements[1].str;
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    uint16_t port_;
    std::string dir_;
    ChildProcess child_;
};

std::string auth(const std::string& user) {
    return R"({"type":"auth","message_id":"auth","data":{"token":")" + user_token(user) + R"("}})";
}
std::string join(const std::string& group, const std::string& since = "") {
    std::string j = R"({"type":"join_group","message_id":"j","data":{"group_id":")" + group + "\"";
    if (!since.empty()) j += R"(,"since":")" + since + "\"";
    return j + "}}";
}
std::string send(const std::string& mid, const std::string& content) {
    return R"({"type":"send_message","message_id":")" + mid +
           R"(","data":{"group_id":"room","msg_type":1,"content":")" + content + "\"}}";
}

// The next message of `type` on connection `c` (others skipped), or "".
std::string next_of(WsClientHub& hub, int c, const std::string& type, int timeout_ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
        auto m = hub.recv_text(c, 200);
        if (m && jfield(*m, "type") == type) return *m;
    }
    return "";
}

}  // namespace

TEST_CASE("sentinel mode: a failover under traffic is followed, sends resume, subscribers lose nothing acked after it",
          "[redis][sentinel]") {
    RedisProcess master;
    REQUIRE(master.start());
    RedisOptions ro;
    ro.extra_args = {"--replicaof", "127.0.0.1", std::to_string(master.port())};
    RedisProcess replica(ro);
    REQUIRE(replica.start());
    REQUIRE(wait_until(
        [&] {
            return redis_command(replica.port(), {"INFO", "replication"}).str.find("master_link_status:up") !=
                   std::string::npos;
        },
        10000, 50));
    std::vector<std::unique_ptr<SentinelProcess>> sentinels;
    std::string list;
    for (int i = 0; i < 3; i++) {
        sentinels.push_back(std::make_unique<SentinelProcess>(master.port()));
        REQUIRE(sentinels.back()->start());
        list += (list.empty() ? "" : ", ") + std::string("\"") + sentinels.back()->address() + "\"";
    }
    const ConfigOverrides sentinel_mode = {
        {"Redis.Mode", "sentinel"},           {"Redis.MasterName", kMasterName}, {"Redis.Sentinels", "[" + list + "]"},
        {"Redis.Host", "\"127.0.0.1:1\""},  // ignored in sentinel mode
        {"Limits.MessagesPerSecond", "1000"}, {"Limits.Burst", "10000"}};
    PushdProcess a, b;
    REQUIRE(a.start(standard_options(master.port(), sentinel_mode)));
    REQUIRE(b.start(standard_options(master.port(), sentinel_mode)));
    for (PushdProcess* p : {&a, &b})
        REQUIRE(wait_until([&] { return p->get("/health", 1000).status == 200; }, 10000, 50));
    CHECK(jfield(a.get("/stats").body, "redis_master") == master.host_port());

    WsClientHub hub;
    int alice = hub.connect(a.ws_options()), bob = hub.connect(b.ws_options());
    for (int c : {alice, bob}) {
        REQUIRE(hub.wait_open(c, 5000));
        hub.send_text(c, c == alice ? auth("alice") : auth("bob"));
        REQUIRE(next_of(hub, c, "auth_success") != "");
        hub.send_text(c, join("room"));
        REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    }
    hub.send_text(alice, send("before", "before"));
    REQUIRE(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    const std::string before = next_of(hub, bob, "new_message");
    REQUIRE(jfield(before, "data.content") == "before");

    // The master dies; the sentinels promote the replica.
    master.kill();
    REQUIRE(wait_until([&] { return sentinels[0]->master() == replica.host_port(); }, 30000, 100));
    const auto promoted = std::chrono::steady_clock::now();
    // Sends resume within 5 s of the promotion: retried with the same id
    // until acked (503 meanwhile means nothing was stored).
    std::string acked_id;
    for (int attempt = 0; acked_id.empty(); attempt++) {
        REQUIRE(std::chrono::steady_clock::now() - promoted < std::chrono::seconds(5));
        hub.send_text(alice, send("after-1", "after-1"));
        std::string ack = next_of(hub, alice, "ack");
        if (jfield(ack, "data.success") == "true")
            acked_id = jfield(ack, "data.server_message_id");
        else
            CHECK(jfield(ack, "data.code") == "503");
        if (acked_id.empty()) wait_until([] { return false; }, 100, 100);  // pace the retries
    }
    for (int i = 2; i <= 5; i++) {
        hub.send_text(alice, send("after-" + std::to_string(i), "after-" + std::to_string(i)));
        REQUIRE(jfield(next_of(hub, alice, "ack"), "data.success") == "true");
    }
    // Bob, on the other instance, gets every message acked after the
    // failover, once and in order; a reconnect with since catches up the
    // same way.
    std::vector<std::string> got;
    while (got.size() < 5) {
        std::string m = next_of(hub, bob, "new_message");
        REQUIRE(m != "");
        got.push_back(jfield(m, "data.content"));
    }
    CHECK(got == std::vector<std::string>{"after-1", "after-2", "after-3", "after-4", "after-5"});
    int carol = hub.connect(b.ws_options());
    REQUIRE(hub.wait_open(carol, 5000));
    hub.send_text(carol, auth("carol"));
    REQUIRE(next_of(hub, carol, "auth_success") != "");
    hub.send_text(carol, join("room", jfield(before, "message_id")));
    std::vector<std::string> replayed;
    for (std::string m; (m = next_of(hub, carol, "new_message", 2000)) != "";)
        replayed.push_back(jfield(m, "data.content"));
    CHECK(replayed == got);
    CHECK(jfield(a.get("/stats").body, "redis_master") == replica.host_port());
    CHECK(metric(a, "pushd_redis_failovers_total") == "1");
    CHECK(metric(b, "pushd_redis_up{link=\"sentinel\"}") == "1");
}
