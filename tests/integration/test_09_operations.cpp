// Running under systemd and operators' tools: watchdog notifications to a
// fake NOTIFY_SOCKET, the HTTP/1.1 status line of refused handshakes,
// pushctl's exit 2 for a bad -f on every command and --json, journal
// priorities and JSON logs, two ReusePort instances on one port.
#include "client/requests.hpp"
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <csignal>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <string>
#include <vector>

using namespace pushd::test;
namespace requests = pushd::requests;

namespace {

// A unix datagram socket standing in for systemd's notification socket:
// pushd's sd_notify writes "READY=1", "WATCHDOG=1", ... datagrams to it.
class FakeNotifySocket {
public:
    FakeNotifySocket() {
        path_ = unique_temp_path("notify", ".sock");
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
        ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~FakeNotifySocket() {
        if (fd_ >= 0) ::close(fd_);
        ::unlink(path_.c_str());
    }
    bool ok() const { return ok_; }
    const std::string& path() const { return path_; }
    // Every datagram received within `ms`, one string each.
    std::vector<std::string> receive_for(int ms) {
        std::vector<std::string> got;
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[1024];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) got.emplace_back(buf, static_cast<size_t>(n));
        }
        return got;
    }

private:
    std::string path_;
    int fd_ = -1;
    bool ok_ = false;
};

size_t count_containing(const std::vector<std::string>& v, const std::string& needle) {
    size_t n = 0;
    for (const std::string& s : v) n += s.find(needle) != std::string::npos;
    return n;
}

// Sends `request` to 127.0.0.1:`port` and returns what comes back until the
// peer closes or 3 s pass.
std::string raw_request(uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
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

std::string upgrade_request(const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

}  // namespace

TEST_CASE("WATCHDOG=1 reaches NOTIFY_SOCKET at half of WATCHDOG_USEC, and only when asked", "[ops][systemd]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    FakeNotifySocket notify;
    REQUIRE(notify.ok());

    SECTION("WATCHDOG_USEC=200000: READY=1, then a ping every 100 ms") {
        PushdOptions o = standard_options(redis.port());
        o.env = {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}};
        PushdProcess pushd;
        REQUIRE(pushd.start(o));
        std::vector<std::string> got = notify.receive_for(1000);
        CHECK(count_containing(got, "READY=1") == 1);
        // 1 s at one ping per 100 ms: about 10; at least 5 leaves room for a slow machine.
        CHECK(count_containing(got, "WATCHDOG=1") >= 5);
    }
    SECTION("no WATCHDOG_USEC: READY=1 and no pings") {
        PushdOptions o = standard_options(redis.port());
        o.env = {{"NOTIFY_SOCKET", notify.path()}};
        PushdProcess pushd;
        REQUIRE(pushd.start(o));
        std::vector<std::string> got = notify.receive_for(600);
        CHECK(count_containing(got, "READY=1") == 1);
        CHECK(count_containing(got, "WATCHDOG=1") == 0);
    }
}

