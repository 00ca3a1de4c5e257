#include "core/fanout.hpp"

#include "core/group_join.hpp"
#include "core/inbox_replay.hpp"
#include "core/session_life.hpp"
#include "core/session_output.hpp"

namespace pushd {

void FanOut::expect_ack(Session* s, const std::string& key) {
    ack_order_.expect(s->id, key);
    s->ack_hold = true;
}

void FanOut::ack_sent(Session* s, const std::string& key) {
    bool idle = false;
    std::vector<FrameRef> free = ack_order_.acked(s->id, key, &idle);
    if (idle) s->ack_hold = false;
    for (FrameRef& f : free) {
        ctx_.counters.fanout_deliveries++;
        if (!output_.push(s, f.get(), OutType::new_message)) return;  // closed: the hold is gone with it
    }
}

void FanOut::forget(Session* s) {
    ack_order_.forget(s->id);
    s->ack_hold = false;
}

void FanOut::push_released(Session* s, std::vector<HeldPush>& released) {
    for (HeldPush& p : released) {
        push_group(s, p.frame.get(), p.ack_key);
        if (s->closing) return;
    }
}

void FanOut::push_group(Session* s, SharedFrame* frame, const std::string& ack_key) {
    if (s->ack_hold) {
        switch (ack_order_.offer(s->id, ack_key, frame)) {
        case AckOrder::Offer::held: return;
        case AckOrder::Offer::full: life_.close_slow_consumer(s); return;
        case AckOrder::Offer::deliver: break;
        }
    }
    ctx_.counters.fanout_deliveries++;
    output_.push(s, frame, OutType::new_message);
}

bool FanOut::covered_by_replay(Session::Subscription& sub, const StoredMessage& m, std::optional<StreamId>& id) {
    if (sub.replayed_upto == StreamId{}) return false;
    if (!id) id = parse_stream_id(m.message_id);
    if (id && replay_covers(sub.replayed_upto, *id)) return true;
    sub.replayed_upto = StreamId{};  // later messages are newer still
    return false;
}

void FanOut::deliver_group_message(const StoredMessage& m) {
    const GroupEntry* g = ctx_.registry.find_group(m.group_id);
    if (!g) return;
    FrameRef frame;              // built on first need: once per instance
    std::optional<StreamId> id;  // parsed on first need
    // Closes only mark sessions (memberships stay until the transport is
    // gone): the member vector is not modified during this loop.
    const size_t n = g->members.size();
    for (size_t i = 0; i < n; i++) {
        Session* s = g->members[i].session;
        if (covered_by_replay(s->subscriptions[g->members[i].subscription_index], m, id)) continue;
        if (!frame) {
            frame = FrameRef::adopt(frame_create_text(build_new_message(m, false), ctx_.frame_headroom));
            if (!frame) return;
        }
        const bool own = !m.sender_id.empty() && m.sender_id == s->user_id;
        if (groups_.hold_live(s, m, frame.get(), own, id)) continue;
        push_group(s, frame.get(), own && s->ack_hold ? AckOrder::key(m.group_id, m.client_message_id) : std::string());
    }
}

void FanOut::notify_session(Session* s, SharedFrame* frame, bool in_inbox, const std::optional<StreamId>& id) {
    if (s->closing || !s->authenticated) return;
    if (inbox_.hold_live(s, frame, in_inbox, id)) return;
    if (in_inbox && s->inbox_upto != StreamId{} && id && replay_covers(s->inbox_upto, *id)) return;  // replayed
    ctx_.counters.fanout_deliveries++;
    output_.push(s, frame, OutType::notification);
}

void FanOut::deliver_notification(const Notification& n) {
    FrameRef frame = FrameRef::adopt(
        frame_create_text(build_notification(n.id, n.data, n.timestamp_ms, false), ctx_.frame_headroom));
    if (!frame) return;
    const std::optional<StreamId> id = parse_stream_id(n.id);
    switch (n.target.kind) {
    case NotifyTargetKind::users: {
        // Collected first: a slow consumer's close unlinks it from its user.
        std::vector<Session*> targets;
        for (const std::string& uid : n.target.users) {
            if (const UserEntry* u = ctx_.registry.find_user(uid)) {
                for (Session* s = u->oldest; s; s = s->user_next) targets.push_back(s);
            }
        }
        for (Session* s : targets) notify_session(s, frame.get(), true, id);
        break;
    }
    case NotifyTargetKind::group:
        // Closes never change the member vector (see deliver_group_message).
        if (const GroupEntry* g = ctx_.registry.find_group(n.target.group_id)) {
            for (const GroupEntry::Member& m : g->members) notify_session(m.session, frame.get(), false, id);
        }
        break;
    case NotifyTargetKind::all:
        // Inherently a walk over every session; closes only mark sessions.
        for (auto& [sid, s] : ctx_.sessions) notify_session(s.get(), frame.get(), false, id);
        break;
    }
}

}  // namespace pushd
