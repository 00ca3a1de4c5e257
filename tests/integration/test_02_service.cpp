// The service skeleton: HTTP endpoints, the command line and configuration
// errors, reload and graceful shutdown, against a real pushd process.
#include "harness.hpp"

#include "../common/prometheus_lint.hpp"
#include "../common/seed_yaml.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

using namespace pushd::test;
using pushd::ConnectOptions;
using pushd::HttpResponse;
using pushd::WsClientHub;

namespace {

using pushd_test::kSeedYaml;

// Polls /metrics until the sample `name` has `value`.
bool wait_metric(const PushdProcess& pushd, const std::string& name, int value, int timeout_ms) {
    const std::string line = "\n" + name + " " + std::to_string(value) + "\n";
    return wait_until([&] { return pushd.get("/metrics").body.find(line) != std::string::npos; }, timeout_ms, 50);
}

// Waits until /health answers 200 (the Redis links are up).
bool wait_healthy(const PushdProcess& pushd, int timeout_ms = 10000) {
    return wait_until([&] { return pushd.get("/health").status == 200; }, timeout_ms, 20);
}

size_t count_lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + (s.empty() || s.back() == '\n' ? 0 : 1);
}

// Sends `request` as is to 127.0.0.1:`port` and returns what comes back
// until the peer closes or 3 s pass (for methods http_get cannot send).
std::string raw_http(uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (out.find("\r\n\r\n") == std::string::npos || out.find("not found") == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            pollfd p{fd, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, static_cast<size_t>(n));
        }
    }
    if (fd >= 0) ::close(fd);
    return out;
}

}  // namespace

