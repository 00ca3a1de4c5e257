// Limits and security over real sockets (PROTOCOL.md section 5, "Rate
// limits"): the per-connection token bucket, handshake refusals by address,
// count and Origin, X-Forwarded-For behind trusted proxies, blacklisting on
// reload, and TLS (wss:// and https:// on one port).
#include "client/requests.hpp"
#include "harness.hpp"

#include "../common/prometheus_lint.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace pushd::test;
using pushd::ConnectOptions;
using pushd::http_get;
using pushd::HttpResponse;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

// Connects with `o` and waits until it opens or is refused; returns the id.
int connect_and_wait(WsClientHub& hub, const ConnectOptions& o) {
    int c = hub.connect(o);
    hub.wait_open(c, 5000);
    return c;
}

ConnectOptions from(const PushdProcess& p, const std::string& local_address,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    ConnectOptions o = p.ws_options();
    o.local_address = local_address;
    o.headers = std::move(headers);
    return o;
}

std::string refused(const char* reason) {
    return std::string("pushd_ws_handshakes_refused_total{reason=\"") + reason + "\"}";
}

// Waits until pushd counts `n` open WebSocket connections (/stats).
bool wait_connections(const PushdProcess& p, int n) {
    return wait_until([&] { return jfield(p.get("/stats").body, "connections") == std::to_string(n); }, 5000, 20);
}

}  // namespace

TEST_CASE("a burst past the bucket gets 429 and is served again after the refill", "[limits][ratelimit]") {
    PushdProcess pushd;
    // No Redis here: AutoJoin off, so that nothing but the replies arrives.
    // 2 per second: the 9 requests below reach pushd well within the half
    // second a token takes to come back, even on a busy machine.
    REQUIRE(pushd.start(standard_options(
        free_port(), {{"Limits.MessagesPerSecond", "2"}, {"Limits.Burst", "5"}, {"Groups.AutoJoin", "false"}})));
    WsClientHub hub;
    // Authenticated at the handshake: no request spent on auth.
    int c = connect_and_wait(hub, pushd.ws_options("?token=" + user_token("u1")));
    REQUIRE(hub.is_open(c));
    REQUIRE(jfield(*hub.recv_text(c, 3000), "type") == "auth_success");

    // 5 tokens: 4 joins and a ping are served; 2 more joins get ack 429,
    // a ping and an auth get error 429, and none of them was executed.
    for (int i = 0; i < 4; i++) hub.send_text(c, requests::join_group("j" + std::to_string(i), "g"));
    hub.send_text(c, requests::ping("p0"));
    hub.send_text(c, requests::join_group("j4", "g4"));
    hub.send_text(c, requests::join_group("j5", "g5"));
    hub.send_text(c, requests::ping("p1"));
    hub.send_text(c, requests::auth("a1", user_token("u1")));
    std::vector<std::string> got;
    for (int i = 0; i < 9; i++) {
        auto m = hub.recv_text(c, 3000);
        REQUIRE(m);
        got.push_back(*m);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(jfield(got[i], "type") == "ack");
        CHECK(jfield(got[i], "data.success") == "true");
    }
    CHECK(jfield(got[4], "type") == "pong");
    for (int i : {5, 6}) {
        CHECK(jfield(got[i], "type") == "ack");
        CHECK(jfield(got[i], "data.success") == "false");
        CHECK(jfield(got[i], "data.code") == "429");
    }
    CHECK(jfield(got[5], "message_id") == "j4");
    CHECK(jfield(got[7], "type") == "error");
    CHECK(jfield(got[7], "message_id") == "p1");
    CHECK(jfield(got[7], "data.code") == "429");
    CHECK(jfield(got[8], "type") == "error");
    CHECK(jfield(got[8], "message_id") == "a1");
    CHECK(jfield(got[8], "data.code") == "429");
    CHECK(pushd.metric("pushd_rate_limited_total") == 4);
    CHECK(pushd.metric("pushd_groups") == 1);  // the refused joins did nothing

    // A token comes back every 500 ms: retrying now and then succeeds
    // (spaced so that the refusals stay far below the flood threshold).
    bool served = false;
    for (int attempt = 0; attempt < 30 && !served; attempt++) {
        hub.send_text(c, requests::ping("r" + std::to_string(attempt)));
        auto m = hub.recv_text(c, 3000);
        REQUIRE(m);
        served = jfield(*m, "type") == "pong";
        if (!served) hub.wait_for([] { return false; }, 100);  // spaced retries, not a flood
    }
    CHECK(served);
    CHECK(hub.is_open(c));
}

