// The connections of one pushd-bench scenario and their protocol state
// machine: connect -> auth -> (join_group) -> ready. Deliveries and acks are
// counted into the Window being measured, if any; the publishers (when the
// scenario has some: indices 0..P-1, subscribers after them) send
// send_message frames carrying their send time and sequence number, which
// the subscribers' deliveries are matched against. With o.groups groups,
// subscriber i joins group (i - P) mod G and publisher k sends to the
// groups g = k (mod P) in turn, so each group has one publisher and its
// order is checked.
//
// Not thread-safe; every wait is bounded by a deadline.
#pragma once

#include "loop.hpp"
#include "scenarios.hpp"
#include "window.hpp"

#include "client/replies.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pushd_bench {

class Runner {
public:
    /* A runner for `o` with room for `capacity` connections. */
    Runner(const Options& o, size_t capacity);

    /* Raises RLIMIT_NOFILE and sets up the loop for o.host:o.port. False
     * with `err` set on failure. */
    bool init(std::string& err);

    /* Signs one token per connection (index i -> user <prefix>i; the first
     * `publishers` indices -> <prefix>pub, <prefix>pub1, ...). False with
     * `err` set when signing failed (an empty secret). */
    bool sign_tokens(size_t count, size_t publishers, std::string& err);

    /* The first subscriber's index (= the number of publishers). */
    size_t first_subscriber() const { return publishers_; }

    /* Broadcast: with no publisher connection, each send goes through
     * `send` (true: stored, counted as acknowledged) and is owed to every
     * connection (a notification to `all`). Rate mode only. */
    void set_external_send(std::function<bool(const std::string& content)> send) { external_ = std::move(send); }

    /* Subscribers (every connection but the publishers) join their group
     * after auth (default: they do not). */
    void set_join(bool join) { join_ = join; }

    /* Connects and authenticates (and joins) every index in `idx`, at most
     * o.batch handshakes outstanding, within `timeout_s`. Returns how many
     * are ready; the others are counted in failures(). */
    size_t open(const std::vector<uint32_t>& idx, double timeout_s);

    /* Sends from the publishers at `rate` msg/s in all (0: each keeping
     * o.max_inflight unacknowledged) for `duration_s`, busy-polling; `w`
     * counts. Leaves `w` counting (stop_counting() ends it) so the
     * caller's drain counts too. */
    void run_window(Window& w, double rate, double duration_s);

    /* Busy-polls for at most o.drain_s until every send is acknowledged and
     * `expected` deliveries arrived (or every subscriber in [first,
     * first+count) still open caught up, when some closed). */
    void drain(Window& w, uint64_t expected, size_t first, size_t count);

    /* From now on, deliveries count into `w` as stale (recovery waits). */
    void count_stale(Window& w);

    /* Deliveries and acks are no longer counted. */
    void stop_counting() { w_ = nullptr; }

    /* Polls (sleeping) for `s` seconds: pings answered, stragglers absorbed. */
    void settle(double s);

    /* One poll of the loop sleeping at most `timeout_ms`, for waits the
     * caller bounds. */
    void poll(int timeout_ms) { loop_.poll(timeout_ms); }

    /* The loop's counters so far. */
    const LoopStats& loop_stats() const { return loop_.stats(); }

    /* Connections in [first, first+count) that are ready. */
    size_t ready_in(size_t first, size_t count) const;

    /* Indices in [first, first+count) that are not ready. */
    std::vector<uint32_t> not_ready_in(size_t first, size_t count) const;

    /* True when every ready connection in [first, first+count) received
     * every message sent to its group in the current window. */
    bool all_caught_up(size_t first, size_t count) const;

    /* Deliveries owed in the current window to the ready connections in
     * [first, first+count): the messages sent to each one's group. */
    uint64_t expected_deliveries(size_t first, size_t count) const;

    /* Why a publisher is no longer ready ("" while all are). */
    std::string publisher_down_reason() const;

    /* Closes every connection (no callbacks). */
    void close_all() { loop_.drop_all(); }

    const Options& opts() const { return o_; }
    const std::map<std::string, uint64_t>& failures() const { return failures_; }  // reason -> count
    const std::map<int, uint64_t>& close_codes() const { return close_codes_; }    // of ready ones closed
    size_t setup_failed() const { return setup_failed_; }

private:
    void on_open(Conn& c);
    void on_down(Conn& c);
    void on_text(Conn& c, std::string_view m, uint64_t rx);
    void on_setup_reply(Conn& c, pushd::ReplyKind kind);
    void on_delivery(Conn& c, std::string_view m, uint64_t rx);
    void ready(Conn& c);
    void setup_failed(Conn& c, const char* why);
    void note_failure(Conn& c, const char* fallback);
    void send_one(Conn& pub, Window& w, const std::string& pad);
    void send_external(Window& w, const std::string& pad);
    const std::string& next_content(uint64_t seq, const std::string& pad);
    bool send_due(Window& w, uint64_t total, double interval, uint64_t now, const std::string& pad);
    void keep_in_flight(Window& w, const std::string& pad);
    void fail_unfinished(const std::vector<uint32_t>& idx, size_t started);
    struct PublisherCount;
    void on_answer(PublisherCount& pc, uint64_t rx);
    void publish_step();
    bool is_publisher(const Conn& c) const { return c.index < publishers_; }
    size_t group_of(uint32_t index) const { return (index - publishers_) % group_names_.size(); }

    // A publisher's sends and answered sends in the current window.
    // `sent_ns`: when send k went out, at k mod its size (pushd answers
    // one connection's sends in order, so answer k is send k's); a send
    // more than its size behind the newest is not timed.
    struct PublisherCount {
        uint64_t sent = 0, answered = 0;
        std::vector<uint64_t> sent_ns = std::vector<uint64_t>(4096);
    };

    Options o_;
    Loop loop_;
    std::vector<std::string> tokens_;
    size_t publishers_ = 0;
    std::vector<std::string> group_names_;        // o.group, or o.group-0 .. o.group-(G-1)
    std::vector<uint64_t> group_sent_;            // sends to each group in the current window
    std::vector<PublisherCount> publisher_sent_;  // per publisher, the current window
    std::function<bool(const std::string&)> external_;
    bool join_ = false;
    std::map<std::string, uint64_t> failures_;
    std::map<int, uint64_t> close_codes_;
    size_t setup_ready_ = 0, setup_failed_ = 0;
    Window* w_ = nullptr;  // the window counting deliveries, if any
    // The window being published, while run_window runs.
    struct Publishing {
        Window* w;
        uint64_t total;
        double interval;
        double rate;
        const std::string* pad;
    };
    std::optional<Publishing> publishing_;
    uint64_t next_seq_ = 1;
    std::string run_id_;                           // unique per run: servers drop repeated message ids as retries
    std::string send_buf_, content_buf_, id_buf_;  // reused by send_one
};

}  // namespace pushd_bench
