// deploy/nginx/pushd.conf as shipped (ports rewritten) with a real nginx in
// front of two pushd instances: WebSocket upgrades through it,
// X-Forwarded-For believed from Security.TrustedProxies, and an instance
// stopped while its clients reconnect through nginx to the other one
// without losing a message.
#include "client/requests.hpp"
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <csignal>
#include <string>
#include <vector>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// nginx with the shipped pushd.conf, upstreams rewritten to two instances'
// ports, listening on 127.0.0.1:port. Runs in the foreground of its own
// directory; stopped by PID (the harness child) at the end.
struct Nginx {
    ChildProcess child;
    std::string dir = make_temp_subdir("nginx");
    uint16_t port = free_port();
    bool start(uint16_t upstream_a, uint16_t upstream_b) {
        std::string site = read_file(std::string(source_dir()) + "/deploy/nginx/pushd.conf");
        if (site.find("127.0.0.1:8889") == std::string::npos || site.find("127.0.0.1:8890") == std::string::npos ||
            site.find("listen 80;") == std::string::npos)
            return false;
        site = replace_all(site, "127.0.0.1:8889", "127.0.0.1:" + std::to_string(upstream_a));
        site = replace_all(site, "127.0.0.1:8890", "127.0.0.1:" + std::to_string(upstream_b));
        site = replace_all(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(port) + ";");
        const std::string conf =
            // One process (no workers): stopping it by PID stops all of nginx.
            "daemon off;\nmaster_process off;\npid " + dir + "/nginx.pid;\nerror_log " + dir +
            "/error.log info;\n"
            "events { worker_connections 256; }\n"
            "http {\n  access_log off;\n"
            "  client_body_temp_path " +
            dir + "/body;\n  proxy_temp_path " + dir +
            "/proxy;\n"
            "  fastcgi_temp_path " +
            dir + "/fastcgi;\n  uwsgi_temp_path " + dir +
            "/uwsgi;\n"
            "  scgi_temp_path " +
            dir +
            "/scgi;\n"
            "  include " +
            dir + "/pushd.conf;\n}\n";
        if (!write_file(dir + "/pushd.conf", site) || !write_file(dir + "/nginx.conf", conf)) return false;
        std::string error;
        if (!child.start({kNginx, "-e", dir + "/error.log", "-p", dir, "-c", dir + "/nginx.conf"}, {}, dir + "/out.log",
                         error))
            return false;
        return wait_until([&] { return pushd::http_get("127.0.0.1", port, "/health", 1000).status == 200; }, 10000, 50);
    }
    std::string log() const { return read_file(dir + "/out.log") + read_file(dir + "/error.log"); }
    ~Nginx() { child.stop(SIGTERM, 5000); }
};

// The two instances behind nginx: loopback only, nginx trusted, 127.0.0.2
// blacklisted (to see which address pushd believes).
struct Backends {
    RedisProcess redis;
    PushdProcess a, b;
    std::string pushctl_config;
    Backends() {
        REQUIRE(redis.start());
        const ConfigOverrides common = {{"Host", "127.0.0.1"},
                                        {"Security.TrustedProxies", "[\"127.0.0.1\"]"},
                                        {"Security.IpBlacklist", "[\"127.0.0.2\"]"}};
        ConfigOverrides oa = common, ob = common;
        oa.push_back({"Name", "behind-a"});
        ob.push_back({"Name", "behind-b"});
        PushdOptions pa = standard_options(redis.port(), oa);
        REQUIRE(a.start(pa));
        REQUIRE(b.start(standard_options(redis.port(), ob)));
        for (PushdProcess* p : {&a, &b})
            REQUIRE(wait_until([&] { return p->get("/health").status == 200; }, 10000, 20));
        pushctl_config = unique_temp_path("pushctl", ".yaml");
        REQUIRE(write_file(pushctl_config, pa.config_yaml));
    }
    // Publishes `content` to `group` through Redis; returns its message_id.
    std::string publish(const std::string& group, const std::string& content) {
        RunResult r =
            run_pushctl({"-f", pushctl_config, "publish", "--group", group, "--from", "svc", "--json", content});
        REQUIRE(r.exit.ok());
        return jfield(r.output, "message_id");
    }
};

