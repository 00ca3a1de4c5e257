#include "io/redis_bus.hpp"

#include "core/cluster_slots.hpp"
#include "core/control_entry.hpp"
#include "core/stream_id.hpp"
#include "io/log.hpp"
#include "io/redis_wait.hpp"

#include <hiredis/hiredis.h>
#include <uv.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace pushd {

namespace {

constexpr const char* kCount = "512";
constexpr const char* kBlock = "1000";
static_assert(kBusBatch == 512 && kBusBlockMs == 1000, "keep the XREAD arguments in step");

}  // namespace

RedisBus::RedisBus(const Config* config, std::vector<RedisLink*> bus_links, RedisCommands* commands, RedisStore* store,
                   Hub* hub, RedisCounters* counters, std::function<int64_t()> now_ms) :
    config_(config),
    commands_(commands),
    store_(store),
    hub_(hub),
    counters_(counters),
    now_ms_(std::move(now_ms)),
    started_local_ms_(now_ms_()),
    keys_(redis_keys(config->redis)) {
    const int64_t n = config->redis.wait_replicas;
    const size_t shards = keys_.bus_shards();
    for (size_t i = 0; i < bus_links.size(); ++i) {
        auto r = std::make_unique<Reader>();
        r->link = bus_links[i];
        // One link: the bus and notify in one XREAD; else shard i, and
        // notify alone on the last link.
        if (bus_links.size() == 1 || i < shards) r->streams.push_back({keys_.bus_shard(i), false});
        if (bus_links.size() == 1 || i == shards) r->streams.push_back({keys_.notify(), true});
        const bool carries_bus = !r->streams.front().notify;
        if (n > 0 && carries_bus) {
            r->wait = std::make_unique<WaitBatch>(
                n, keys_.clustered() ? redis_marker_wait_issue(r->link, keys_.bus_shard(i) + ":wait", n)
                                     : redis_wait_issue(r->link, keys_.wait_channel(), n));
        }
        readers_.push_back(std::move(r));
    }
}

RedisBus::~RedisBus() = default;

std::vector<const WaitBatch*> RedisBus::waits() const {
    std::vector<const WaitBatch*> all;
    for (const auto& r : readers_) {
        if (r->wait) all.push_back(r->wait.get());
    }
    return all;
}

void RedisBus::on_bus_up(size_t reader) {
    Reader& r = *readers_.at(reader);
    drop_held(r);
    if (!r.started)
        fix_start(r);
    else
        read(r);
}

void RedisBus::on_commands_up() { pump_inbox(); }

void RedisBus::tick() {
    for (auto& rp : readers_) {
        Reader& r = *rp;
        if (!r.link->up()) continue;
        if (!r.started)
            fix_start(r);
        else if (r.retry_read)
            read(r);
        else if (r.held && r.retry_confirm)
            confirm_held(r);
    }
    pump_inbox();
    publish_inboxed();
}

// Fixes where a reader starts: the instance's start, in the clock of the
// Redis server it reads (bus_start_id, TIME on its own link). Whatever
// the instance asks of that server later (a replay's read) happened after
// the instance started, so the bus covers everything stored after it.
//
// The notify stream starts earlier when some notifications stored before
// this start have not been written to inboxes by any instance yet (the
// notify:inboxed marker): those are read for their inbox writes only
// (catch-up), so that every instance writes each inbox in notify order and
// none skips an entry another one has not written yet.
void RedisBus::fix_start(Reader& r) {
    if (r.started || r.fetching) return;
    r.fetching = true;
    auto redis_ms = std::make_shared<int64_t>(-1);
    r.link->command({"TIME"}, [this, &r, redis_ms](const redisReply* t, std::string_view) {
        if (t && t->type == REDIS_REPLY_ARRAY && t->elements == 2 && t->element[0]->type == REDIS_REPLY_STRING &&
            t->element[1]->type == REDIS_REPLY_STRING) {
            *redis_ms = std::strtoll(t->element[0]->str, nullptr, 10) * 1000 +
                        std::strtoll(t->element[1]->str, nullptr, 10) / 1000;
        } else if (t) {
            std::string e(redis_reply_is_error(t) ? redis_reply_text(t) : "unexpected reply to TIME");
            if (e != r.last_error) LOG_WARN("redis bus: cannot read Redis's clock: %s", e.c_str());
            r.last_error = e;
        }
        if (*redis_ms < 0) {
            r.fetching = false;  // the next link-up or tick() asks again
            return;
        }
        if (!r.streams.back().notify) return start_at(r, *redis_ms, {});
        commands_->command(
            {"GET", keys_.notify_inboxed()}, [this, &r, redis_ms](const redisReply* g, std::string_view) {
                if (!g || redis_reply_is_error(g)) {
                    r.fetching = false;
                    return;
                }
                start_at(r, *redis_ms, g->type == REDIS_REPLY_STRING ? std::string(g->str, g->len) : std::string());
            });
    });
}