TEST_CASE("a flood at 10x the rate closes with 1008; other connections are untouched", "[limits][ratelimit]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Limits.MessagesPerSecond", "5"}, {"Limits.Burst", "5"}})));
    WsClientHub hub;
    int flood = connect_and_wait(hub, pushd.ws_options());
    int calm = connect_and_wait(hub, pushd.ws_options());
    REQUIRE(hub.is_open(flood));
    REQUIRE(hub.is_open(calm));
    for (int i = 0; i < 200; i++) hub.send_text(flood, requests::ping(std::to_string(i)));
    REQUIRE(hub.wait_closed(flood, 5000));
    CHECK(hub.close_code(flood) == 1008);
    CHECK(hub.close_reason(flood) == "rate limit exceeded");
    hub.send_text(calm, requests::ping("still"));
    auto m = hub.recv_text(calm, 3000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "pong");
    CHECK(pushd.metric("pushd_rate_limit_closes_total") == 1);
    // 5 served, then the 40th refusal (8 x 5) within a second closes.
    CHECK(pushd.metric("pushd_rate_limited_total") >= 40);
}

TEST_CASE("a blacklisted source address is refused with 403; another address connects", "[limits][blacklist]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(
        standard_options(free_port(), {{"Security.IpBlacklist", "[\"127.0.0.2/32\", \"2001:db8::/32\"]"}})));
    WsClientHub hub;
    int blocked = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    CHECK_FALSE(hub.is_open(blocked));
    CHECK(hub.handshake_status(blocked) == 403);
    int ok = connect_and_wait(hub, from(pushd, "127.0.0.1"));
    CHECK(hub.is_open(ok));
    int other = connect_and_wait(hub, from(pushd, "127.0.0.3"));
    CHECK(hub.is_open(other));
    CHECK(pushd.metric(refused("blacklist")) == 1);
}

TEST_CASE("MaxConnectionsPerIp refuses the next connection from that address with 429", "[limits][perip]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Limits.MaxConnectionsPerIp", "2"}})));
    WsClientHub hub;
    int a = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    int b = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    REQUIRE(hub.is_open(a));
    REQUIRE(hub.is_open(b));
    int c = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    CHECK_FALSE(hub.is_open(c));
    CHECK(hub.handshake_status(c) == 429);
    int d = connect_and_wait(hub, from(pushd, "127.0.0.3"));  // another address: its own count
    CHECK(hub.is_open(d));
    CHECK(pushd.metric(refused("per_ip")) == 1);

    // Authenticated or not, a connection counts until it closes.
    hub.close(a);
    REQUIRE(hub.wait_closed(a, 3000));
    REQUIRE(wait_connections(pushd, 2));
    int e = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    CHECK(hub.is_open(e));
}

TEST_CASE("MaxConnections refuses past the total with 503", "[limits][capacity]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Limits.MaxConnections", "2"}})));
    WsClientHub hub;
    int a = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    int b = connect_and_wait(hub, pushd.ws_options("?token=" + user_token("u")));
    REQUIRE(hub.is_open(a));
    REQUIRE(hub.is_open(b));
    int c = connect_and_wait(hub, from(pushd, "127.0.0.3"));
    CHECK_FALSE(hub.is_open(c));
    CHECK(hub.handshake_status(c) == 503);
    CHECK(pushd.metric(refused("capacity")) == 1);
    CHECK(pushd.get("/metrics").status == 200);  // plain HTTP is not a WebSocket connection
}

