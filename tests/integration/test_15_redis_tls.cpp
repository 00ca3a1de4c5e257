// Redis over TLS (issue 15): hiredis 0.14 speaks plain TCP only, so the
// supported recipe (README, "Redis over TLS") is a local stunnel in client
// mode in front of a TLS Redis. This runs that recipe once: a TLS-only
// redis-server (a test certificate), stunnel verifying it, pushd through
// stunnel; a message is sent and received.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace pushd::test;
using pushd::WsClientHub;

namespace {

// A process started with `argv`, logging to a file in `dir`.
struct Daemon {
    ChildProcess child;
    std::string log;
    void start(const std::vector<std::string>& argv, const std::string& dir, const std::string& name) {
        std::string error;
        log = dir + "/" + name + ".log";
        if (!child.start(argv, {}, log, error)) FAIL(name << ": " << error);
    }
};

std::string next_of(WsClientHub& hub, int c, const std::string& type) {
    for (int i = 0; i < 25; i++) {
        auto m = hub.recv_text(c, 200);
        if (m && jfield(*m, "type") == type) return *m;
    }
    return "";
}

}  // namespace

TEST_CASE("Redis over TLS: pushd through a local stunnel to a TLS-only Redis", "[redis][tls]") {
    REQUIRE(!find_in_path("stunnel4").empty());  // make deps installs it
    TestCert cert;
    const std::string dir = make_temp_subdir("redis-tls");
    const uint16_t tls_port = free_port(), local_port = free_port();
    Daemon redis, stunnel;
    // TLS only (--port 0): a plain client is not served at all.
    redis.start({"redis-server", "--port", "0", "--tls-port", std::to_string(tls_port), "--bind", "127.0.0.1", "--save",
                 "", "--dir", dir, "--tls-cert-file", cert.cert, "--tls-key-file", cert.key, "--tls-ca-cert-file",
                 cert.cert, "--tls-auth-clients", "no"},
                dir, "redis");
    // The recipe's stunnel.conf: client mode, the server's certificate
    // verified (chain and name).
    write_file(dir + "/stunnel.conf",
               "foreground = yes\npid =\n[redis]\nclient = yes\naccept = 127.0.0.1:" + std::to_string(local_port) +
                   "\nconnect = 127.0.0.1:" + std::to_string(tls_port) + "\nverifyChain = yes\nCAfile = " + cert.cert +
                   "\ncheckHost = localhost\n");
    stunnel.start({"stunnel4", dir + "/stunnel.conf"}, dir, "stunnel");
    REQUIRE(wait_until([&] { return redis_command(local_port, {"PING"}, 500).text() == "PONG"; }, 10000, 50));

    PushdProcess p;
    REQUIRE(p.start(standard_options(local_port)));
    REQUIRE(wait_until([&] { return p.get("/health", 1000).status == 200; }, 10000, 50));
    WsClientHub hub;
    const int c = hub.connect(p.ws_options());
    REQUIRE(hub.wait_open(c, 5000));
    hub.send_text(c, R"({"type":"auth","message_id":"a","data":{"token":")" + user_token("alice") + R"("}})");
    REQUIRE(next_of(hub, c, "auth_success") != "");
    hub.send_text(c, R"({"type":"join_group","message_id":"j","data":{"group_id":"tls"}})");
    REQUIRE(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    hub.send_text(c,
                  R"({"type":"send_message","message_id":"m","data":{"group_id":"tls","msg_type":1,"content":"hi"}})");
    CHECK(jfield(next_of(hub, c, "ack"), "data.success") == "true");
    const std::string got = next_of(hub, c, "new_message");
    CHECK(jfield(got, "data.content") == "hi");
    // It went through TLS: the stored message is on the TLS-only server.
    CHECK(redis_command(local_port, {"XLEN", "pushd:group:tls"}).integer == 1);
}
