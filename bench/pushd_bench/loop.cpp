// pushd-bench's network engine (see loop.hpp).
#include "loop.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace pushd_bench {
namespace {

constexpr size_t kReadBuffer = 256 * 1024;
constexpr int kMaxEvents = 1024;
// Reads per readable event before moving on (level-triggered: the rest
// comes back on the next poll).
constexpr int kReadsPerEvent = 4;
// Events handled between two visits to the priority connections.
constexpr int kPriorityEvery = 64;
// ep_'s key for ep_prio_ itself.
constexpr uint32_t kPriorityKey = UINT32_MAX;

// Context for one feed(): the callbacks need the loop's counters and the conn.
struct FeedCtx {
    Conn* conn;
    const Events* events;
    LoopStats* stats;
    uint64_t rx_ns;
    std::string* pongs;  // control replies to write after the feed
    uint32_t mask;
};

void sink_message(void* p, pushd::ws::Opcode op, std::string_view text, bool compressed) {
    auto* f = static_cast<FeedCtx*>(p);
    if (op != pushd::ws::Opcode::text) return;
    if (compressed) f->stats->compressed_in++;
    f->stats->messages_in++;
    if (f->events->on_text) f->events->on_text(f->events->ctx, *f->conn, text, f->rx_ns);
}

void sink_ping(void* p, std::string_view payload) {
    auto* f = static_cast<FeedCtx*>(p);
    f->stats->pings++;
    pushd::ws::append_client_frame(*f->pongs, pushd::ws::Opcode::pong, payload, f->mask);
}

}  // namespace

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Loop::Loop(size_t capacity) : conns_(capacity), rbuf_(kReadBuffer) {
    for (size_t i = 0; i < conns_.size(); ++i) conns_[i].index = static_cast<uint32_t>(i);
    rng_ = now_ns() ^ (static_cast<uint64_t>(getpid()) << 32) ^ 0x9E3779B97F4A7C15ull;
}

Loop::~Loop() {
    drop_all();
    if (ep_prio_ >= 0) ::close(ep_prio_);
    if (ep_ >= 0) ::close(ep_);
}

bool Loop::init(const std::string& host, uint16_t port, const std::string& path, std::string& err) {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &addr_.sin_addr) != 1) {
        err = "host '" + host + "' is not an IPv4 address";
        return false;
    }
    host_header_ = host + ":" + std::to_string(port);
    path_ = path;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    ep_prio_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kPriorityKey;
    if (ep_ < 0 || ep_prio_ < 0 || epoll_ctl(ep_, EPOLL_CTL_ADD, ep_prio_, &ev) < 0) {
        err = std::string("epoll: ") + std::strerror(errno);
        return false;
    }
    return true;
}

void Loop::set_priority(uint32_t index) { conns_[index].priority = true; }

uint32_t Loop::next_mask() {
    // xorshift64*: masks only need to be unpredictable-looking, not secret.
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return static_cast<uint32_t>((rng_ * 0x2545F4914F6CDD1Dull) >> 32);
}

bool Loop::connect(uint32_t index) {
    Conn& c = conns_[index];
    if (c.fd >= 0) drop(c, "reconnect");
    c.out.clear();
    c.out_off = 0;
    c.close_code = 0;
    c.http_status = 0;
    c.error = nullptr;
    c.want_write = false;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        fail(c, errno == EMFILE || errno == ENFILE ? "socket: too many open files" : "socket failed");
        return false;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
    if (r < 0 && errno != EINPROGRESS) {
        fail(c, errno == EADDRNOTAVAIL ? "connect: no free local port" : "connect refused");
        return false;
    }
    c.state = ConnState::connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = index;
    if (epoll_ctl(ep_of(c), EPOLL_CTL_ADD, c.fd, &ev) < 0) {
        fail(c, "epoll_ctl failed");
        return false;
    }
    c.want_write = true;
    if (r == 0) on_connected(c);
    return true;
}

void Loop::on_connected(Conn& c) {
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
        fail(c, "connect failed");
        return;
    }
    uint8_t nonce[16];
    for (int i = 0; i < 4; ++i) {
        uint32_t m = next_mask();
        std::memcpy(nonce + 4 * i, &m, 4);
    }
    c.out = c.ws.begin(host_header_, path_, std::string_view(reinterpret_cast<char*>(nonce), 16),
                       offer_deflate_ ? "permessage-deflate; client_max_window_bits" : "");
    c.out_off = 0;
    c.state = ConnState::handshake;
    flush(c);
}