void RedisBus::start_at(Reader& r, int64_t redis_ms, const std::string& inboxed) {
    r.fetching = false;
    if (r.started) return;
    const std::string start = bus_start_id(redis_ms, now_ms_(), started_local_ms_);
    for (Stream& s : r.streams) {
        s.last = start;
        if (!s.notify) continue;
        live_notify_after_ = *parse_stream_id(start);
        if (auto marker = parse_stream_id(inboxed); marker && *marker < live_notify_after_)
            s.last = format_stream_id(*marker);
    }
    r.started = true;
    for (const Stream& s : r.streams) LOG_INFO("redis bus: reading %s after %s", s.key.c_str(), s.last.c_str());
    read(r);
}

void RedisBus::read(Reader& r) {
    if (!r.started || r.reading || r.held || !r.link->up()) return;
    // Reads ahead while fewer than a slice's most entries are pending.
    if (pending_.size() >= BusSlice::kEntries) return;
    r.reading = true;
    r.retry_read = false;
    std::vector<std::string_view> argv{"XREAD", "COUNT", kCount, "BLOCK", kBlock, "STREAMS"};
    for (const Stream& s : r.streams) argv.push_back(s.key);
    for (const Stream& s : r.streams) argv.push_back(s.last);
    r.link->command(
        argv,
        [this, &r](const redisReply* reply, std::string_view) {
            r.reading = false;
            on_read(r, reply);
        },
        kBusBlockMs + 2000);
}

void RedisBus::read_all() {
    for (auto& r : readers_) read(*r);
}

// An XREAD answer that is not entries: nothing new (nil), not answered, or
// an error (a MOVED in cluster mode: the map is asked again). True when it
// was one of those.
bool RedisBus::read_failed(Reader& r, const redisReply* reply) {
    if (!reply) {
        // Not answered: the link is down (on_bus_up resumes) or was busy.
        if (r.link->up()) r.retry_read = true;
        return true;
    }
    if (reply->type == REDIS_REPLY_NIL) {  // nothing new within the block time
        lag_ms_ = 0;
        for (Stream& s : r.streams) s.read_to_end = true;
        note_caught_up();
        read(r);
        return true;
    }
    if (reply->type == REDIS_REPLY_ARRAY) return false;
    std::string e = redis_reply_is_error(reply) ? std::string(redis_reply_text(reply)) : "unexpected reply to XREAD";
    if (e != r.last_error) LOG_WARN("redis bus: XREAD failed: %s (retrying every second)", e.c_str());
    r.last_error = e;
    r.retry_read = true;
    if (on_redirect && parse_redirect(e)) on_redirect();
    return true;
}

void RedisBus::on_read(Reader& r, const redisReply* reply) {
    if (read_failed(r, reply)) return;
    r.last_error.clear();
    // The last ids move at once: what was read is delivered even if the
    // link drops meanwhile, and never read again.
    std::vector<std::vector<RedisEntry>> got(r.streams.size());
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply* s = reply->element[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) continue;
        std::string_view key = redis_reply_text(s->element[0]);
        for (size_t k = 0; k < r.streams.size(); ++k) {
            if (key == r.streams[k].key) redis_read_entries(s->element[1], got[k]);
        }
    }
    const auto now_us = static_cast<int64_t>(uv_hrtime() / 1000);
    bool hold = false, to_end = true;
    size_t count = 0;
    int64_t newest_us = 0;
    for (size_t k = 0; k < r.streams.size(); ++k) {
        Stream& s = r.streams[k];
        s.held_from = s.last;
        if (got[k].empty()) continue;
        s.last = got[k].back().id;
        if (got[k].size() >= kBusBatch) to_end = false;
        if (r.wait && !s.notify) hold = true;
        if (auto id = parse_stream_id(s.last)) newest_us = std::max(newest_us, static_cast<int64_t>(id->ms) * 1000);
        count += got[k].size();
    }
    // Fewer than asked for: this read reached the streams' ends.
    if (to_end) {
        for (Stream& s : r.streams) s.read_to_end = true;
    }
    std::deque<Read>& into = hold ? r.held_entries : pending_;
    for (size_t k = 0; k < r.streams.size(); ++k) {
        for (RedisEntry& e : got[k]) into.push_back({r.streams[k].notify, now_us, std::move(e)});
    }
    coalescer_.on_arrival(count, newest_us);
    if (hold) {
        r.held = true;
        confirm_held(r);
        return;
    }
    read(r);  // while these wait, the next ones arrive
    deliver_pending();
}

