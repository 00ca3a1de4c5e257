// The write path: batched sends through io_uring (io/send_batch) and the
// one-send-per-connection path (--no-io-uring) deliver the same bytes:
// every member every message, whole and in order, also when a reader stalls
// and the socket takes only part of a write.
#include "client/requests.hpp"
#include "harness.hpp"
#include "io/send_batch.hpp"
#include "raw_ws_client.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

using namespace pushd::test;
using pushd::WsClientHub;
namespace requests = pushd::requests;

namespace {

const ConfigOverrides kFlood = {
    {"Limits.MessagesPerSecond", "1000000"}, {"Limits.Burst", "10000000"}, {"Limits.MaxQueueBytes", "33554432"}};

std::string join(const std::string& group) { return requests::join_group("j", group); }

std::string send_msg(int i, const std::string& group, const std::string& content) {
    return requests::send_message("m" + std::to_string(i), group, content);
}

// One redis-server and one pushd started with `args` (e.g. --no-io-uring).
struct WriteInstance {
    RedisProcess redis;
    PushdProcess pushd;
    WsClientHub hub;
    explicit WriteInstance(const std::vector<std::string>& args) {
        REQUIRE(redis.start());
        PushdOptions o = standard_options(redis.port(), kFlood);
        o.args = args;
        REQUIRE(pushd.start(o));
        REQUIRE(wait_until([&] { return pushd.get("/health").status == 200; }, 10000, 20));
    }
    // A connection authenticated by ?token= and joined to `group`.
    int member(const std::string& user, const std::string& group) {
        int c = hub.connect(pushd.ws_options("?token=" + user_token(user)));
        REQUIRE(hub.wait_open(c, 5000));
        REQUIRE(hub.send_text(c, join(group)));
        for (;;) {  // auth_success (the handshake's token) comes first
            auto m = hub.recv_text(c, 5000);
            REQUIRE(m);
            if (jfield(*m, "type") != "ack") continue;
            REQUIRE(jfield(*m, "message_id") == "j");
            REQUIRE(jfield(*m, "data.success") == "true");
            return c;
        }
    }
    // True when this pushd batches its writes (its start-up log says which).
    bool batching() const { return pushd.log().find("writes: batched through io_uring") != std::string::npos; }
};

// Reads the new_message pushes waiting on `c`; checks they continue the
// sequence m<next>, m<next+1>, ... with content of `content_len` bytes.
void drain_in_order(WsClientHub& hub, int c, int& next, size_t content_len) {
    while (auto m = hub.recv_text(c, 0)) {
        if (jfield(*m, "type") != "new_message") continue;
        REQUIRE(jfield(*m, "data.client_message_id") == "m" + std::to_string(next));
        REQUIRE(jfield(*m, "data.content").size() == content_len);
        next++;
    }
}

// TCP_NODELAY on pushd's end of the connection whose client end is
// `client_fd`: found among pushd's descriptors (pidfd_getfd; pushd is this
// process's child) by its peer address. -1 when not found.
int server_nodelay(pid_t server, int client_fd) {
    sockaddr_in mine{};
    socklen_t len = sizeof mine;
    if (getsockname(client_fd, reinterpret_cast<sockaddr*>(&mine), &len) != 0) return -1;
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, server, 0));
    if (pidfd < 0) return -1;
    int result = -1;
    const std::string dir = "/proc/" + std::to_string(server) + "/fd";
    DIR* d = opendir(dir.c_str());
    while (d && result < 0) {
        dirent* e = readdir(d);
        if (!e) break;
        if (e->d_name[0] == '.') continue;
        const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, std::stoi(e->d_name), 0));
        if (fd < 0) continue;
        sockaddr_in peer{};
        socklen_t plen = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0 && peer.sin_family == AF_INET &&
            peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
            int on = 0;
            socklen_t olen = sizeof on;
            if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen) == 0) result = on ? 1 : 0;
        }
        close(fd);
    }
    if (d) closedir(d);
    close(pidfd);
    return result;
}

}  // namespace

// Nagle would hold each write while an earlier segment waits for the
// client's (delayed) ACK: up to 40 ms on every push after the first. lws
// disables it only on what its own listener accepts; pushd's listener
// must do the same.
TEST_CASE("accepted connections have Nagle off (TCP_NODELAY)", "[writes][nodelay]") {
    WriteInstance s({});
    RawWsClient c;
    REQUIRE(c.open(s.pushd.port(), "/ws", ""));
    CHECK(server_nodelay(s.pushd.pid(), c.fd()) == 1);
}

TEST_CASE("fan-out writes: every member gets every message in order, batched or one send each", "[writes]") {
    const bool no_uring = GENERATE(false, true);
    CAPTURE(no_uring);
    WriteInstance s(no_uring ? std::vector<std::string>{"--no-io-uring"} : std::vector<std::string>{});
    if (no_uring) {
        CHECK(s.pushd.log().find("one send per connection (--no-io-uring)") != std::string::npos);
    } else if (!s.batching()) {
        WARN("io_uring is not usable here, pushd said: " << s.pushd.log());
    }
    const int members = 40, messages = 30;
    std::vector<int> conns;
    for (int i = 0; i < members; i++) conns.push_back(s.member("u" + std::to_string(i), "g"));
    int sender = conns[0];
    for (int i = 0; i < messages; i++) REQUIRE(s.hub.send_text(sender, send_msg(i, "g", "hello " + std::to_string(i))));
    std::vector<int> next(members, 0);
    REQUIRE(s.hub.wait_for(
        [&] {
            for (int i = 0; i < members; i++) {
                while (auto m = s.hub.recv_text(conns[i], 0)) {
                    if (jfield(*m, "type") != "new_message") continue;
                    REQUIRE(jfield(*m, "data.client_message_id") == "m" + std::to_string(next[i]));
                    REQUIRE(jfield(*m, "data.content") == "hello " + std::to_string(next[i]));
                    next[i]++;
                }
            }
            for (int n : next)
                if (n < messages) return false;
            return true;
        },
        15000));
    const double batched = s.pushd.metric("pushd_batched_sends_total");
    const double submits = s.pushd.metric("pushd_send_submits_total");
    if (s.batching()) {
        // At least one send per member went through the ring, and the ring
        // carried several sends per system call.
        CHECK(batched >= members);
        CHECK(submits >= 1);
        CHECK(submits < batched);
    } else {
        CHECK(batched == 0);
        CHECK(submits == 0);
    }
}

