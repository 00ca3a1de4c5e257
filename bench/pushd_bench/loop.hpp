// The load generator's network engine: many client WebSocket connections
// on raw non-blocking sockets, one epoll loop, one thread.
//
// Why not src/client (libwebsockets): lws parses frames a byte at a time,
// which at several hundred thousand deliveries a second would make the
// generator the bottleneck. Here each connection's protocol is
// client/raw_ws_conn (the tests' raw client uses it too), whose codec hands
// whole unfragmented frames over straight from the read buffer.
//
// Model: a fixed table of connections created up front (stable indices, the
// epoll key). connect() starts a TCP connect and the HTTP upgrade; the events
// sink is told when a connection opens, when a text message arrives (with
// the time the read returned), and when it closes or fails. send_text()
// writes at once when the socket is writable and keeps the rest for EPOLLOUT.
// Server pings are answered with pongs. poll(0) never sleeps (the measured
// windows busy-poll: on one host a sleeping client's wake-ups are charged to
// the sending server's CPU); poll(ms) sleeps at most ms.
//
// Not thread-safe. Every loop is bounded: reads per event, events per poll.
#pragma once

#include "loop_stats.hpp"

#include "client/raw_ws_conn.hpp"

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pushd_bench {

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns();

enum class ConnState : uint8_t {
    idle,        // not started (or reset)
    connecting,  // TCP connect in progress
    handshake,   // upgrade request sent, waiting for the 101
    open,        // WebSocket open
    closed,      // was open; the server closed it or the socket failed
    failed,      // never opened (refused, unreachable, bad 101)
};

// One client connection. Fields after `app_*` belong to the caller.
struct Conn {
    int fd = -1;
    uint32_t index = 0;
    ConnState state = ConnState::idle;
    bool want_write = false;  // EPOLLOUT armed
    std::string out;          // bytes not yet written
    size_t out_off = 0;
    // The handshake, frames in and out; with permessage-deflate accepted,
    // one inflate stream per connection, as a browser keeps.
    pushd::RawWsConn ws{1 << 20};
    int close_code = 0;           // from the server's close frame, 0 if none
    int http_status = 0;          // of a refused upgrade
    const char* error = nullptr;  // static text, why it failed or closed

    bool priority = false;  // watched on the priority epoll (Loop::set_priority)

    // Caller's per-connection state.
    uint8_t app_phase = 0;
    uint32_t app_last_seq = 0;
    uint64_t app_received = 0;
};

// What the loop reports. Function pointers and a context, like ws::FrameSink.
struct Events {
    void* ctx = nullptr;
    void (*on_open)(void* ctx, Conn& c) = nullptr;
    // A whole text message; `rx_ns` is now_ns() taken when its read returned.
    void (*on_text)(void* ctx, Conn& c, std::string_view msg, uint64_t rx_ns) = nullptr;
    // The connection closed (state closed) or never opened (state failed).
    void (*on_down)(void* ctx, Conn& c) = nullptr;
    // Called between chunks of a poll's events, after the priority
    // connections were serviced (the publishers send from here). Optional.
    void (*between)(void* ctx) = nullptr;
};

class Loop {
public:
    /* A loop with room for `capacity` connections (indices 0..capacity-1). */
    explicit Loop(size_t capacity);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /* Creates the epoll instance and records the target: an IPv4 literal
     * host, a port and a path (with any query). Returns false with `err`
     * set on failure. */
    bool init(const std::string& host, uint16_t port, const std::string& path, std::string& err);

    /* Starts connection `index` (idle, closed or failed ones are reset).
     * Returns false when the socket could not even be created (then the
     * connection is failed and on_down was called). */
    bool connect(uint32_t index);

    /* Frames `payload` as one masked text frame and writes it (or queues
     * the rest for EPOLLOUT); compressed when the connection negotiated
     * permessage-deflate. Ignored unless the connection is open. */
    void send_text(Conn& c, std::string_view payload);

    /* Closes the socket without a close handshake; state becomes closed
     * (open) or failed (not yet open). Does not call on_down. */
    void drop(Conn& c, const char* why);

    /* Connection `index` (not yet started) is serviced before the others
     * and again after every kPriorityEvery events of a poll: a publisher
     * answers its acks at once instead of after a pass over every
     * subscriber's socket, as a separate publishing process would. */
    void set_priority(uint32_t index);

    /* Closes every socket (no callbacks). */
    void drop_all();

    /* One epoll_wait with `timeout_ms` (0: never sleeps) and handling of
     * what it returned. Returns the number of events handled. */
    int poll(int timeout_ms);

    Conn& conn(uint32_t index) { return conns_[index]; }
    const Conn& conn(uint32_t index) const { return conns_[index]; }
    size_t capacity() const { return conns_.size(); }
    const LoopStats& stats() const { return stats_; }
    void set_events(const Events& ev) { events_ = ev; }
    /* Offer permessage-deflate in every upgrade from now on (default off). */
    void set_offer_deflate(bool on) { offer_deflate_ = on; }

private:
    // What a read during the handshake leaves to do.
    enum class ReadStep { next_read, frames, stop };

    void on_event(Conn& c, uint32_t events);
    // Services the priority connections without waiting, then `between`.
    void service_priority();
    int ep_of(const Conn& c) const { return c.priority ? ep_prio_ : ep_; }
    void on_readable(Conn& c);
    ReadStep on_handshake_bytes(Conn& c, std::string_view& data);
    bool on_frame_bytes(Conn& c, std::string_view data, uint64_t rx);
    void on_connected(Conn& c);
    void flush(Conn& c);
    void set_write_interest(Conn& c, bool on);
    void fail(Conn& c, const char* why);
    uint32_t next_mask();

    std::vector<Conn> conns_;
    int ep_ = -1;
    int ep_prio_ = -1;  // the priority connections; itself watched by ep_
    sockaddr_in addr_{};
    std::string host_header_;
    std::string path_;
    bool offer_deflate_ = false;
    Events events_;
    LoopStats stats_;
    uint64_t rng_ = 0;
    std::vector<uint8_t> rbuf_;
};

}  // namespace pushd_bench