TEST_CASE("checks answer in order: blacklist before per-IP before the total", "[limits][order]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Limits.MaxConnections", "1"},
                                                       {"Limits.MaxConnectionsPerIp", "1"},
                                                       {"Security.IpBlacklist", "[\"127.0.0.9\"]"},
                                                       {"Security.AllowedOrigins", "[\"https://ok.example\"]"}})));
    WsClientHub hub;
    int a = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    REQUIRE(hub.is_open(a));
    const std::vector<std::pair<std::string, std::string>> bad_origin = {{"Origin", "https://bad.example"}};
    int blocked = connect_and_wait(hub, from(pushd, "127.0.0.9", bad_origin));
    CHECK(hub.handshake_status(blocked) == 403);
    int per_ip = connect_and_wait(hub, from(pushd, "127.0.0.2", bad_origin));
    CHECK(hub.handshake_status(per_ip) == 429);
    int total = connect_and_wait(hub, from(pushd, "127.0.0.3", bad_origin));
    CHECK(hub.handshake_status(total) == 503);
    CHECK(pushd.metric(refused("blacklist")) == 1);
    CHECK(pushd.metric(refused("per_ip")) == 1);
    CHECK(pushd.metric(refused("capacity")) == 1);
    CHECK(pushd.metric(refused("origin")) == 0);
}

TEST_CASE("a disallowed Origin gets 403; allowed ones and no Origin connect", "[limits][origin]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(
        free_port(), {{"Security.AllowedOrigins", "[\"https://app.example.com\", \"https://*.example.org\"]"}})));
    WsClientHub hub;
    auto with_origin = [&](const std::string& origin) {
        return connect_and_wait(hub, from(pushd, "127.0.0.1", {{"Origin", origin}}));
    };
    int evil = with_origin("https://evil.example");
    CHECK(hub.handshake_status(evil) == 403);
    int wrong_scheme = with_origin("http://app.example.com");
    CHECK(hub.handshake_status(wrong_scheme) == 403);
    int bare_domain = with_origin("https://example.org");
    CHECK(hub.handshake_status(bare_domain) == 403);
    CHECK(hub.is_open(with_origin("https://app.example.com")));
    CHECK(hub.is_open(with_origin("https://chat.example.org")));
    CHECK(hub.is_open(connect_and_wait(hub, pushd.ws_options())));  // no Origin: not a browser
    CHECK(pushd.metric(refused("origin")) == 3);
    // The token is checked after the Origin: a bad Origin with a bad token is 403.
    ConnectOptions o = from(pushd, "127.0.0.1", {{"Origin", "https://evil.example"}});
    o.path += "?token=garbage";
    CHECK(hub.handshake_status(connect_and_wait(hub, o)) == 403);
}

