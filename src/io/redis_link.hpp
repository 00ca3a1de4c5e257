// One hiredis async connection to Redis on the instance's libuv loop, kept
// alive: AUTH (Redis.Pass) and SELECT (Redis.DB) on connect, reconnect with
// capped exponential backoff and jitter, a bound on the time a connect
// attempt and a command may take, a bound on commands in flight.
//
// States: down (initially, "connecting") and up. A link is up once its
// handshake (AUTH, SELECT, PING) is answered; it goes down when the
// connection drops, a reply does not come within its timeout (a hung
// Redis), or the handshake fails. Each state change is logged once (and a
// change of the reason while down), never each attempt. While down every
// command fails at once (its callback runs before command() returns).
//
// hiredis 0.14 has no async connect timeout: a uv timer bounds each attempt
// and frees the context. Its libuv adapter misses socket errors (see
// redis_link.cpp): the link attaches with a corrected copy of it. A hung server is found by the command timeout and,
// on a link given a ping interval, by a PING sent when the link is idle.
//
// Commands are answered in the order sent (Redis replies in order); every
// callback runs exactly once: with the reply (possibly an error reply), or
// with nullptr and the reason when it was not answered.
#pragma once

#include "core/metrics.hpp"

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace pushd {

struct RedisLinkOptions {
    RedisLinkId id = RedisLinkId::commands;  // for logs, /health and counters
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string pass;                    // AUTH when non-empty
    int64_t db = 0;                      // SELECT when non-zero
    uint64_t connect_timeout_ms = 1000;  // TCP connect + handshake
    uint64_t command_timeout_ms = 1200;  // a reply later than this: the link is hung
    uint64_t ping_interval_ms = 0;       // 0: no idle PINGs
    size_t max_in_flight = 100000;       // commands sent and not answered
    uint64_t backoff_min_ms = 100;       // first retry delay, doubled per failure
    uint64_t backoff_max_ms = 5000;      // ... up to this
    // Where to connect, asked before each attempt instead of host/port
    // (sentinel mode: the master the sentinels name). False: no address
    // known yet; the attempt waits for the next retry.
    std::function<bool(std::string* host, int* port)> resolve;
    // Why the link is down while resolve() knows no address.
    std::string unresolved_reason = "no master known yet (asking the sentinels)";
    // The handshake checks ROLE: a server that is not a master (a demoted
    // one after a failover) is refused and the link retries.
    bool require_master = false;
};

// One stream entry as XRANGE/XREAD return it.
struct RedisEntry {
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;
};

class RedisLink {
public:
    // `reply` is the answer (possibly REDIS_REPLY_ERROR) or nullptr, then
    // `error` says why it was not answered. The reply is freed after the
    // callback returns: copy what must outlive it.
    using Callback = std::function<void(const redisReply* reply, std::string_view error)>;

    // Nothing happens until start(). `loop` and `counters` must outlive the link.
    RedisLink(uv_loop_t* loop, RedisLinkOptions options, RedisCounters* counters);
    // The link must have been stop()ped and the loop run since (its timers
    // are closed asynchronously).
    ~RedisLink();
    RedisLink(const RedisLink&) = delete;
    RedisLink& operator=(const RedisLink&) = delete;

    // Starts connecting (without blocking: the name is an address or
    // resolves quickly) and keeps the link alive from then on.
    void start();

    // Drops the connection (commands in flight fail with "shutting down"),
    // stops reconnecting and closes the timers. Not from inside one of this
    // link's callbacks.
    void stop();

    // The address changed (resolve() answers another one): drops the
    // connection if it is to another address and connects again at once.
    void retarget();

    // True while established (handshake answered).
    bool up() const { return up_; }
    // Why the link is down ("connecting", "Connection refused", ...); "" while up.
    const std::string& reason() const { return reason_; }
    // Commands sent and not yet answered.
    size_t in_flight() const { return in_flight_; }
    // "commands", "bus" or "sentinel".
    const char* name() const;

    // Sends one command (each argument a binary-safe string). `timeout_ms`
    // 0 means options.command_timeout_ms; give blocking commands their
    // block time plus that. Fails at once (callback with nullptr) while
    // down or with max_in_flight commands in flight.
    void command(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms = 0);

    // Writes the commands queued since the last poll now rather than in
    // the next poll phase: before a long stretch of work (a bus slice),
    // which would otherwise keep them, and so Redis's answers, waiting.
    void flush();

    // Called once the link is up (after each (re)connect), and when it goes
    // down (after the commands in flight have failed).
    std::function<void()> on_up;
    std::function<void()> on_down;

private:
    struct Pending;
    static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
    static void on_connect(const redisAsyncContext* ac, int status);
    static void on_disconnect(const redisAsyncContext* ac, int status);
    static void on_retry_timer(uv_timer_t* t);
    static void on_connect_timer(uv_timer_t* t);
    static void on_watch_timer(uv_timer_t* t);

    void connect();
    void send(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms);
    void handshake();
    void set_up();
    // The connection is gone or must go: forget the context (freeing it
    // unless hiredis is about to), mark the link down, schedule a retry.
    void lose(const std::string& reason, bool free_context);
    void set_down_reason(const std::string& reason);
    void schedule_retry();
    void watch();

    uv_loop_t* loop_;
    RedisLinkOptions options_;
    RedisCounters* counters_;
    size_t index_;
    redisAsyncContext* ac_ = nullptr;
    uint64_t generation_ = 0;         // bumped per context: stale replies are not ours
    std::deque<uint64_t> deadlines_;  // per command in flight on ac_, in send order
    size_t in_flight_ = 0;
    bool up_ = false;
    bool ever_up_ = false;
    bool stopped_ = true;
    bool logged_down_ = false;
    bool ping_in_flight_ = false;
    uint64_t last_ping_ms_ = 0;
    std::string reason_ = "connecting";
    std::string logged_reason_;
    unsigned failures_ = 0;  // consecutive failed attempts (backoff exponent)
    std::mt19937 rng_;
    uv_timer_t retry_timer_{};
    uv_timer_t connect_timer_{};
    uv_timer_t watch_timer_{};
    bool timers_open_ = false;
};

/* Reads an XRANGE/XREVRANGE reply (an array of [id, [field, value, ...]])
 * into `out` (appended). False when the reply has another shape. */
bool redis_read_entries(const redisReply* reply, std::vector<RedisEntry>& out);

/* The text of a string, status or error reply; "" otherwise. */
std::string_view redis_reply_text(const redisReply* reply);

/* Reads an array of strings (integers as their decimal text) into `out`
 * (replaced). False when the reply has another shape. */
bool redis_read_strings(const redisReply* reply, std::vector<std::string>& out);

/* True for an error reply. */
bool redis_reply_is_error(const redisReply* reply);

/* The role a ROLE reply names ("master", "slave", "sentinel"), or the
 * error's text. */
std::string_view redis_role(const redisReply* reply);

/* Reads a [host, port] reply (SENTINEL get-master-addr-by-name); false
 * when it has another shape (nil: the sentinel knows no such master). */
bool redis_read_address(const redisReply* reply, std::string* host, int* port);

}  // namespace pushd
