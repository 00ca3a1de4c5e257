#include "io/redis_bus.hpp"

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

RedisBus::RedisBus(const Config* config, RedisLink* bus_link, RedisLink* commands_link, RedisStore* store, Hub* hub,
                   RedisCounters* counters, std::function<int64_t()> now_ms) :
    config_(config),
    link_(bus_link),
    commands_(commands_link),
    store_(store),
    hub_(hub),
    counters_(counters),
    now_ms_(std::move(now_ms)),
    started_local_ms_(now_ms_()),
    keys_(config->redis.key_prefix),
    bus_key_(keys_.bus()),
    notify_key_(keys_.notify()) {
    const int64_t n = config->redis.wait_replicas;
    if (n > 0) wait_ = std::make_unique<WaitBatch>(n, redis_wait_issue(bus_link, keys_.wait_channel(), n));
}

void RedisBus::on_bus_up() {
    drop_held();
    if (!started_)
        fix_start(link_);
    else
        read();
}

void RedisBus::on_commands_up() {
    if (!started_) fix_start(commands_);
    pump_inbox();
}

void RedisBus::tick() {
    if (!started_) {
        if (commands_->up())
            fix_start(commands_);
        else if (link_->up())
            fix_start(link_);
    } else if (retry_read_ && link_->up()) {
        read();
    } else if (held_ && retry_confirm_ && link_->up()) {
        confirm_held();
    }
    pump_inbox();
    publish_inboxed();
}

// Fixes where reading starts: the instance's start, in Redis's clock
// (bus_start_id), asked on whichever link reaches Redis first. On the
// commands link TIME goes ahead of every replay the hub can ask for (a
// link answers in order, and nothing is sent on it before it is up), so
// the bus covers everything stored after any replay's read.
//
// The notify stream starts earlier when some notifications stored before
// this start have not been written to inboxes by any instance yet (the
// notify:inboxed marker): those are read for their inbox writes only
// (catch-up), so that every instance writes each inbox in notify order and
// none skips an entry another one has not written yet.
void RedisBus::fix_start(RedisLink* via) {
    if (started_ || fetching_) return;
    fetching_ = true;
    auto redis_ms = std::make_shared<int64_t>(-1);
    via->command({"TIME"}, [this, redis_ms](const redisReply* r, std::string_view) {
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            *redis_ms = std::strtoll(r->element[0]->str, nullptr, 10) * 1000 +
                        std::strtoll(r->element[1]->str, nullptr, 10) / 1000;
        } else if (r) {
            std::string e(redis_reply_is_error(r) ? redis_reply_text(r) : "unexpected reply to TIME");
            if (e != last_read_error_) LOG_WARN("redis bus: cannot read Redis's clock: %s", e.c_str());
            last_read_error_ = e;
        }
    });
    via->command({"GET", keys_.notify_inboxed()}, [this, redis_ms](const redisReply* r, std::string_view) {
        fetching_ = false;
        if (started_ || *redis_ms < 0 || !r || redis_reply_is_error(r))
            return;  // the next link-up or tick() asks again
        bus_last_ = bus_start_id(*redis_ms, now_ms_(), started_local_ms_);
        notify_last_ = bus_last_;
        live_notify_after_ = *parse_stream_id(bus_last_);
        if (r->type == REDIS_REPLY_STRING) {
            auto marker = parse_stream_id(std::string_view(r->str, r->len));
            if (marker && *marker < live_notify_after_) notify_last_ = format_stream_id(*marker);
        }
        started_ = true;
        LOG_INFO("redis bus: reading %s after %s (this instance's start), %s after %s", bus_key_.c_str(),
                 bus_last_.c_str(), notify_key_.c_str(), notify_last_.c_str());
        read();
    });
}

void RedisBus::read() {
    if (!started_ || reading_ || held_ || !link_->up()) return;
    // Reads ahead while a slice's worth is pending; with WaitReplicas one
    // read at a time, since a held read is dropped and read again whole.
    if (wait_ ? !pending_.empty() : pending_.size() >= kBusSliceEntries) return;
    reading_ = true;
    retry_read_ = false;
    static constexpr const char* kCount = "512";
    static constexpr const char* kBlock = "1000";
    static_assert(kBusBatch == 512 && kBusBlockMs == 1000, "keep the XREAD arguments in step");
    link_->command(
        {"XREAD", "COUNT", kCount, "BLOCK", kBlock, "STREAMS", bus_key_, notify_key_, bus_last_, notify_last_},
        [this](const redisReply* r, std::string_view) {
            reading_ = false;
            on_read(r);
        },
        kBusBlockMs + 2000);
}

