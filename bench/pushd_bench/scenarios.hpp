// pushd-bench scenarios: idle connections (server RSS per connection),
// fan-out at a fixed rate or as fast as possible (deliveries, loss, latency,
// server CPU per delivery), and a sweep for the highest zero-loss rate.
//
// Each returns its results as one cJSON object (the caller prints it and
// frees it) and writes progress lines to stderr. Only the CLI prints to
// stdout. Every wait is bounded by a deadline.
#pragma once

#include <cJSON.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pushd_bench {

struct Options {
    // Target: ws://host:port/path (host an IPv4 literal).
    std::string host;
    uint16_t port = 0;
    std::string path = "/ws";
    std::string secret;  // HS256 secret for the tokens
    std::string user_claim = "userId";
    std::string user_prefix = "bench-";  // users are <prefix><index>, the publisher <prefix>pub
    int server_pid = 0;                  // /proc/PID for RSS and CPU; 0: not measured
    int redis_pid = 0;                   // optional: Redis' CPU reported beside the server's
    size_t batch = 500;                  // outstanding handshakes at a time
    double setup_timeout_s = 120;        // bound on connecting and authenticating everyone

    // idle
    size_t connections = 1000;
    double hold_s = 5;
    bool deflate = false;  // offer permessage-deflate (pushes then arrive compressed and are inflated)
    bool no_auth = false;  // idle: open the WebSockets but never authenticate (diagnostics)

    // fanout / sweep
    size_t subscribers = 1000;
    std::string group = "bench";  // with groups > 1: bench-0 .. bench-(groups-1)
    size_t groups = 1;            // subscriber i joins group i mod groups
    size_t publishers = 1;        // publisher k sends to the groups g = k (mod publishers), in turn
    double rate = 100;            // messages/s from the publisher; 0: as fast as allowed
    double duration_s = 10;
    double drain_s = 5;         // bound on waiting for stragglers after the window
    size_t content_bytes = 64;  // content length (timestamp marker + padding)
    size_t max_inflight = 64;   // rate 0: unacknowledged sends at most
    double warmup_s = 1;        // unmeasured sending before the first window
    int repeat = 1;             // fanout: windows to run; the median one is the result

    // broadcast: the Redis the server reads and its key prefix
    std::string redis_addr = "127.0.0.1:6379";
    std::string key_prefix = "pushd:";

    // sweep
    double start_rate = 100;
    double factor = 1.5;
    double max_rate = 1000000;
    double step_duration_s = 5;
    int refine_steps = 2;     // bisection steps between the last pass and the first fail
    double tolerance = 0.05;  // achieved rates may fall this far short of the requested
    bool confirm = true;      // rerun the best rate for duration_s as the result
};

/* Opens `connections` connections, authenticates each as a distinct user,
 * holds them idle for hold_s and reports counts, timing and (with a server
 * pid) the server's RSS per connection. Returns the result object; `ok` is
 * false when not every connection authenticated (the object says why).
 * Never returns null. */
cJSON* run_idle(const Options& o, bool& ok);

/* One publisher and `subscribers` subscribers of one group; o.repeat windows
 * at o.rate for o.duration_s, each followed by a bounded drain; the figures
 * of the window with the median server CPU per delivery are the result,
 * every window is listed. `ok` false when setup failed; loss is reported,
 * not an error. Never returns null. */
cJSON* run_fanout(const Options& o, bool& ok);

/* The closed loop: as run_fanout, but each publisher keeps o.max_inflight
 * sends unacknowledged (a new send_message as soon as an ack comes back)
 * instead of a fixed rate; reported as mode "closed" (one group) or
 * "groups" (o.groups groups, o.publishers publishers; groups must be a
 * multiple of publishers) with "in_flight". Never returns null. */
cJSON* run_closed(const Options& o, bool& ok);

/* o.connections authenticated connections; notifications to `all` stored
 * in Redis (XADD to the notify stream, as a business service does) at
 * o.rate for o.duration_s, o.repeat windows; every connection should get
 * every one. Reported as mode "broadcast", like fanout. Never returns null. */
cJSON* run_broadcast(const Options& o, bool& ok);

/* Steps the rate from start_rate by `factor` until a window loses messages
 * or falls short of the requested rate by more than `tolerance`, bisects
 * `refine_steps` times, then (confirm) reruns the best rate for
 * duration_s, 10% lower each time that fails (at most 5 tries); that run is
 * the result ("best"). After a failed step it waits for the server to
 * recover and reconnects closed subscribers. Reports every step. `ok` false
 * when no rate passed or the server did not recover. Never returns null. */
cJSON* run_sweep(const Options& o, bool& ok);

}  // namespace pushd_bench
