// The bus reader: XREAD BLOCK over the bus stream (group messages stored by
// any instance) and the notify stream (notifications from business
// services), on its own link (a blocked XREAD holds its connection), in
// batches, remembering the last id read from each stream.
//
// Redis.Mode cluster: the bus is Redis.BusShards streams, each in its own
// slot (core/redis_schema.hpp), and a blocked XREAD may name keys of one
// slot only: one link reads each shard, and one more the notify stream,
// each link connected to the master of its stream's slot. Every reader
// keeps its own last ids and start; their entries join one pending queue.
//
// Start: reading starts at the instance's start (in Redis's clock: TIME
// on the reader's link, see bus_start_id), whenever Redis
// first answers: an instance started during an outage delivers everything
// stored after it started, and a restart pushes no older history to live
// clients. After a reconnect it resumes from the remembered ids, so
// entries appended while it was away are delivered (as far as the bus's cap,
// kBusMaxLen, kept them). The replay/live boundary rests on this start
// (core/replay_gate.hpp).
//
// Each bus entry becomes a StoredMessage for Hub::deliver_group_message;
// each notify entry a Notification for Hub::deliver_notification, and for
// `user:` targets one inbox write per user (through RedisStore). Every
// instance reads every notify entry and tries the inbox writes; the XADD
// with the notify entry's own id succeeds for the first instance and is
// refused ("equal or smaller") for the others, so each inbox gets each
// notification once. Inbox writes that were not answered (Redis away) are
// queued, in order, and retried when the commands link is back.
//
// A starting instance also reads notify entries from before its start
// that no instance has written to inboxes yet (the notify:inboxed marker,
// which each instance advances once its inbox writes are all answered):
// for their inbox writes only. So every instance writes every inbox in
// notify order, and an inbox holds every user-targeted notification up to
// its newest entry: an inbox replay that ends at id L has missed nothing
// below L.
//
// With Redis.WaitReplicas N, a read that holds group messages is
// delivered only once N replicas confirm it (a WAIT on this link, see
// core/replica_wait.hpp), so no subscriber sees a message that a failover
// then loses. Until then nothing more is read; an unconfirmed read is
// confirmed again every tick, and one still held when the link drops is
// forgotten and read again (from the new master after a failover) from
// the ids before it. Reads of notifications only are not held.
//
// Malformed entries (missing fields, data not a JSON object, unknown target)
// are counted, logged once with their id, and skipped.
#pragma once

#include "core/bus_coalescer.hpp"
#include "core/bus_entry.hpp"
#include "core/bus_slice.hpp"
#include "core/config.hpp"
#include "core/hub.hpp"
#include "core/metrics.hpp"
#include "core/replica_wait.hpp"
#include "io/redis_link.hpp"
#include "io/redis_store.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace pushd {

// Entries one XREAD asks for per stream, and how long it blocks.
inline constexpr size_t kBusBatch = 512;
inline constexpr uint64_t kBusBlockMs = 1000;
// A batch is delivered in slices (core/bus_slice.hpp: bounded by what one
// connection is handed and by the frames queued in all), one slice per loop
// iteration, so that sockets are written between slices and a burst read
// at once does not pile up in the output queues of clients that keep up
// (Limits.MaxQueueBytes). The next XREAD is sent while fewer than a
// slice's most entries wait, so entries held for coalescing (BusCoalescer)
// keep arriving: at most that plus one read per reader are ever pending.
// Inbox writes queued at most while Redis is away; the oldest are dropped
// (and counted) past it.
inline constexpr size_t kMaxInboxQueue = 100000;
// Inbox writes in flight at most.
inline constexpr size_t kMaxInboxInFlight = 256;

class RedisBus {
public:
    // Everything passed must outlive the bus. `hub` receives deliveries;
    // `now_ms` is the wall clock (for the lag gauge).
    // `bus_links`: one (it reads the bus and notify), or in cluster mode
    // one per bus shard then one for notify (shards + 1).
    RedisBus(const Config* config, std::vector<RedisLink*> bus_links, RedisCommands* commands, RedisStore* store,
             Hub* hub, RedisCounters* counters, std::function<int64_t()> now_ms);
    ~RedisBus();
    RedisBus(const RedisBus&) = delete;
    RedisBus& operator=(const RedisBus&) = delete;

    // Call from bus link `reader`'s on_up: fixes its start once, then reads.
    void on_bus_up(size_t reader);
    // Call when the commands are up again: flushes queued inbox writes.
    void on_commands_up();
    // An XREAD was answered with a redirect (cluster mode: ask for the map).
    std::function<void()> on_redirect;
    // Call periodically (about every second): retries a read that failed
    // with an error answer, and queued inbox writes.
    void tick();

    // `defer` is called when entries were read: the caller must then, in
    // this loop iteration after the sockets were serviced and once per
    // iteration after that, ask hold_us() and call deliver_slice() (at
    // once, or when the hold is over) until nothing is pending.
    void set_defer(std::function<void()> defer) { defer_ = std::move(defer); }

    // Delivers the next slice of entries read and returns how many it
    // delivered; reads on while fewer than a slice are left.
    size_t deliver_slice();
    bool has_pending() const { return !pending_.empty(); }