void RedisBus::on_read(const redisReply* r) {
    if (!r) {
        // Not answered: the link is down (on_bus_up resumes) or was busy.
        if (link_->up()) retry_read_ = true;
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {  // nothing new within the block time
        lag_ms_ = 0;
        read_to_end_ = true;
        note_caught_up();
        read();
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        std::string e = redis_reply_is_error(r) ? std::string(redis_reply_text(r)) : "unexpected reply to XREAD";
        if (e != last_read_error_) LOG_WARN("redis bus: XREAD failed: %s (retrying every second)", e.c_str());
        last_read_error_ = e;
        retry_read_ = true;
        return;
    }
    last_read_error_.clear();
    // The last ids move at once: what was read is delivered even if the
    // link drops meanwhile, and never read again.
    std::vector<RedisEntry> bus, notify;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply* s = r->element[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) continue;
        std::string_view key = redis_reply_text(s->element[0]);
        if (key == bus_key_)
            redis_read_entries(s->element[1], bus);
        else if (key == notify_key_)
            redis_read_entries(s->element[1], notify);
    }
    held_bus_from_ = bus_last_;
    held_notify_from_ = notify_last_;
    const bool hold = wait_ && !bus.empty();
    if (!bus.empty()) bus_last_ = bus.back().id;
    if (!notify.empty()) notify_last_ = notify.back().id;
    // Fewer than asked for: this read reached the streams' ends.
    if (bus.size() < kBusBatch && notify.size() < kBusBatch) read_to_end_ = true;
    const auto now_us = static_cast<int64_t>(uv_hrtime() / 1000);
    for (RedisEntry& e : bus) pending_.push_back({false, now_us, std::move(e)});
    for (RedisEntry& e : notify) pending_.push_back({true, now_us, std::move(e)});
    coalescer_.on_arrival(bus.size() + notify.size(), newest_entry_us(bus, notify));
    if (hold) {
        held_ = true;
        confirm_held();
        return;
    }
    read();  // while these wait, the next ones arrive (not with WaitReplicas: see read())
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

void RedisBus::confirm_held() {
    retry_confirm_ = false;
    wait_->after([this, gen = hold_generation_](bool ok) {
        if (!held_ || gen != hold_generation_) return;
        if (!ok) {
            retry_confirm_ = true;
            return;
        }
        held_ = false;
        deliver_pending();
    });
}

void RedisBus::drop_held() {
    if (!held_) return;
    held_ = false;
    hold_generation_++;
    pending_.clear();
    bus_last_ = held_bus_from_;
    notify_last_ = held_notify_from_;
}

// When the newest entry of a read was stored, in microseconds of Redis's
// clock (its id's time): the coalescing policy measures the time between
// entries by when they were stored, not by when this instance got round
// to reading them (a loop that falls behind reads bursts of entries that
// were stored 10 ms apart).
int64_t RedisBus::newest_entry_us(const std::vector<RedisEntry>& bus, const std::vector<RedisEntry>& notify) {
    uint64_t ms = 0;
    for (const std::vector<RedisEntry>* v : {&bus, &notify}) {
        if (v->empty()) continue;
        if (auto id = parse_stream_id(v->back().id)) ms = std::max(ms, id->ms);
    }
    return static_cast<int64_t>(ms) * 1000;
}

int64_t RedisBus::hold_us(int64_t now_us) const {
    if (pending_.empty() || held_) return 0;
    return coalescer_.hold_us(pending_.size(), pending_.front().read_us, now_us);
}

size_t RedisBus::deliver_slice() {
    if (held_) return 0;
    size_t entries = 0, bytes = 0;
    std::string last_id;
    while (!pending_.empty() && entries < kBusSliceEntries && bytes < kBusSliceBytes) {
        Read r = std::move(pending_.front());
        pending_.pop_front();
        entries++;
        for (const auto& [k, v] : r.entry.fields) bytes += k.size() + v.size();
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
    read();
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

void RedisBus::note_caught_up() {
    if (caught_up_ || !read_to_end_ || !pending_.empty()) return;
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
