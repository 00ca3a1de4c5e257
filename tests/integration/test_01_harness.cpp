// Tests of the integration harness itself: processes, redis-server, tokens,
// config, and the clients against canned raw-socket servers (no pushd).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <jwt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

using namespace pushd;
using namespace pushd::test;

namespace {

// A listener on 127.0.0.1 that, in a thread, accepts one connection, reads
// the request head, writes `response` (unless empty: then it holds the
// connection open until destroyed) and closes.
class CannedServer {
public:
    explicit CannedServer(std::string response) : response_(std::move(response)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
        ::listen(fd_, 8);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~CannedServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        if (conn_ >= 0) ::shutdown(conn_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
        if (conn_ >= 0) ::close(conn_);
    }
    uint16_t port() const { return port_; }
    std::string request() const { return request_; }

private:
    void serve() {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        conn_ = c;
        char buf[4096];
        while (request_.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::recv(c, buf, sizeof(buf), 0);
            if (n <= 0) return;
            request_.append(buf, static_cast<size_t>(n));
        }
        if (response_.empty()) {
            while (!stop_ && ::recv(c, buf, sizeof(buf), 0) > 0) {}
            return;
        }
        ::send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
        ::shutdown(c, SHUT_WR);
    }

    std::string response_;
    int fd_ = -1;
    std::atomic<int> conn_{-1};
    uint16_t port_ = 0;
    std::thread thread_;
    std::string request_;
    std::atomic<bool> stop_{false};
};

bool pid_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

long elapsed_ms(std::chrono::steady_clock::time_point since) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count());
}

}  // namespace

TEST_CASE("free_port gives distinct bindable ports", "[harness]") {
    uint16_t a = free_port();
    uint16_t b = free_port();
    REQUIRE(a != 0);
    REQUIRE(b != 0);
    REQUIRE(a != b);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(a);
    CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);
}

TEST_CASE("temp dir and files", "[harness]") {
    const std::string& dir = temp_dir();
    REQUIRE(dir.rfind("/tmp/pushd-it-", 0) == 0);
    REQUIRE(std::filesystem::is_directory(dir));
    std::string sub = make_temp_subdir("x");
    REQUIRE(std::filesystem::is_directory(sub));
    std::string p = unique_temp_path("file", ".txt");
    CHECK(p != unique_temp_path("file", ".txt"));
    REQUIRE(write_file(p, "hello\nworld"));
    CHECK(read_file(p) == "hello\nworld");
    CHECK(read_file(dir + "/does-not-exist").empty());
}

TEST_CASE("stale temp dirs of dead test processes are swept", "[harness]") {
    pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    REQUIRE(dead > 0);
    ::waitpid(dead, nullptr, 0);
    std::string stale = "/tmp/pushd-it-" + std::to_string(dead) + "-sweeptest";
    std::string live = "/tmp/pushd-it-1-sweeptest";  // pid 1 always exists
    std::filesystem::create_directories(stale + "/sub");
    std::filesystem::create_directories(live);
    sweep_stale_temp_dirs();
    CHECK_FALSE(std::filesystem::exists(stale));
    CHECK(std::filesystem::exists(live));
    CHECK(std::filesystem::exists(temp_dir()));
    std::filesystem::remove_all(live);
}