TEST_CASE("X-Forwarded-For is honoured from a trusted proxy and ignored from others", "[limits][xff]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Security.TrustedProxies", "[\"127.0.0.1\"]"},
                                                       {"Security.IpBlacklist", "[\"203.0.113.7\"]"},
                                                       {"Limits.MaxConnectionsPerIp", "1"}})));
    WsClientHub hub;
    // From the trusted proxy: the forwarded client is what is checked.
    int blocked = connect_and_wait(hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "203.0.113.7"}}));
    CHECK(hub.handshake_status(blocked) == 403);
    // A client cannot hide behind a spoofed left part: the proxy's own entry counts.
    int spoof = connect_and_wait(hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}}));
    CHECK(hub.handshake_status(spoof) == 403);
    // Several X-Forwarded-For headers read as one list, in order.
    int two_headers = connect_and_wait(
        hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-For", "203.0.113.7"}}));
    CHECK(hub.handshake_status(two_headers) == 403);
    int behind_two = connect_and_wait(
        hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-For", "127.0.0.1"}}));
    CHECK(hub.handshake_status(behind_two) == 403);  // the trusted 127.0.0.1 is skipped
    // Two clients behind the proxy count separately (MaxConnectionsPerIp 1).
    int c1 = connect_and_wait(hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "198.51.100.1"}}));
    int c2 = connect_and_wait(hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "198.51.100.2, 127.0.0.1"}}));
    CHECK(hub.is_open(c1));
    CHECK(hub.is_open(c2));
    int c3 = connect_and_wait(hub, from(pushd, "127.0.0.1", {{"X-Forwarded-For", "198.51.100.1"}}));
    CHECK(hub.handshake_status(c3) == 429);
    // From an untrusted peer the header is ignored: its own address counts.
    int direct = connect_and_wait(hub, from(pushd, "127.0.0.2", {{"X-Forwarded-For", "203.0.113.7"}}));
    CHECK(hub.is_open(direct));
    int direct2 = connect_and_wait(hub, from(pushd, "127.0.0.2", {{"X-Forwarded-For", "198.51.100.9"}}));
    CHECK(hub.handshake_status(direct2) == 429);
}

TEST_CASE("SIGHUP blacklists live: that address's connection gets 4003, others stay", "[limits][reload]") {
    PushdProcess pushd;
    PushdOptions options = standard_options(free_port(), {{"Groups.AutoJoin", "false"}});
    REQUIRE(pushd.start(options));
    WsClientHub hub;
    int victim = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    int victim_authed = hub.connect(from(pushd, "127.0.0.2"));
    int keeper = connect_and_wait(hub, pushd.ws_options("?token=" + user_token("k")));
    REQUIRE(hub.wait_open(victim_authed, 5000));
    REQUIRE(hub.is_open(victim));
    REQUIRE(hub.is_open(keeper));
    REQUIRE(jfield(*hub.recv_text(keeper, 3000), "type") == "auth_success");

    size_t mark = pushd.log_mark();
    REQUIRE(pushd.rewrite_config(standard_config(pushd.port(), free_port(),
                                                 {{"Security.IpBlacklist", "[\"127.0.0.2/32\"]"},
                                                  {"Groups.AutoJoin", "false"},
                                                  {"Limits.MessagesPerSecond", "7"}})));
    REQUIRE(pushd.signal(SIGHUP));
    REQUIRE(pushd.wait_log("reload: configuration applied", 5000, mark));
    REQUIRE(hub.wait_closed(victim, 5000));
    REQUIRE(hub.wait_closed(victim_authed, 5000));
    CHECK(hub.close_code(victim) == 4003);
    CHECK(hub.close_code(victim_authed) == 4003);
    CHECK(hub.close_reason(victim) == "address blocked");
    CHECK(hub.is_open(keeper));
    hub.send_text(keeper, requests::ping("alive"));
    auto m = hub.recv_text(keeper, 3000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "pong");
    CHECK(pushd.metric("pushd_blocked_closes_total") == 2);
    int again = connect_and_wait(hub, from(pushd, "127.0.0.2"));
    CHECK(hub.handshake_status(again) == 403);
    CHECK(hub.is_open(connect_and_wait(hub, from(pushd, "127.0.0.3"))));
    HttpResponse metrics = pushd.get("/metrics");
    CHECK(pushd_test::prometheus_lint(metrics.body) == "");
}

