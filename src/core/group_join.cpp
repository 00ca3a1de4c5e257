#include "core/group_join.hpp"

#include "core/ack_order.hpp"
#include "core/auto_join.hpp"
#include "core/fanout.hpp"
#include "core/session_life.hpp"
#include "core/session_output.hpp"

namespace pushd {

void GroupJoin::join(Session* s, const Request& req, int64_t now_ms) {
    // What AutoJoin holds for this group is taken over by this join.
    const uint64_t held_by_auto_join = auto_join_.take_hold(s, req.group_id);
    if (req.since && !held_by_auto_join && gate_.is_open(s->id, req.group_id)) {
        output_.ack_fail(s, *req.message_id, ReplyCode::conflict, "a replay of this group is already in progress",
                         now_ms);
        return;
    }
    if (ctx_.registry.subscribe(s, req.group_id, kMaxGroupsPerSession) == Registry::SubscribeResult::limit) {
        output_.ack_fail(s, *req.message_id, ReplyCode::rate_limited, "too many groups on this connection", now_ms);
        return;
    }
    if (req.since) {
        replay(s, req, held_by_auto_join);
        return;
    }
    if (!output_.reply(s, build_ack_ok(*req.message_id, now_ms), OutType::ack)) return;
    if (held_by_auto_join) release_hold(s, req.group_id, held_by_auto_join);
}

// Replay first, then the ack, then live messages: live ones of this group
// for this session wait in the gate until the replay's answer (those
// AutoJoin held already were stored before the replay's read: the boundary
// drops them).
void GroupJoin::replay(Session* s, const Request& req, uint64_t held_by_auto_join) {
    const uint64_t ticket = held_by_auto_join ? gate_.retake(s->id, req.group_id) : gate_.open(s->id, req.group_id);
    ctx_.store.replay_group(
        req.group_id, *req.since, kMaxReplayEntries,
        [this, sid = s->id, ticket, gid = req.group_id, mid = *req.message_id, since = *req.since](ReplayResult r) {
            finish_replay(sid, gid, mid, since, ticket, std::move(r), ctx_.now());
        });
}

void GroupJoin::leave(Session* s, const Request& req, int64_t now_ms) {
    ctx_.registry.unsubscribe(s, req.group_id);
    gate_.abandon(s->id, req.group_id);  // its replay answer will find nothing to do
    output_.reply(s, build_ack_ok(*req.message_id, now_ms), OutType::ack);
}

bool GroupJoin::send_replay(Session* s, const std::string& message_id, const ReplayResult& r, std::string* last,
                            int64_t now_ms) {
    for (const StoredMessage& m : r.messages) {
        if (!output_.reply(s, build_new_message(m, true), OutType::new_message)) return false;
        ctx_.counters.fanout_deliveries++;
        *last = m.message_id;
    }
    AckExtra extra;
    extra.truncated = r.truncated;
    extra.replayed = r.messages.size();
    return output_.reply(s, build_ack_ok(message_id, now_ms, extra), OutType::ack);
}

void GroupJoin::finish_replay(uint64_t sid, const std::string& gid, const std::string& mid, const std::string& since,
                              uint64_t ticket, ReplayResult r, int64_t now_ms) {
    Session* s = ctx_.find_open_session(sid);
    if (!s) return;
    if (gate_.ticket(sid, gid) != ticket) {
        // The client left the group meanwhile (the gate went with it): the
        // join still gets its one ack, and nothing is replayed.
        AckExtra extra;
        extra.replayed = 0;
        output_.reply(s, build_ack_ok(mid, now_ms, extra), OutType::ack);
        return;
    }
    if (r.status == StoreStatus::unavailable) {
        // Nothing changes (contract v1.1): not subscribed, nothing held is
        // delivered; the client retries with the same since.
        gate_.abandon(sid, gid);
        ctx_.registry.unsubscribe(s, gid);
        output_.ack_fail(s, mid, ReplyCode::storage_unavailable,
                         "storage unavailable; history not replayed, not subscribed; retry", now_ms);
        return;
    }
    std::string last;
    if (!send_replay(s, mid, r, &last, now_ms)) return;
    // The boundary: held pushes at or below it were replayed (or are older
    // than since); a bus behind the replay's read skips them later too.
    const std::optional<StreamId> boundary = replay_boundary(since, last);
    if (boundary) {
        if (Session::Subscription* sub = ctx_.registry.find_subscription(s, gid)) {
            if (*boundary > sub->replayed_upto) sub->replayed_upto = *boundary;
        }
    }
    auto released = gate_.close(sid, gid, ticket, boundary);
    if (released) fanout_.push_released(s, *released);
}

void GroupJoin::release_hold(Session* s, const std::string& group_id, uint64_t ticket) {
    auto released = gate_.close(s->id, group_id, ticket, std::nullopt);
    if (released) fanout_.push_released(s, *released);
}

bool GroupJoin::hold_live(Session* s, const StoredMessage& m, SharedFrame* frame, bool own,
                          std::optional<StreamId>& id) {
    if (gate_.empty()) return false;
    ReplayGate::Open* gate = gate_.find(s->id, m.group_id);
    if (!gate) return false;
    if (!id) id = parse_stream_id(m.message_id);
    HeldPush p{id.value_or(StreamId{}), true, FrameRef::share(frame),
               own ? AckOrder::key(m.group_id, m.client_message_id) : std::string()};
    if (gate_.hold(gate, std::move(p)) == ReplayGate::Hold::full) life_.close_slow_consumer(s);
    return true;
}

}  // namespace pushd