void Loop::set_write_interest(Conn& c, bool on) {
    if (c.want_write == on || c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = c.index;
    epoll_ctl(ep_of(c), EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = on;
}

void Loop::flush(Conn& c) {
    // Bounded: each pass either writes bytes or stops.
    for (int i = 0; i < 64 && c.out_off < c.out.size(); ++i) {
        ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        stats_.writes++;
        if (n > 0) {
            c.out_off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        fail(c, "send failed");
        return;
    }
    if (c.out_off >= c.out.size()) {
        c.out.clear();
        c.out_off = 0;
        set_write_interest(c, false);
    } else {
        set_write_interest(c, true);
    }
}

void Loop::send_text(Conn& c, std::string_view payload) {
    if (c.state != ConnState::open) return;
    // As browsers do once permessage-deflate is on: every message
    // compressed (so the server's inflate state is measured too); plain
    // when deflating fails.
    const uint32_t mask = next_mask();
    if (!c.ws.append_text(c.out, payload, mask, true)) c.ws.append_text(c.out, payload, mask, false);
    if (!c.want_write) flush(c);
}

void Loop::drop(Conn& c, const char* why) {
    if (c.fd >= 0) {
        epoll_ctl(ep_of(c), EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.fd = -1;
    }
    if (c.state == ConnState::open) {
        c.state = ConnState::closed;
    } else if (c.state != ConnState::closed) {
        c.state = ConnState::failed;
    }
    if (!c.error) c.error = why;
    c.want_write = false;
    c.out.clear();
    c.out.shrink_to_fit();
    c.out_off = 0;
    c.ws.release_handshake();
}

void Loop::drop_all() {
    for (Conn& c : conns_)
        if (c.fd >= 0) drop(c, "dropped");
}

void Loop::fail(Conn& c, const char* why) {
    if (!c.error) c.error = why;
    drop(c, why);
    if (events_.on_down) events_.on_down(events_.ctx, c);
}

// The upgrade answer's bytes in `data`: on a complete 101 the connection
// opens and `data` becomes the frames that followed it in the same read
// (copied to the read buffer's start).
Loop::ReadStep Loop::on_handshake_bytes(Conn& c, std::string_view& data) {
    std::string rest;
    const pushd::ws::UpgradeCheck chk = c.ws.on_upgrade_bytes(data, rest);
    if (chk.status == pushd::ws::UpgradeStatus::incomplete) return ReadStep::next_read;
    if (chk.status != pushd::ws::UpgradeStatus::ok) {
        c.http_status = chk.http_status;
        fail(c, chk.status == pushd::ws::UpgradeStatus::refused ? "upgrade refused" : "bad upgrade response");
        return ReadStep::stop;
    }
    c.state = ConnState::open;
    if (events_.on_open) events_.on_open(events_.ctx, c);
    if (c.state != ConnState::open) return ReadStep::stop;
    if (rest.empty()) return ReadStep::next_read;
    std::memcpy(rbuf_.data(), rest.data(), rest.size());
    data = std::string_view(reinterpret_cast<const char*>(rbuf_.data()), rest.size());
    return ReadStep::frames;
}

// Frames of an open connection, read at `rx`: messages to on_text, pings
// answered. False when the connection was dropped.
bool Loop::on_frame_bytes(Conn& c, std::string_view data, uint64_t rx) {
    std::string pongs;
    FeedCtx fc{&c, &events_, &stats_, rx, &pongs, next_mask()};
    pushd::RawWsSink sink;
    sink.ctx = &fc;
    sink.on_message = sink_message;
    sink.on_ping = sink_ping;
    const pushd::ws::FeedStatus st = c.ws.feed(data, sink);
    if (st == pushd::ws::FeedStatus::closed) {
        c.close_code = c.ws.close_code();
        fail(c, "closed by server");
        return false;
    }
    if (st == pushd::ws::FeedStatus::error) {
        fail(c, c.ws.error_text());
        return false;
    }
    if (c.state != ConnState::open) return false;  // a callback dropped it
    if (!pongs.empty()) {
        c.out.append(pongs);
        if (!c.want_write) flush(c);
    }
    return true;
}

void Loop::on_readable(Conn& c) {
    for (int i = 0; i < kReadsPerEvent && c.fd >= 0; ++i) {
        ssize_t n = ::recv(c.fd, rbuf_.data(), rbuf_.size(), 0);
        if (n == 0) {
            fail(c, c.close_code ? "closed by server" : "connection reset (EOF)");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            fail(c, "recv failed");
            return;
        }
        const uint64_t rx = now_ns();
        stats_.reads++;
        stats_.bytes_in += static_cast<uint64_t>(n);
        std::string_view data(reinterpret_cast<const char*>(rbuf_.data()), static_cast<size_t>(n));
        if (c.state == ConnState::handshake) {
            const ReadStep step = on_handshake_bytes(c, data);
            if (step == ReadStep::next_read) continue;
            if (step == ReadStep::stop) return;
        } else if (c.state != ConnState::open) {
            return;
        }
        if (!on_frame_bytes(c, data, rx)) return;
        if (static_cast<size_t>(n) < rbuf_.size()) return;  // drained, most likely
    }
}

void Loop::on_event(Conn& c, uint32_t events) {
    if (c.fd < 0) return;
    if (c.state == ConnState::connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    if (c.fd >= 0 && (events & EPOLLOUT)) flush(c);
}

void Loop::service_priority() {
    epoll_event evs[64];
    const int n = epoll_wait(ep_prio_, evs, 64, 0);
    for (int i = 0; i < n; ++i) {
        uint32_t idx = evs[i].data.u32;
        if (idx < conns_.size()) on_event(conns_[idx], evs[i].events);
    }
    if (events_.between) events_.between(events_.ctx);
}

int Loop::poll(int timeout_ms) {
    epoll_event evs[kMaxEvents];
    int n = epoll_wait(ep_, evs, kMaxEvents, timeout_ms);
    stats_.polls++;
    if (n <= 0) return 0;
    const uint64_t t0 = now_ns();
    for (int i = 0; i < n; ++i) {
        if (i % kPriorityEvery == kPriorityEvery - 1) service_priority();
        uint32_t idx = evs[i].data.u32;
        if (idx == kPriorityKey) {
            service_priority();
        } else if (idx < conns_.size()) {
            on_event(conns_[idx], evs[i].events);
        }
    }
    stats_.busy_polls++;
    stats_.busy_ns += now_ns() - t0;
    return n;
}

}  // namespace pushd_bench