    // How long the pending entries may still wait for more to join them
    // before deliver_slice (0: deliver now); `now_us` from uv_hrtime. The
    // caller reports each delivery and the flush after it with
    // note_delivered (entries, microseconds the two took).
    int64_t hold_us(int64_t now_us) const;
    void note_delivered(size_t entries, int64_t took_us) { coalescer_.on_delivered(entries, took_us); }
    // The loop's busy share since the last call (BusCoalescer::on_loop_busy).
    void note_loop_busy(double share) { coalescer_.on_loop_busy(share); }
    const BusCoalescer& coalescer() const { return coalescer_; }
    // Replaces the coalescing policy (before the first read: --bus-coalesce).
    void set_coalesce_mode(CoalesceMode mode) {
        CoalesceSettings settings;
        settings.mode = mode;
        coalescer_ = BusCoalescer(settings);
    }

    // Now minus the time of the newest entry delivered (0 when caught up).
    double lag_ms() const { return lag_ms_; }
    // The WAITs of the bus links (none with WaitReplicas 0).
    std::vector<const WaitBatch*> waits() const;
    // Inbox writes waiting for Redis.
    size_t inbox_queue() const { return inbox_queue_.size(); }

    // Runs `fn` once every inbox write this instance has queued for
    // `user_id` has been sent on the commands link (at once when none
    // waits). An inbox replay sent from `fn` on that link is read after
    // them, so it covers every notification this instance's bus has handed
    // to the hub: the inbox replay ends where this instance's live
    // notifications began (core/replay_gate.hpp). At most one waiter per
    // session (the hub asks one inbox replay at a time per session).
    void after_inbox_writes(const std::string& user_id, std::function<void()> fn);

private:
    struct InboxJob {
        std::string user_id;
        StoredNotification notification;
    };

    struct Read {
        bool notify;      // from the notify stream, else the bus
        int64_t read_us;  // when it was read (uv_hrtime, microseconds)
        RedisEntry entry;
    };
    void slice_share(const Read& r, std::string& key, size_t& width) const;
    BusSlice slice_;  // the bounds of the slice being delivered

    // One stream a reader reads, and where it is.
    struct Stream {
        std::string key;
        bool notify = false;       // the notify stream, else a bus (shard)
        std::string last = "0-0";  // the last id read ("0-0": start not known)
        std::string held_from;     // the last id before a held read
        bool read_to_end = false;  // a read since the start returned everything there was
    };
    // One bus link and what it reads.
    struct Reader {
        RedisLink* link = nullptr;
        std::vector<Stream> streams;  // one or two (one XREAD)
        bool started = false;         // start fixed
        bool fetching = false;
        bool reading = false;
        bool retry_read = false;  // the last read got an error answer: tick() retries
        std::string last_error;
        std::unique_ptr<WaitBatch> wait;  // WaitReplicas > 0 and a bus stream only
        bool held = false;                // held_entries wait for the replicas
        bool retry_confirm = false;       // the last WAIT fell short: tick() asks again
        uint64_t hold_generation = 0;     // a WAIT's answer for a dropped hold is stale
        std::deque<Read> held_entries;
    };
    void fix_start(Reader& r);
    void start_at(Reader& r, int64_t redis_ms, const std::string& inboxed);
    void read(Reader& r);
    void read_all();
    bool read_failed(Reader& r, const redisReply* reply);
    void on_read(Reader& r, const redisReply* reply);
    void confirm_held(Reader& r);
    void deliver_pending();
    void drop_held(Reader& r);
    void handle_bus_entry(const RedisEntry& e);
    void handle_notify_entry(const RedisEntry& e);
    void malformed(const char* stream, const std::string& id, const std::string& why);
    void note_lag(const std::string& id);
    void queue_inbox(const std::string& user_id, const StoredNotification& n);
    void pump_inbox();
    // One queued write for `user_id` left the queue (sent or dropped).
    void note_sent(const std::string& user_id);
    // Read to the streams' ends since the start and delivered all: wakes
    // the inbox replays that waited for it.
    void note_caught_up();
    void publish_inboxed();

    const Config* config_;
    RedisCommands* commands_;
    RedisStore* store_;
    Hub* hub_;
    RedisCounters* counters_;
    std::function<int64_t()> now_ms_;
    int64_t started_local_ms_;  // the instance's start, local clock
    std::function<void()> defer_;
    std::deque<Read> pending_;  // read, not yet delivered
    BusCoalescer coalescer_;    // when to deliver them
    RedisKeys keys_;
    std::vector<std::unique_ptr<Reader>> readers_;
    double lag_ms_ = 0;
    std::deque<InboxJob> inbox_queue_;
    size_t inbox_in_flight_ = 0;
    std::deque<InboxJob> inbox_failed_;  // not answered; requeued in order once none are in flight
    bool inbox_stalled_ = false;         // a write was not answered: pump again later
    std::unordered_map<std::string, size_t> unsent_per_user_;  // queued, not yet sent
    std::unordered_map<std::string, std::vector<std::function<void()>>> inbox_waiters_;
    StreamId live_notify_after_{};  // notify entries up to it: inbox writes only (catch-up)
    bool caught_up_ = false;        // every notify stream read to its end since the start, all handled
    std::vector<std::function<void()>> catchup_waiters_;
    std::string notify_handled_;     // the last notify entry handled
    std::string inboxed_published_;  // the last notify:inboxed this instance stored
    bool publishing_inboxed_ = false;
};

}  // namespace pushd