TEST_CASE("wss:// and https:// with a self-signed certificate, end to end", "[limits][tls]") {
    TestCert tc;
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdOptions options = standard_options(
        redis.port(), {{"Security.TLS.Cert", "\"" + tc.cert + "\""}, {"Security.TLS.Key", "\"" + tc.key + "\""}});
    options.tls = true;
    PushdProcess pushd;
    REQUIRE(pushd.start(options));
    REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    CHECK(pushd.get("/health").body == "OK");
    // Plain HTTP to the TLS port gets no HTTP answer.
    CHECK(http_get("127.0.0.1", pushd.port(), "/health", 2000).status == 0);
    // Verification on: a self-signed certificate is not trusted.
    HttpResponse strict = http_get("127.0.0.1", pushd.port(), "/health", 2000, pushd::HttpGetOptions{true, false});
    CHECK(strict.status == 0);
    CHECK(strict.error.find("certificate") != std::string::npos);

    pushd::WsHubOptions ho;
    ho.enable_tls = true;
    WsClientHub hub(ho);
    int a = connect_and_wait(hub, pushd.ws_options());
    int b = connect_and_wait(hub, pushd.ws_options("?token=" + user_token("bob")));
    REQUIRE(hub.is_open(a));
    REQUIRE(hub.is_open(b));
    REQUIRE(jfield(*hub.recv_text(b, 3000), "type") == "auth_success");
    hub.send_text(a, requests::auth("a", user_token("alice")));
    auto m = hub.recv_text(a, 3000);
    REQUIRE(m);
    REQUIRE(jfield(*m, "type") == "auth_success");
    for (int c : {a, b}) {
        hub.send_text(c, requests::join_group("j", "tls-room"));
        m = hub.recv_text(c, 3000);
        REQUIRE(m);
        REQUIRE(jfield(*m, "data.success") == "true");
    }
    hub.send_text(a, requests::send_message("s1", "tls-room", "over tls"));
    m = hub.recv_text(a, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "ack");
    CHECK(jfield(*m, "data.success") == "true");
    m = hub.recv_text(b, 5000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "new_message");
    CHECK(jfield(*m, "data.content") == "over tls");
    CHECK(jfield(*m, "data.sender_id") == "alice");
}

TEST_CASE("TLS files that cannot be used are a one-line startup error, exit 2", "[limits][tls]") {
    TestCert tc;
    TestCert other;
    auto run_with = [&](const std::string& cert, const std::string& key) {
        return run_pushd(
            standard_config(free_port(), free_port(),
                            {{"Security.TLS.Cert", "\"" + cert + "\""}, {"Security.TLS.Key", "\"" + key + "\""}}),
            {});
    };
    auto last_line_of = [](const std::string& out) {
        std::string s = out;
        while (!s.empty() && s.back() == '\n') s.pop_back();
        return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
    };
    SECTION("missing certificate") {
        std::string missing = temp_dir() + "/no-such-cert.pem";
        RunResult r = run_with(missing, tc.key);
        CHECK(r.exit.exit_code == 2);
        CHECK(last_line_of(r.output).find("Security.TLS.Cert: cannot read '" + missing +
                                          "': No such file or directory") != std::string::npos);
    }
    SECTION("--check finds it too") {
        std::string missing = temp_dir() + "/no-such-key.pem";
        RunResult r = run_pushd(standard_config(free_port(), free_port(),
                                                {{"Security.TLS.Cert", "\"" + tc.cert + "\""},
                                                 {"Security.TLS.Key", "\"" + missing + "\""}}),
                                {"--check"});
        CHECK(r.exit.exit_code == 2);
        CHECK(r.output.find("pushd: Security.TLS.Key: cannot read '" + missing + "'") != std::string::npos);
        CHECK(r.output.find("configuration OK") == std::string::npos);
    }
    SECTION("a key that is not PEM") {
        RunResult r = run_with(tc.cert, tc.cert);
        CHECK(r.exit.exit_code == 2);
        CHECK(last_line_of(r.output).find("Security.TLS.Key: '" + tc.cert + "' holds no unencrypted PEM private key") !=
              std::string::npos);
    }
    SECTION("a key of another certificate") {
        RunResult r = run_with(tc.cert, other.key);
        CHECK(r.exit.exit_code == 2);
        CHECK(last_line_of(r.output).find("does not match the certificate") != std::string::npos);
    }
}