TEST_CASE("a refused handshake is answered with an HTTP/1.1 status line", "[ops][http]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(redis.port())));
    // (No token at all is no refusal: the client may send auth as a message.)
    std::string bad_token = raw_request(pushd.port(), upgrade_request("/ws?token=nope"));
    CHECK(bad_token.rfind("HTTP/1.1 401 Unauthorized\r\n", 0) == 0);
    std::string wrong_path = raw_request(pushd.port(), upgrade_request("/elsewhere?token=x"));
    CHECK(wrong_path.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
}

TEST_CASE("pushctl: a missing, unreadable or invalid -f file is exit 2 for every command", "[ops][pushctl]") {
    const std::string missing = unique_temp_path("missing", ".yaml");
    const std::string invalid = unique_temp_path("invalid", ".yaml");
    REQUIRE(write_file(invalid, "Port: [oops\n"));
    // Unreadable: the tests run as root, for whom modes do not stop a read;
    // a directory cannot be read as a file by anyone.
    const std::string unreadable = make_temp_subdir("unreadable");
    // The server named explicitly: health and stats need nothing from -f.
    const std::string server = "http://127.0.0.1:" + std::to_string(free_port());
    const std::vector<std::vector<std::string>> commands = {
        {"--server", server, "health"}, {"--server", server, "stats"},       {"token", "--user", "u1"},
        {"group", "members", "g1"},     {"notify", "--all", "--title", "t"},
    };
    for (const std::string& file : {missing, invalid, unreadable}) {
        for (const auto& cmd : commands) {
            std::vector<std::string> args = {"-f", file};
            args.insert(args.end(), cmd.begin(), cmd.end());
            INFO(file << " " << cmd.back());
            RunResult r = run_pushctl(args);
            CHECK(r.exit.exit_code == 2);
            CHECK(r.output.find(file) != std::string::npos);  // the one line names the file
        }
    }
}

TEST_CASE("pushctl --json on every command that prints a result", "[ops][pushctl]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    PushdOptions o = standard_options(redis.port());
    REQUIRE(pushd.start(o));
    REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    const std::string file = unique_temp_path("pushctl", ".yaml");
    REQUIRE(write_file(file, o.config_yaml));
    const std::string server = "http://127.0.0.1:" + std::to_string(pushd.port());
    auto run = [&](std::vector<std::string> cmd) {
        std::vector<std::string> args = {"-f", file, "--server", server};
        args.insert(args.end(), cmd.begin(), cmd.end());
        RunResult r = run_pushctl(args);
        INFO(r.output);
        CHECK(r.exit.ok());
        return r.output;
    };
    std::string health = run({"health", "--json"});
    CHECK(jfield(health, "healthy") == "true");
    CHECK(jfield(health, "http_status") == "200");
    CHECK(jfield(health, "message") == "OK");

    std::string token = run({"token", "--user", "u7", "--ttl", "60", "--json"});
    CHECK(jfield(token, "user_id") == "u7");
    const std::string jwt = jfield(token, "token");
    CHECK(std::count(jwt.begin(), jwt.end(), '.') == 2);
    CHECK(std::stoll(jfield(token, "expires_at")) >= unix_s() + 55);

    std::string notified = run({"notify", "--all", "--title", "hi", "--json"});
    CHECK(jfield(notified, "notification_id").find('-') != std::string::npos);  // a stream id

    run({"group", "add", "g1", "u2", "u1"});
    std::string members = run({"group", "members", "g1", "--json"});
    CHECK(members == "{\"group_id\":\"g1\",\"members\":[\"u1\",\"u2\"]}\n");

    CHECK(run({"stats", "--json"}).rfind("{\"online_users\":0,", 0) == 0);
}

namespace {

// "dev:ino" of `path`, as systemd puts it in JOURNAL_STREAM for the stream
// it connects to a unit's stdout and stderr.
std::string dev_ino(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "";
    return std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" +
           std::to_string(static_cast<unsigned long long>(st.st_ino));
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        out.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("under the journal each log line starts with its syslog priority", "[ops][log]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    // The log file exists before pushd starts (opened for append), so its
    // inode can be named in JOURNAL_STREAM as systemd would name the stream.
    const std::string log_file = pushd.dir() + "/pushd.log";
    REQUIRE(write_file(log_file, ""));

    SECTION("JOURNAL_STREAM names stderr: <7> debug, <6> info, <4> warning, <3> error") {
        PushdOptions o = standard_options(redis.port(), {{"Log.Level", "debug"}});
        // WATCHDOG_USEC makes pushd log a debug line about the watchdog.
        o.env = {{"JOURNAL_STREAM", dev_ino(log_file)}, {"WATCHDOG_USEC", "10000000"}};
        REQUIRE(pushd.start(o));
        CHECK(pushd.wait_log("<6>info pushd " PUSHD_VERSION " listening on", 5000));
        CHECK(pushd.wait_log("<7>debug systemd watchdog: WATCHDOG=1 every 5000 ms", 5000));
        // A reload that changes Name warns; one of a broken file is an error.
        size_t mark = pushd.log_mark();
        REQUIRE(
            pushd.rewrite_config(standard_config(o.port, redis.port(), {{"Name", "other"}, {"Log.Level", "debug"}})));
        REQUIRE(pushd.signal(SIGHUP));
        CHECK(pushd.wait_log("<4>warn reload: Name changed", 5000, mark));
        mark = pushd.log_mark();
        REQUIRE(pushd.rewrite_config("Port: [oops\n"));
        REQUIRE(pushd.signal(SIGHUP));
        CHECK(pushd.wait_log("<3>error reload refused", 5000, mark));
        for (const std::string& line : lines_of(pushd.log())) {
            INFO(line);
            CHECK((line.rfind("<3>", 0) == 0 || line.rfind("<4>", 0) == 0 || line.rfind("<6>", 0) == 0 ||
                   line.rfind("<7>", 0) == 0));
        }
    }
    SECTION("a configuration error (ExecStartPre's pushd --check) is <3>") {
        PushdOptions o = standard_options(redis.port(), {{"Port", "70000"}});
        o.env = {{"JOURNAL_STREAM", dev_ino(log_file)}};
        o.wait_healthy = false;
        o.args = {"--check"};
        REQUIRE(pushd.start(o));
        CHECK(pushd.wait_exit(5000).exit_code == 2);
        CHECK(pushd.log().find("<3>pushd: ") != std::string::npos);
        CHECK(pushd.log().find("Port: 70000 is out of range 1..65535") != std::string::npos);
    }
    SECTION("JOURNAL_STREAM naming another stream: plain lines") {
        PushdOptions o = standard_options(redis.port());
        o.env = {{"JOURNAL_STREAM", "1:1"}};
        REQUIRE(pushd.start(o));
        CHECK(pushd.wait_log("info pushd " PUSHD_VERSION " listening on", 5000));
        CHECK(pushd.log().find("<6>") == std::string::npos);
    }
}

TEST_CASE("Log.Format json writes one {ts, level, msg} object a line", "[ops][log]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(redis.port(), {{"Log.Format", "json"}})));
    REQUIRE(pushd.wait_log("listening on", 5000));
    size_t mark = pushd.log_mark();
    REQUIRE(pushd.signal(SIGHUP));  // an info line with a known message
    REQUIRE(pushd.wait_log("reload: configuration applied", 5000, mark));
    std::vector<std::string> lines = lines_of(pushd.log());
    REQUIRE(lines.size() >= 2);
    bool saw_listening = false;
    for (const std::string& line : lines) {
        INFO(line);
        REQUIRE(jfield(line, "ts") != "<not json>");
        // RFC 3339 UTC with milliseconds: 2026-12-06T18:20:00.123Z
        std::string ts = jfield(line, "ts");
        CHECK(ts.size() == 24);
        CHECK(ts.back() == 'Z');
        CHECK((jfield(line, "level") == "info" || jfield(line, "level") == "warn"));
        if (jfield(line, "msg").rfind("pushd " PUSHD_VERSION " listening on 127.0.0.1:", 0) == 0) saw_listening = true;
    }
    CHECK(saw_listening);
    RunResult bad = run_pushd(standard_config(free_port(), redis.port(), {{"Log.Format", "xml"}}), {"--check"});
    CHECK(bad.exit.exit_code == 2);
    CHECK(bad.output.find("Log.Format: expected text or json, got 'xml'") != std::string::npos);
}

namespace {

// A connection to `port` authenticated as `user`; `tag` gets the instance's
// session-id prefix ("<tag>-<n>": which instance the kernel chose).
int login_on(pushd::WsClientHub& hub, const pushd::ConnectOptions& where, const std::string& user, std::string* tag) {
    int c = hub.connect(where);
    REQUIRE(hub.wait_open(c, 5000));
    REQUIRE(hub.send_text(c, requests::auth("a", user_token(user))));
    auto m = hub.recv_text(c, 5000);
    REQUIRE(m);
    REQUIRE(jfield(*m, "type") == "auth_success");
    const std::string sid = jfield(*m, "data.session_id");
    *tag = sid.substr(0, sid.find('-'));
    return c;
}

}  // namespace

TEST_CASE("ReusePort: two instances on one port serve as one", "[ops][reuseport]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    const uint16_t port = free_port();
    PushdOptions a = standard_options(redis.port(), {{"ReusePort", "true"}, {"Name", "inst-a"}});
    a.port = port;
    a.config_yaml = standard_config(port, redis.port(), {{"ReusePort", "true"}, {"Name", "inst-a"}});
    PushdOptions b = a;
    b.config_yaml = standard_config(port, redis.port(), {{"ReusePort", "true"}, {"Name", "inst-b"}});
    PushdProcess first, second;
    REQUIRE(first.start(a));
    REQUIRE(second.start(b));
    // Its health check may have been answered by the first: it must listen
    // and run (without SO_REUSEPORT it exits: "cannot listen ... in use").
    REQUIRE(second.wait_log("listening on", 10000));  // not before: the first answered its health check
    REQUIRE(second.running());

    // Both accept: new connections spread over both (the kernel hashes each
    // connection's addresses); 64 tries leave a chance of 2^-63 to miss one.
    pushd::WsClientHub hub;
    std::map<std::string, int> by_tag;  // instance tag -> one of its connections
    for (int i = 0; i < 64 && by_tag.size() < 2; i++) {
        std::string tag;
        int c = login_on(hub, first.ws_options(), "u" + std::to_string(i), &tag);
        if (!by_tag.count(tag)) by_tag[tag] = c;
    }
    REQUIRE(by_tag.size() == 2);
    const int on_one = by_tag.begin()->second;
    const int on_other = std::next(by_tag.begin())->second;

    // A message sent through one instance reaches a client on the other.
    for (int c : {on_one, on_other}) {
        REQUIRE(hub.send_text(c, requests::join_group("j", "g")));
        auto r = hub.recv_text(c, 5000);
        REQUIRE(r);
        REQUIRE(jfield(*r, "data.success") == "true");
    }
    REQUIRE(hub.send_text(on_one, requests::send_message("m1", "g", "across")));
    bool delivered = false;
    for (int i = 0; i < 5 && !delivered; i++) {
        auto m = hub.recv_text(on_other, 5000);
        if (!m) break;
        delivered = jfield(*m, "type") == "new_message" && jfield(*m, "data.content") == "across";
    }
    CHECK(delivered);

    // pushctl stats --cluster lists both.
    const std::string file = unique_temp_path("pushctl", ".yaml");
    REQUIRE(write_file(file, a.config_yaml));
    std::string names;
    CHECK(wait_until(
        [&] {
            RunResult r = run_pushctl({"-f", file, "stats", "--cluster", "--json"});
            names = r.output;
            return r.exit.ok() && r.output.find("\"name\":\"inst-a\"") != std::string::npos &&
                   r.output.find("\"name\":\"inst-b\"") != std::string::npos;
        },
        10000, 200));
    INFO(names);

    // Killing one leaves the other serving: every new connection lands there.
    REQUIRE(first.stop(SIGKILL).finished);
    for (int i = 0; i < 8; i++) {
        std::string tag;
        login_on(hub, second.ws_options(), "after" + std::to_string(i), &tag);
    }
    CHECK(second.get("/health").status == 200);
}