TEST_CASE("HTTP endpoints: /health, /stats, /metrics, 404", "[service][http]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(redis.port())));
    REQUIRE(wait_healthy(pushd));

    HttpResponse health = pushd.get("/health");
    CHECK(health.status == 200);
    CHECK(health.body == "OK");

    HttpResponse stats = pushd.get("/stats");
    CHECK(stats.status == 200);
    CHECK(stats.header("content-type") == "application/json");
    CHECK(stats.body.rfind("{\"online_users\":0,", 0) == 0);
    CHECK(stats.body.find("\"connections\":0") != std::string::npos);
    CHECK(stats.body.find("\"groups\":0") != std::string::npos);
    CHECK(stats.body.find("\"uptime_s\":") != std::string::npos);

    HttpResponse metrics = pushd.get("/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(pushd_test::prometheus_lint(metrics.body) == "");
    CHECK(metrics.body.find("\nprocess_resident_memory_bytes ") != std::string::npos);
    CHECK(metrics.body.find("\npushd_connections 0\n") != std::string::npos);

    CHECK(pushd.get("/nope").status == 404);
    CHECK(pushd.get("/ws").status == 426);  // the WebSocket path without an upgrade
}

TEST_CASE("gauges follow WebSocket connections", "[service][http]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port())));
    WsClientHub hub;
    int a = hub.connect(pushd.ws_options("?token=" + user_token("7")));
    int b = hub.connect(pushd.ws_options());
    REQUIRE(hub.wait_open(a, 5000));
    REQUIRE(hub.wait_open(b, 5000));
    HttpResponse stats = pushd.get("/stats");
    CHECK(stats.body.rfind("{\"online_users\":1,", 0) == 0);
    CHECK(stats.body.find("\"connections\":2") != std::string::npos);
    HttpResponse metrics = pushd.get("/metrics");
    CHECK(metrics.body.find("\npushd_connections 2\n") != std::string::npos);
    CHECK(metrics.body.find("\npushd_online_users 1\n") != std::string::npos);
    hub.close(a);
    REQUIRE(hub.wait_closed(a, 5000));
    REQUIRE(
        hub.wait_for([&] { return pushd.get("/stats").body.find("\"connections\":1") != std::string::npos; }, 5000));
    CHECK(pushd.get("/stats").body.rfind("{\"online_users\":0,", 0) == 0);
}

TEST_CASE("pushd --version and --check", "[service][cli]") {
    RunResult v = run_pushd("", {"--version"});
    CHECK(v.exit.ok());
    CHECK(v.output.rfind("pushd ", 0) == 0);

    RunResult ok = run_pushd(standard_config(free_port(), free_port()), {"--check"});
    CHECK(ok.exit.ok());
    CHECK(ok.output.find("configuration OK") != std::string::npos);

    RunResult usage = run_pushd("", {"--no-such-flag"});
    CHECK(usage.exit.exit_code == 2);
}

TEST_CASE("the original service's YAML loads with one warning per unused key", "[service][config]") {
    RunResult r = run_pushd(kSeedYaml, {"--check"});
    INFO(r.output);
    CHECK(r.exit.ok());
    CHECK(r.output.find("warning:") != std::string::npos);
    CHECK(r.output.find("ChatRpc: unknown key, ignored") != std::string::npos);
    size_t warnings = 0;
    for (size_t p = 0; (p = r.output.find("warning:", p)) != std::string::npos; p++) warnings++;
    CHECK(warnings == 1);
}

TEST_CASE("configuration errors: one clear line, exit 2", "[service][config]") {
    SECTION("missing file") {
        RunResult r = run_pushd("", {"-f", "/nonexistent/pushd.yaml", "--check"});
        CHECK(r.exit.exit_code == 2);
        CHECK(count_lines(r.output) == 1);
        CHECK(r.output.find("/nonexistent/pushd.yaml: cannot read") != std::string::npos);
    }
    SECTION("YAML syntax error with line and column") {
        RunResult r = run_pushd("Port: 8889\nRedis: {Host: [unclosed\n", {"--check"});
        INFO(r.output);
        CHECK(r.exit.exit_code == 2);
        CHECK(count_lines(r.output) == 1);
        CHECK(r.output.find("YAML syntax error") != std::string::npos);
        CHECK(r.output.find(":3:") != std::string::npos);
    }
    SECTION("wrong type") {
        RunResult r =
            run_pushd("Port: eighty\nAuth: {AccessSecret: abcdefghijklmnopqrstuvwxyz0123456789}\n", {"--check"});
        INFO(r.output);
        CHECK(r.exit.exit_code == 2);
        CHECK(count_lines(r.output) == 1);
        CHECK(r.output.find(":1:7: Port: expected an integer, got 'eighty'") != std::string::npos);
    }
    SECTION("out of range") {
        RunResult r =
            run_pushd("Port: 70000\nAuth: {AccessSecret: abcdefghijklmnopqrstuvwxyz0123456789}\n", {"--check"});
        CHECK(r.exit.exit_code == 2);
        CHECK(r.output.find("Port: 70000 is out of range 1..65535") != std::string::npos);
    }
    SECTION("bad environment override") {
        RunResult r =
            run_pushd(standard_config(free_port(), free_port()), {"--check"}, {{"PUSHD_LIMITS_MAXQUEUEBYTES", "lots"}});
        CHECK(r.exit.exit_code == 2);
        CHECK(r.output.find("PUSHD_LIMITS_MAXQUEUEBYTES: Limits.MaxQueueBytes") != std::string::npos);
    }
    SECTION("a bad configuration also stops the server, not only --check") {
        RunResult r = run_pushd("Port: [1]\n", {});
        CHECK(r.exit.exit_code == 2);
        CHECK(count_lines(r.output) == 1);
    }
}

TEST_CASE("environment overrides the file; --print-config masks secrets", "[service][config]") {
    RunResult r = run_pushd(standard_config(free_port(), free_port()), {"--print-config"},
                            {{"PUSHD_PORT", "9123"}, {"PUSHD_REDIS_PASS", "hunter2"}});
    INFO(r.output);
    CHECK(r.exit.ok());
    CHECK(r.output.find("Port=9123\n") != std::string::npos);
    CHECK(r.output.find("hunter2") == std::string::npos);
    CHECK(r.output.find(kTestSecret) == std::string::npos);
}

TEST_CASE("a port already in use fails the start with exit 1", "[service][cli]") {
    PushdProcess first;
    REQUIRE(first.start(standard_options(free_port())));
    RunResult r = run_pushd(standard_config(first.port(), free_port()), {});
    CHECK(r.exit.exit_code == 1);
    CHECK(r.output.find("cannot listen") != std::string::npos);
}

TEST_CASE("SIGTERM closes every WebSocket with 1001 and exits 0 in time", "[service][shutdown]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"ShutdownTimeout", "3"}})));
    WsClientHub hub;
    std::vector<int> conns;
    for (int i = 0; i < 20; i++) {
        conns.push_back(hub.connect(pushd.ws_options(i % 2 ? "?token=" + user_token("u" + std::to_string(i)) : "")));
    }
    for (int c : conns) REQUIRE(hub.wait_open(c, 5000));

    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(pushd.signal(SIGTERM));
    for (int c : conns) {
        REQUIRE(hub.wait_closed(c, 5000));
        CHECK(hub.close_code(c) == 1001);
    }
    ProcessExit exit = pushd.wait_exit(5000);
    auto elapsed = std::chrono::steady_clock::now() - t0;
    CHECK(exit.ok());
    CHECK(elapsed < std::chrono::seconds(3));
    CHECK(pushd.log().find("shutdown complete") != std::string::npos);
}

TEST_CASE("SIGTERM while a client never reads still exits 0 within ShutdownTimeout", "[service][shutdown]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"ShutdownTimeout", "2"}})));
    WsClientHub hub;
    int c = hub.connect(pushd.ws_options());
    REQUIRE(hub.wait_open(c, 5000));
    hub.pause_reading(c, true);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(pushd.signal(SIGINT));
    ProcessExit exit = pushd.wait_exit(5000);
    CHECK(exit.ok());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
}

TEST_CASE("SIGHUP reloads: Log.Level applies, restart-only keys are named, bad files change nothing",
          "[service][reload]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    uint16_t redis_port = redis.port();
    REQUIRE(pushd.start(standard_options(redis_port)));
    REQUIRE(wait_healthy(pushd));
    const uint16_t port = pushd.port();

    size_t mark = pushd.log_mark();
    REQUIRE(pushd.rewrite_config(standard_config(port, redis_port, {{"Log.Level", "warn"}, {"Name", "renamed"}})));
    REQUIRE(pushd.signal(SIGHUP));
    CHECK(pushd.wait_log("Name changed; it takes effect after a restart", 5000, mark));
    REQUIRE(wait_metric(pushd, "pushd_config_reloads_total", 1, 5000));

    mark = pushd.log_mark();
    REQUIRE(pushd.rewrite_config("Port: [oops\n"));
    REQUIRE(pushd.signal(SIGHUP));
    CHECK(pushd.wait_log("reload refused, configuration unchanged", 5000, mark));
    CHECK(pushd.get("/health").status == 200);
    CHECK(wait_metric(pushd, "pushd_config_reload_failures_total", 1, 5000));
}

TEST_CASE("a method other than GET gets 404, on every path", "[service][http]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port())));
    for (const char* path : {"/health", "/stats", "/metrics", "/nowhere"}) {
        INFO(path);
        std::string r = raw_http(
            pushd.port(), std::string("POST ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 404", 0) == 0);
    }
    CHECK(pushd.get("/health").status != 404);  // GET still answers
}