TEST_CASE("run_to_exit captures output and exit status", "[harness]") {
    SECTION("exit code and both streams") {
        RunResult r = run_to_exit({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
        REQUIRE(r.exit.finished);
        CHECK(r.exit.exit_code == 3);
        CHECK(r.exit.signal == 0);
        CHECK_FALSE(r.exit.ok());
        CHECK(r.output.find("out\n") != std::string::npos);
        CHECK(r.output.find("err\n") != std::string::npos);
    }
    SECTION("a child past its timeout is killed") {
        auto t0 = std::chrono::steady_clock::now();
        RunResult r = run_to_exit({"sleep", "30"}, {}, 200);
        CHECK(elapsed_ms(t0) < 5000);
        REQUIRE(r.exit.finished);
        CHECK(r.exit.killed);
        CHECK(r.exit.signal == SIGKILL);
    }
    SECTION("environment: overrides given, PUSHD_* of the runner not inherited") {
        ::setenv("PUSHD_LEAKED_FROM_RUNNER", "1", 1);
        RunResult r = run_to_exit({"env"}, {{"PUSHD_PORT", "1234"}, {"HOME", "/nowhere"}});
        ::unsetenv("PUSHD_LEAKED_FROM_RUNNER");
        REQUIRE(r.exit.ok());
        CHECK(r.output.find("PUSHD_PORT=1234\n") != std::string::npos);
        CHECK(r.output.find("HOME=/nowhere\n") != std::string::npos);
        CHECK(r.output.find("PUSHD_LEAKED_FROM_RUNNER") == std::string::npos);
    }
    SECTION("a missing program is an error, not a hang") {
        RunResult r = run_to_exit({"/nonexistent/program"});
        CHECK_FALSE(r.exit.finished);
        CHECK(r.error.find("exec failed") != std::string::npos);
        RunResult r2 = run_to_exit({"no-such-program-in-path-xyz"});
        CHECK(r2.error.find("not found") != std::string::npos);
    }
    SECTION("children inherit no descriptors beyond 0, 1, 2") {
        RunResult r = run_to_exit({"/bin/sh", "-c", "ls /proc/self/fd"});
        REQUIRE(r.exit.ok());
        // ls itself opens one descriptor for the directory it lists.
        CHECK(r.output.find("\n5\n") == std::string::npos);
        CHECK(r.output.find("\n4\n") == std::string::npos);
    }
}

TEST_CASE("ChildProcess stop falls back to SIGKILL", "[harness]") {
    ChildProcess child;
    std::string err;
    // exec keeps SIGTERM ignored in sleep: only SIGKILL ends it.
    std::string log = unique_temp_path("stubborn");
    REQUIRE(child.start({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"}, {}, log, err));
    pid_t pid = child.pid();
    REQUIRE(child.running());
    REQUIRE(wait_until([&] { return read_file(log) == "ready\n"; }, 5000));
    auto t0 = std::chrono::steady_clock::now();
    ProcessExit e = child.stop(SIGTERM, 300);
    CHECK(elapsed_ms(t0) >= 250);
    CHECK(elapsed_ms(t0) < 5000);
    CHECK(e.finished);
    CHECK(e.killed);
    CHECK(e.signal == SIGKILL);
    CHECK_FALSE(child.running());
    CHECK_FALSE(pid_exists(pid));
}

TEST_CASE("RedisProcess starts, answers PING and stops by PID", "[harness][redis]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    INFO(redis.log());
    pid_t pid = redis.pid();
    REQUIRE(pid > 0);
    CHECK(pid_exists(pid));
    CHECK(redis.host_port() == "127.0.0.1:" + std::to_string(redis.port()));

    RespValue pong = redis_command(redis.port(), {"PING"});
    CHECK(pong.describe() == "PONG");

    RespClient c;
    REQUIRE(c.connect(redis.port()));
    CHECK(c.command({"SET", "k", "v"}).describe() == "OK");
    CHECK(c.command({"GET", "k"}).text() == "v");
    CHECK(c.command({"GET", "missing"}).is_nil());
    CHECK(c.command({"INCR", "n"}).integer == 1);
    CHECK(c.command({"RPUSH", "l", "a", "b"}).integer == 2);
    RespValue l = c.command({"LRANGE", "l", "0", "-1"});
    REQUIRE(l.type == RespValue::Type::array);
    CHECK(l.describe() == "[\"a\", \"b\"]");
    CHECK(c.command({"NOSUCHCOMMAND"}).type == RespValue::Type::error);
    RespValue cfg = c.command({"CONFIG", "GET", "save"});
    REQUIRE(cfg.elements.size() == 2);
    CHECK(cfg.elements[1].text().empty());

    ProcessExit e = redis.stop();
    CHECK(e.finished);
    CHECK_FALSE(e.killed);
    CHECK_FALSE(redis.running());
    CHECK_FALSE(pid_exists(pid));
    CHECK(redis_command(redis.port(), {"PING"}, 200).type == RespValue::Type::failure);
}

TEST_CASE("RedisProcess with appendonly keeps data across a restart", "[harness][redis]") {
    RedisProcess redis(RedisOptions{.appendonly = true});
    REQUIRE(redis.start());
    uint16_t port = redis.port();
    pid_t first = redis.pid();
    CHECK(redis_command(port, {"CONFIG", "GET", "appendonly"}).describe() == "[\"appendonly\", \"yes\"]");
    CHECK(redis_command(port, {"SET", "survivor", "still here"}).describe() == "OK");
    CHECK(redis_command(port, {"XADD", "pushd:notify", "*", "target", "all", "data", "{}"}).ok());

    ProcessExit e = redis.stop();
    REQUIRE(e.finished);
    CHECK_FALSE(e.killed);
    CHECK_FALSE(pid_exists(first));

    REQUIRE(redis.start());
    CHECK(redis.port() == port);
    CHECK(redis.pid() != first);
    CHECK(redis_command(port, {"GET", "survivor"}).text() == "still here");
    CHECK(redis_command(port, {"XLEN", "pushd:notify"}).integer == 1);
}

TEST_CASE("RedisProcess without appendonly starts empty after a restart", "[harness][redis]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    CHECK(redis_command(redis.port(), {"SET", "gone", "1"}).ok());
    redis.stop();
    REQUIRE(redis.start());
    CHECK(redis_command(redis.port(), {"GET", "gone"}).is_nil());
}

TEST_CASE("two RedisProcess instances side by side", "[harness][redis]") {
    RedisProcess a, b;
    REQUIRE(a.start());
    REQUIRE(b.start());
    CHECK(a.port() != b.port());
    CHECK(a.dir() != b.dir());
    redis_command(a.port(), {"SET", "who", "a"});
    CHECK(redis_command(b.port(), {"GET", "who"}).is_nil());
    SECTION("a stopped (SIGSTOP) server still stops") {
        REQUIRE(a.signal(SIGSTOP));
        CHECK(redis_command(a.port(), {"PING"}, 200).type == RespValue::Type::failure);
        ProcessExit e = a.stop(2000);
        CHECK(e.finished);
    }
}

TEST_CASE("tokens", "[harness][jwt]") {
    const std::string secret = kTestSecret;

    auto decode = [&](const std::string& token, const std::string& key) -> jwt_t* {
        jwt_t* j = nullptr;
        if (jwt_decode(&j, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                       static_cast<int>(key.size())) != 0)
            return nullptr;
        return j;
    };

    SECTION("HS256 user token verifies with the secret") {
        std::string t = user_token("42");
        REQUIRE(!t.empty());
        jwt_t* j = decode(t, secret);
        REQUIRE(j);
        CHECK(jwt_get_alg(j) == JWT_ALG_HS256);
        CHECK(std::string(jwt_get_grant(j, "userId")) == "42");
        long exp = jwt_get_grant_int(j, "exp");
        CHECK(exp > unix_s() + 3500);
        CHECK(exp <= unix_s() + 3600);
        jwt_free(j);
        CHECK(decode(t, "another-secret-0123456789abcdef-0123") == nullptr);
    }
    SECTION("HS384 and HS512, numeric ids and other claim names") {
        std::string t = make_token(secret, user_claims("7", 60, std::nullopt, "sub", true), "HS512");
        jwt_t* j = decode(t, secret);
        REQUIRE(j);
        CHECK(jwt_get_alg(j) == JWT_ALG_HS512);
        CHECK(jwt_get_grant_int(j, "sub") == 7);
        jwt_free(j);
        CHECK(!make_token(secret, user_claims("7"), "HS384").empty());
    }
    SECTION("expired and not-yet-valid") {
        std::string c = user_claims("1", -60, 3600);
        CHECK(c.find("\"exp\":" + std::to_string(unix_s() - 60)) != std::string::npos);
        CHECK(c.find("\"nbf\":" + std::to_string(unix_s() + 3600)) != std::string::npos);
        CHECK(!make_token(secret, c).empty());
    }
    SECTION("alg none is unsigned") {
        std::string t = make_token(secret, user_claims("1"), "none");
        REQUIRE(!t.empty());
        CHECK(t.back() == '.');
        CHECK(std::count(t.begin(), t.end(), '.') == 2);
        jwt_t* j = nullptr;
        REQUIRE(jwt_decode(&j, t.c_str(), nullptr, 0) == 0);
        CHECK(jwt_get_alg(j) == JWT_ALG_NONE);
        jwt_free(j);
    }
    SECTION("raw tokens and base64url") {
        CHECK(base64url("") == "");
        CHECK(base64url("f") == "Zg");
        CHECK(base64url("fo") == "Zm8");
        CHECK(base64url("foo") == "Zm9v");
        CHECK(base64url("\xfb\xff") == "-_8");
        std::string t = make_raw_token(R"({"alg":"RS256","typ":"JWT"})", R"({"userId":"1"})", "c2ln");
        CHECK(t == base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(R"({"userId":"1"})") + ".c2ln");
    }
    SECTION("bad input gives an empty token") {
        CHECK(make_token(secret, "not json").empty());
        CHECK(make_token(secret, user_claims("1"), "XX999").empty());
    }
}

TEST_CASE("standard_config nests overrides", "[harness][config]") {
    std::string y = standard_config(18889, 16379,
                                    {{"Limits.MaxMessageBytes", "1024"},
                                     {"Port", "18890"},
                                     {"Security.TLS.Cert", "\"/x.pem\""},
                                     {"Security.AllowedOrigins", "[\"https://a.example\"]"}});
    CHECK(y.find("Port: 18890\n") != std::string::npos);
    CHECK(y.find("Port: 18889") == std::string::npos);
    CHECK(y.find("Redis:\n  Host: \"127.0.0.1:16379\"\n") != std::string::npos);
    CHECK(y.find(std::string("AccessSecret: \"") + kTestSecret + "\"") != std::string::npos);
    CHECK(y.find("Limits:\n  MaxMessageBytes: 1024\n") != std::string::npos);
    CHECK(y.find("Security:\n  TLS:\n    Cert: \"/x.pem\"\n  AllowedOrigins: [\"https://a.example\"]\n") !=
          std::string::npos);
    PushdOptions o = standard_options(16379);
    CHECK(o.port != 0);
    CHECK(o.config_yaml.find("Port: " + std::to_string(o.port) + "\n") != std::string::npos);
}

TEST_CASE("http_get", "[harness][http]") {
    SECTION("content-length body and headers") {
        CannedServer s(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            "Content-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello-and-garbage");
        HttpResponse r = http_get("127.0.0.1", s.port(), "/metrics");
        CHECK(r.error.empty());
        CHECK(r.status == 200);
        CHECK(r.body == "hello");
        CHECK(r.header("Content-Type") == "text/plain; version=0.0.4");
        CHECK(r.headers["x-a"] == "1, 2");
        CHECK(s.request().rfind("GET /metrics HTTP/1.1\r\n", 0) == 0);
        CHECK(s.request().find("Connection: close\r\n") != std::string::npos);
    }
    SECTION("chunked body") {
        CannedServer s(
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
            "9\r\nDEGRADED:\r\n6\r\n redis\r\n0\r\n\r\n");
        HttpResponse r = http_get("127.0.0.1", s.port(), "/health");
        CHECK(r.status == 503);
        CHECK(r.body == "DEGRADED: redis");
    }
    SECTION("body until close") {
        CannedServer s("HTTP/1.0 404 Not Found\r\n\r\nnope");
        HttpResponse r = http_get("127.0.0.1", s.port(), "/x");
        CHECK(r.status == 404);
        CHECK(r.body == "nope");
    }
    SECTION("connection refused is status 0 with an error") {
        HttpResponse r = http_get("127.0.0.1", free_port(), "/health", 1000);
        CHECK(r.status == 0);
        CHECK(r.error.find("refused") != std::string::npos);
    }
    SECTION("a silent server times out") {
        CannedServer s("");
        auto t0 = std::chrono::steady_clock::now();
        HttpResponse r = http_get("127.0.0.1", s.port(), "/health", 300);
        CHECK(elapsed_ms(t0) >= 250);
        CHECK(elapsed_ms(t0) < 3000);
        CHECK(r.status == 0);
        CHECK(r.error.find("timed out") != std::string::npos);
    }
}

TEST_CASE("WsClientHub without a WebSocket server", "[harness][ws]") {
    WsClientHub hub;
    REQUIRE(hub.ok());

    SECTION("nothing listening: failed, no HTTP status, 1006") {
        int c = hub.connect({.port = free_port()});
        auto t0 = std::chrono::steady_clock::now();
        CHECK_FALSE(hub.wait_open(c, 3000));
        CHECK(elapsed_ms(t0) < 2000);
        CHECK(hub.state(c) == WsState::failed);
        CHECK(hub.handshake_status(c) == 0);
        CHECK(hub.close_code(c) == 1006);
        CHECK_FALSE(hub.error(c).empty());
        CHECK_FALSE(hub.send_text(c, "x"));
        CHECK(hub.wait_closed(c, 0));
    }
    SECTION("a refused upgrade reports the HTTP status") {
        CannedServer s("HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\nConnection: close\r\n\r\ninvalid auth");
        ConnectOptions o;
        o.port = s.port();
        o.path = "/ws?token=abc";
        o.headers = {{"Authorization", "Bearer xyz"}, {"Origin", "https://a.example"}};
        int c = hub.connect(o);
        CHECK_FALSE(hub.wait_open(c, 3000));
        CHECK(hub.state(c) == WsState::failed);
        CHECK(hub.handshake_status(c) == 401);
        std::string req = s.request();
        CHECK(req.rfind("GET /ws?token=abc HTTP/1.1\r\n", 0) == 0);
        CHECK(req.find("\r\nAuthorization: Bearer xyz\r\n") != std::string::npos);
        CHECK(req.find("\r\nOrigin: https://a.example\r\n") != std::string::npos);
        CHECK(req.find("\r\nHost: 127.0.0.1:" + std::to_string(s.port()) + "\r\n") != std::string::npos);
        CHECK(req.find("permessage-deflate") == std::string::npos);
    }
    SECTION("permessage-deflate is offered only when asked") {
        CannedServer s("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        ConnectOptions o;
        o.port = s.port();
        o.permessage_deflate = true;
        int c = hub.connect(o);
        CHECK_FALSE(hub.wait_open(c, 3000));
        CHECK(hub.handshake_status(c) == 403);
        CHECK(s.request().find("Sec-WebSocket-Extensions: permessage-deflate") != std::string::npos);
    }
    SECTION("waits end at their timeout when nothing happens") {
        CannedServer s("");  // accepts, reads the upgrade request, never answers
        int c = hub.connect({.port = s.port()});
        auto t0 = std::chrono::steady_clock::now();
        CHECK_FALSE(hub.wait_open(c, 300));
        long ms = elapsed_ms(t0);
        CHECK(ms >= 290);
        CHECK(ms < 1500);
        CHECK(hub.state(c) == WsState::connecting);
        t0 = std::chrono::steady_clock::now();
        hub.service(200);
        CHECK(elapsed_ms(t0) >= 190);
        CHECK(elapsed_ms(t0) < 1500);
        CHECK(hub.close(c));
        CHECK(hub.wait_closed(c, 1000));
        CHECK(hub.state(c) == WsState::failed);
    }
    SECTION("forget drops the record") {
        int c = hub.connect({.port = free_port()});
        hub.forget(c);
        CHECK(hub.state(c) == WsState::unknown);
        CHECK(hub.ids().empty());
        int d = hub.connect({.port = free_port()});
        CHECK(d > c);
    }
}