pushd::ConnectOptions via(const Nginx& nginx, const std::string& user, const std::string& local = "") {
    pushd::ConnectOptions o;
    o.port = nginx.port;
    o.path = "/ws?token=" + user_token(user);
    o.local_address = local;
    return o;
}

std::string next(WsClientHub& hub, int c) {
    auto m = hub.recv_text(c, 5000);
    REQUIRE(m);
    return *m;
}

}  // namespace

TEST_CASE("nginx in front of two instances: upgrade, X-Forwarded-For, failover without loss", "[nginx]") {
    REQUIRE(access(kNginx, X_OK) == 0);  // make deps installs nginx-light
    Backends backends;
    Nginx nginx;
    REQUIRE(nginx.start(backends.a.port(), backends.b.port()));
    INFO(nginx.log());
    WsClientHub hub;

    SECTION("the WebSocket upgrade passes through, and pushd sees the client behind nginx") {
        int c = hub.connect(via(nginx, "alice"));
        REQUIRE(hub.wait_open(c, 5000));
        CHECK(jfield(next(hub, c), "type") == "auth_success");
        // 127.0.0.2 is blacklisted: refused although the peer pushd sees is nginx.
        int banned = hub.connect(via(nginx, "bob", "127.0.0.2"));
        CHECK_FALSE(hub.wait_open(banned, 3000));
        CHECK(hub.handshake_status(banned) == 403);
        int other = hub.connect(via(nginx, "carol", "127.0.0.3"));
        CHECK(hub.wait_open(other, 5000));
    }

    SECTION("an instance stops: its client reconnects through nginx to the other, nothing lost") {
        int c = hub.connect(via(nginx, "alice"));
        REQUIRE(hub.wait_open(c, 5000));
        REQUIRE(jfield(next(hub, c), "type") == "auth_success");
        REQUIRE(hub.send_text(c, requests::join_group("j1", "room")));
        REQUIRE(jfield(next(hub, c), "data.success") == "true");
        const std::string first = backends.publish("room", "before");
        std::string m = next(hub, c);
        REQUIRE(jfield(m, "data.content") == "before");

        // Which instance holds it: the one whose /stats counts a connection.
        PushdProcess* holder = nullptr;
        REQUIRE(wait_until(
            [&] {
                for (PushdProcess* p : {&backends.a, &backends.b})
                    if (jfield(p->get("/stats").body, "connections") == "1") holder = p;
                return holder != nullptr;
            },
            5000, 50));
        PushdProcess* survivor = holder == &backends.a ? &backends.b : &backends.a;
        REQUIRE(holder->stop(SIGTERM).ok());
        REQUIRE(hub.wait_closed(c, 5000));
        // Messages sent while the client is away.
        backends.publish("room", "gap 1");
        backends.publish("room", "gap 2");

        int again = hub.connect(via(nginx, "alice"));
        REQUIRE(hub.wait_open(again, 5000));
        REQUIRE(jfield(next(hub, again), "type") == "auth_success");
        CHECK(jfield(survivor->get("/stats").body, "connections") == "1");
        REQUIRE(hub.send_text(again, requests::join_group("j2", "room", first)));
        std::vector<std::string> contents;
        bool acked = false;
        while (contents.size() < 2 || !acked) {
            std::string r = next(hub, again);
            if (jfield(r, "type") == "ack") {
                CHECK(jfield(r, "data.success") == "true");
                acked = true;
            } else if (jfield(r, "type") == "new_message") {
                contents.push_back(jfield(r, "data.content"));
            }
        }
        backends.publish("room", "after");
        contents.push_back(jfield(next(hub, again), "data.content"));
        CHECK(contents == std::vector<std::string>{"gap 1", "gap 2", "after"});
    }
}