// Hands the pending entries on: to the server's check handle (which asks
// hold_us() first), or at once without one.
void RedisBus::deliver_pending() {
    if (pending_.empty()) {
        note_caught_up();  // an answer with no entry in it
    } else if (defer_) {
        defer_();
    } else {
        while (deliver_slice() > 0) {}
    }
}

// WaitReplicas: the read's entries join the pending ones once the
// replicas confirm them.
void RedisBus::confirm_held(Reader& r) {
    r.retry_confirm = false;
    r.wait->after([this, &r, gen = r.hold_generation](bool ok) {
        if (!r.held || gen != r.hold_generation) return;
        if (!ok) {
            r.retry_confirm = true;
            return;
        }
        r.held = false;
        for (Read& e : r.held_entries) pending_.push_back(std::move(e));
        r.held_entries.clear();
        read(r);
        deliver_pending();
    });
}

// The link dropped with a read held: forget it, read it again from the
// ids before it (from the new master after a failover).
void RedisBus::drop_held(Reader& r) {
    if (!r.held) return;
    r.held = false;
    r.hold_generation++;
    r.held_entries.clear();
    for (Stream& s : r.streams) s.last = s.held_from;
}

int64_t RedisBus::hold_us(int64_t now_us) const {
    if (pending_.empty()) return 0;
    return coalescer_.hold_us(pending_.size(), pending_.front().read_us, now_us);
}

// What a pending entry is to the slice bounds: the connections it goes to
// (a group's subscribers, or a notification's target) and how many.
void RedisBus::slice_share(const Read& r, std::string& key, size_t& width) const {
    key.clear();
    width = 0;
    if (r.notify) {
        const std::string* target = entry_field(r.entry.fields, "target");
        if (!target) return;
        if (target->rfind("group:", 0) == 0) {
            key.assign(*target, 6);
            width = hub_->group_members(key);
        } else {
            // Users or all: keyed apart from group ids (no group id has '\n').
            key.assign("\n").append(*target);
            width = *target == "all" ? hub_->session_count() : 1;
        }
        return;
    }
    if (const std::string* gid = entry_field(r.entry.fields, "group_id")) {
        key = *gid;
        width = hub_->group_members(key);
    }
}

size_t RedisBus::deliver_slice() {
    slice_.clear();
    size_t entries = 0;
    std::string last_id, key;
    while (!pending_.empty()) {
        size_t width = 0, bytes = 0;
        slice_share(pending_.front(), key, width);
        for (const auto& [k, v] : pending_.front().entry.fields) bytes += k.size() + v.size();
        if (!slice_.admit(key, width, bytes)) break;
        Read r = std::move(pending_.front());
        pending_.pop_front();
        entries++;
        if (r.notify)
            handle_notify_entry(r.entry);
        else
            handle_bus_entry(r.entry);
        last_id = std::move(r.entry.id);
    }
    if (!last_id.empty()) note_lag(last_id);
    if (entries > 0) counters_->bus_slices++;
    pump_inbox();
    if (pending_.empty()) note_caught_up();
    read_all();
    return entries;
}

void RedisBus::note_lag(const std::string& id) {
    if (auto sid = parse_stream_id(id)) {
        const int64_t lag = now_ms_() - static_cast<int64_t>(sid->ms);
        lag_ms_ = lag > 0 ? static_cast<double>(lag) : 0;
    }
}

void RedisBus::malformed(const char* stream, const std::string& id, const std::string& why) {
    counters_->malformed_entries++;
    LOG_WARN("redis bus: skipped malformed %s entry %s: %s", stream, id.c_str(), why.c_str());
}

void RedisBus::handle_bus_entry(const RedisEntry& e) {
    counters_->bus_entries++;
    std::string why;
    if (is_control_entry(e.fields)) {
        if (auto c = control_from_entry(e.fields, &why))
            hub_->apply_control(*c, now_ms_());
        else
            malformed("bus", e.id, why);
        return;
    }
    auto m = message_from_bus_entry(e.fields, &why);
    if (!m) {
        malformed("bus", e.id, why);
        return;
    }
    hub_->deliver_group_message(*m);
}

void RedisBus::handle_notify_entry(const RedisEntry& e) {
    counters_->notify_entries++;
    std::string why;
    auto n = notification_from_notify_entry(e.id, e.fields, &why);
    if (!n) {
        malformed("notify", e.id, why);
        return;
    }
    // Catch-up entries (stored before this instance started) are read for
    // their inbox writes only: no live client of this instance waits for them.
    auto id = parse_stream_id(n->id);
    if (!id || *id > live_notify_after_) hub_->deliver_notification(*n);
    if (n->target.kind == NotifyTargetKind::users) {
        const StoredNotification stored{n->id, n->data, n->timestamp_ms};
        for (const std::string& uid : n->target.users) queue_inbox(uid, stored);
    }
    notify_handled_ = n->id;
}

