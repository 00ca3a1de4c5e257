#include "core/inbox_replay.hpp"

#include "core/protocol.hpp"
#include "core/session_life.hpp"
#include "core/session_output.hpp"

namespace pushd {

namespace {

// The inbox gate's one scope per session (group gates are scoped by group id).
const std::string kInboxScope;

}  // namespace

void InboxReplay::start(Session* s, const std::string& since) {
    const uint64_t ticket = gate_.open(s->id, kInboxScope);
    if (ticket == 0) return;
    waits_[s->id] = Wait{since, ticket, false};
    ask(s);
}

void InboxReplay::retry(Session* s) {
    if (waiting(s)) ask(s);
}

void InboxReplay::waiting_sessions(std::vector<uint64_t>& ids) const {
    for (const auto& [id, w] : waits_) ids.push_back(id);
}

void InboxReplay::forget(Session* s) {
    gate_.forget(s->id);
    waits_.erase(s->id);
}

void InboxReplay::ask(Session* s) {
    auto it = waits_.find(s->id);
    if (it == waits_.end() || it->second.asking) return;
    it->second.asking = true;
    const uint64_t ticket = it->second.ticket;
    ctx_.store.replay_inbox(s->user_id, it->second.since, kMaxReplayEntries,
                            [this, sid = s->id, ticket](InboxResult r) { finish(sid, ticket, std::move(r)); });
}

bool InboxReplay::send_replay(Session* s, const InboxResult& r, std::string* last) {
    for (const StoredNotification& n : r.notifications) {
        if (!output_.reply(s, build_notification(n.id, n.data, n.timestamp_ms, true), OutType::notification)) {
            return false;
        }
        ctx_.counters.fanout_deliveries++;
        *last = n.id;
    }
    return true;
}

void InboxReplay::finish(uint64_t sid, uint64_t ticket, InboxResult r) {
    Session* s = ctx_.find_open_session(sid);
    if (!s) return;
    auto wait = waits_.find(sid);
    if (wait == waits_.end() || wait->second.ticket != ticket) return;
    wait->second.asking = false;
    if (r.status == StoreStatus::unavailable) {
        // Contract v1.1: read again once storage answers; live
        // notifications keep waiting in the gate, behind the replay.
        ctx_.counters.inbox_replay_retries++;
        life_.arm(s, ctx_.now() + kStorageRetryMs, DeadlineKind::storage_retry);
        return;
    }
    const std::string since = std::move(wait->second.since);
    waits_.erase(wait);
    std::string last;
    if (!send_replay(s, r, &last)) return;
    const std::optional<StreamId> boundary = replay_boundary(since, last);
    if (boundary && *boundary > s->inbox_upto) s->inbox_upto = *boundary;
    auto released = gate_.close(sid, kInboxScope, ticket, boundary);
    if (!released) return;
    for (HeldPush& p : *released) {
        ctx_.counters.fanout_deliveries++;
        if (!output_.push(s, p.frame.get(), OutType::notification)) return;
    }
}

bool InboxReplay::hold_live(Session* s, SharedFrame* frame, bool in_inbox, const std::optional<StreamId>& id) {
    if (gate_.empty()) return false;
    ReplayGate::Open* gate = gate_.find(s->id, kInboxScope);
    if (!gate) return false;
    HeldPush p{id.value_or(StreamId{}), in_inbox, FrameRef::share(frame), std::string()};
    if (gate_.hold(gate, std::move(p)) == ReplayGate::Hold::full) life_.close_slow_consumer(s);
    return true;
}

}  // namespace pushd