TEST_CASE("a reader that stalls gets every message whole and in order once it reads again", "[writes]") {
    const bool no_uring = GENERATE(false, true);
    CAPTURE(no_uring);
    WriteInstance s(no_uring ? std::vector<std::string>{"--no-io-uring"} : std::vector<std::string>{});
    int stalled = s.member("stalled", "g");
    int reader = s.member("reader", "g");
    int sender = s.member("sender", "other");
    s.hub.pause_reading(stalled, true);
    // 6 MB: far past what the kernel buffers for the stalled one, so its
    // writes end part-way through frames and wait for POLLOUT; under
    // Limits.MaxQueueBytes (32 MiB), so it is not closed.
    const std::string content(20000, 'p');
    const int n = 300;
    int got_reader = 0, got_stalled = 0;
    for (int i = 0; i < n; i++) {
        REQUIRE(s.hub.send_text(sender, send_msg(i, "g", content)));
        drain_in_order(s.hub, reader, got_reader, content.size());
        while (s.hub.recv_text(sender, 0)) {}
    }
    REQUIRE(s.hub.wait_for(
        [&] {
            drain_in_order(s.hub, reader, got_reader, content.size());
            while (s.hub.recv_text(sender, 0)) {}
            return got_reader == n;
        },
        30000));
    // The stalled connection's output waits in pushd (and in lws for a
    // partly sent frame), not lost.
    CHECK(s.pushd.metric("pushd_queued_bytes") > 0);
    s.hub.pause_reading(stalled, false);
    REQUIRE(s.hub.wait_for(
        [&] {
            drain_in_order(s.hub, stalled, got_stalled, content.size());
            return got_stalled == n;
        },
        30000));
    CHECK(s.hub.is_open(stalled));
    CHECK(s.pushd.metric("pushd_slow_consumer_closes_total") == 0);
}

TEST_CASE("SendBatch: results per send, partial and refused sends, a full batch", "[writes][send_batch]") {
    std::string why;
    auto batch = pushd::SendBatch::open(4, &why);
    if (!batch) {
        WARN("io_uring is not usable here, so pushd writes one send per connection: " << why);
        return;
    }
    int a[2], b[2], c[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c) == 0);
    // b's sending side is full: its send must come back -EAGAIN at once.
    std::string chunk(65536, 'f');
    for (int i = 0; i < 1000 && send(b[0], chunk.data(), chunk.size(), MSG_DONTWAIT) > 0; i++) {}
    // c's takes part of a large buffer.
    const std::string large(8 * 1024 * 1024, 'L');
    int closed_fd = dup(a[0]);
    close(closed_fd);

    const std::string first = "first", second = "second";
    CHECK(batch->add(a[0], first.data(), first.size(), 10));
    CHECK(batch->add(b[0], "x", 1, 11));
    CHECK(batch->add(c[0], large.data(), large.size(), 12));
    CHECK(batch->add(closed_fd, "y", 1, 13));
    CHECK(batch->full());
    CHECK_FALSE(batch->add(a[0], second.data(), second.size(), 14));  // bounded: refused, not queued
    struct Result {
        uint32_t tag;
        int res;
    };
    std::vector<Result> results;
    REQUIRE(batch->submit(
        [](void* ctx, uint32_t tag, int res) {
            static_cast<std::vector<Result>*>(ctx)->push_back({tag, res});
        },
        &results));
    REQUIRE(results.size() == 4);
    CHECK(batch->size() == 0);
    for (const Result& r : results) {
        CAPTURE(r.tag, r.res);
        if (r.tag == 10)
            CHECK(r.res == static_cast<int>(first.size()));
        else if (r.tag == 11)
            CHECK(r.res == -EAGAIN);
        else if (r.tag == 12)
            CHECK((r.res > 0 && r.res < static_cast<int>(large.size())));
        else if (r.tag == 13)
            CHECK(r.res == -EBADF);
        else
            FAIL("unexpected tag");
    }
    // The batch is reusable; a second send on one socket follows the first.
    CHECK(batch->add(a[0], second.data(), second.size(), 20));
    results.clear();
    REQUIRE(batch->submit(
        [](void* ctx, uint32_t tag, int res) {
            static_cast<std::vector<Result>*>(ctx)->push_back({tag, res});
        },
        &results));
    REQUIRE(results.size() == 1);
    CHECK(results[0].res == static_cast<int>(second.size()));
    char buf[64] = {};
    ssize_t got = recv(a[1], buf, sizeof buf, 0);
    CHECK(std::string(buf, got > 0 ? static_cast<size_t>(got) : 0) == "firstsecond");
    for (int fd : {a[0], a[1], b[0], b[1], c[0], c[1]}) close(fd);
}