// Every notify stream read to its end since the start, and all handled.
void RedisBus::note_caught_up() {
    if (caught_up_ || !pending_.empty()) return;
    for (const auto& r : readers_) {
        for (const Stream& s : r->streams) {
            if (s.notify && (!s.read_to_end || r->held)) return;
        }
    }
    caught_up_ = true;
    std::vector<std::function<void()>> ready = std::move(catchup_waiters_);
    catchup_waiters_.clear();
    for (auto& fn : ready) fn();
}

// Publishes notify:inboxed once every inbox write this instance queued is
// answered: all notify entries up to notify_handled_ are in their inboxes.
void RedisBus::publish_inboxed() {
    if (notify_handled_.empty() || notify_handled_ == inboxed_published_ || !inbox_queue_.empty() ||
        inbox_in_flight_ != 0 || !inbox_failed_.empty() || !commands_->up() || publishing_inboxed_) {
        return;
    }
    publishing_inboxed_ = true;
    const std::string id = notify_handled_;
    commands_->command({"EVAL", kInboxedScript, "1", keys_.notify_inboxed(), id},
                       [this, id](const redisReply* r, std::string_view) {
                           publishing_inboxed_ = false;
                           if (r && r->type == REDIS_REPLY_INTEGER) inboxed_published_ = id;
                       });
}

void RedisBus::queue_inbox(const std::string& user_id, const StoredNotification& n) {
    if (inbox_queue_.size() >= kMaxInboxQueue) {
        counters_->inbox_dropped++;
        if (counters_->inbox_dropped == 1 || counters_->inbox_dropped % 10000 == 0) {
            LOG_WARN("redis bus: inbox queue full (%zu): dropping the oldest inbox writes (%llu so far)",
                     kMaxInboxQueue, static_cast<unsigned long long>(counters_->inbox_dropped));
        }
        note_sent(inbox_queue_.front().user_id);  // dropped: waits for it no more
        inbox_queue_.pop_front();
    }
    inbox_queue_.push_back({user_id, n});
    unsent_per_user_[user_id]++;
}

// Sends queued inbox writes in order. Writes not answered come back to the
// front of the queue, in order, once nothing is in flight: within an inbox
// ids must increase, so a later write must not overtake an earlier one.
void RedisBus::pump_inbox() {
    inbox_stalled_ = false;
    while (!inbox_queue_.empty() && inbox_failed_.empty() && !inbox_stalled_ && inbox_in_flight_ < kMaxInboxInFlight &&
           commands_->up()) {
        auto job = std::make_shared<InboxJob>(std::move(inbox_queue_.front()));
        inbox_queue_.pop_front();
        inbox_in_flight_++;
        const std::string user = job->user_id;
        store_->write_inbox(job->user_id, job->notification, [this, job](InboxWrite w) {
            inbox_in_flight_--;
            switch (w) {
            case InboxWrite::stored: counters_->inbox_stored++; break;
            case InboxWrite::already: counters_->inbox_already++; break;
            case InboxWrite::refused: counters_->inbox_dropped++; break;
            case InboxWrite::retry:
                inbox_failed_.push_back(std::move(*job));
                inbox_stalled_ = true;  // a failure may be immediate: stop this round
                break;
            }
            if (inbox_in_flight_ == 0 && !inbox_failed_.empty()) {
                while (!inbox_failed_.empty()) {
                    unsent_per_user_[inbox_failed_.back().user_id]++;
                    inbox_queue_.push_front(std::move(inbox_failed_.back()));
                    inbox_failed_.pop_back();
                }
            }
        });
        note_sent(user);
    }
}

void RedisBus::note_sent(const std::string& user_id) {
    auto it = unsent_per_user_.find(user_id);
    if (it == unsent_per_user_.end() || --it->second > 0) return;
    unsent_per_user_.erase(it);
    auto w = inbox_waiters_.find(user_id);
    if (w == inbox_waiters_.end()) return;
    std::vector<std::function<void()>> ready = std::move(w->second);
    inbox_waiters_.erase(w);
    for (auto& fn : ready) fn();
}

void RedisBus::after_inbox_writes(const std::string& user_id, std::function<void()> fn) {
    if (!caught_up_) {
        // Not yet read to the streams' ends since the start: entries still
        // to be read may need inbox writes the replay must see.
        catchup_waiters_.push_back(
            [this, user_id, fn = std::move(fn)]() mutable { after_inbox_writes(user_id, std::move(fn)); });
        return;
    }
    if (!unsent_per_user_.count(user_id)) {
        fn();
        return;
    }
    inbox_waiters_[user_id].push_back(std::move(fn));
}

}  // namespace pushd
