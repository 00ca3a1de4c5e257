// join_group and leave_group once authorized: the subscription, the replay
// of the group's history (join_group with since) and its handover to live
// delivery through the group's replay gate, then the ack (replay, then
// `ack` with `replayed`, then live messages; a failed replay leaves the
// connection unsubscribed: PROTOCOL.md section 3, docs/behaviour.md).
//
// The same gate holds a group's first live messages after AutoJoin
// subscribed it (kAutoJoinHoldMs): a join with since takes that hold over.
#pragma once

#include "core/hub_context.hpp"
#include "core/hub_limits.hpp"
#include "core/protocol.hpp"
#include "core/replay_gate.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace pushd {

class AutoJoin;
class FanOut;
class SessionLife;
class SessionOutput;

class GroupJoin {
public:
    GroupJoin(HubContext& ctx, SessionOutput& output, SessionLife& life, FanOut& fanout, AutoJoin& auto_join) :
        ctx_(ctx),
        output_(output),
        life_(life),
        fanout_(fanout),
        auto_join_(auto_join) {}
    GroupJoin(const GroupJoin&) = delete;
    GroupJoin& operator=(const GroupJoin&) = delete;

    // join_group, the membership already checked: subscribes `s`, replays
    // when the request has since, and acks.
    void join(Session* s, const Request& req, int64_t now_ms);
    // leave_group: unsubscribes (a replay in flight finds nothing to do) and acks.
    void leave(Session* s, const Request& req, int64_t now_ms);

    // Holds a live push of `m` for `s` when a replay (or AutoJoin's hold) of
    // its group is in flight; `own`: `s`'s user sent it. `id` is parsed here
    // on first need. True when held (or `s` was closed: past the bound).
    bool hold_live(Session* s, const StoredMessage& m, SharedFrame* frame, bool own, std::optional<StreamId>& id);

    // AutoJoin's hold of a group it subscribed: a ticket, or 0 when a
    // replay of the group is in flight already.
    uint64_t open_hold(Session* s, const std::string& group_id) { return gate_.open(s->id, group_id); }
    // True while the gate of `group_id` is still the one `ticket` opened.
    bool is_current(Session* s, const std::string& group_id, uint64_t ticket) const {
        return gate_.ticket(s->id, group_id) == ticket;
    }
    // Ends hold `ticket` and delivers what it held, in order.
    void release_hold(Session* s, const std::string& group_id, uint64_t ticket);

    // Ends every replay of `s` (it is closing).
    void forget(Session* s) { gate_.forget(s->id); }

private:
    void replay(Session* s, const Request& req, uint64_t held_by_auto_join);
    void finish_replay(uint64_t session_id, const std::string& group_id, const std::string& message_id,
                       const std::string& since, uint64_t ticket, ReplayResult result, int64_t now_ms);
    // Queues the replayed messages and the ack; false when `s` closed.
    bool send_replay(Session* s, const std::string& message_id, const ReplayResult& r, std::string* last,
                     int64_t now_ms);

    HubContext& ctx_;
    SessionOutput& output_;
    SessionLife& life_;
    FanOut& fanout_;
    AutoJoin& auto_join_;
    // join_group replays in flight, scoped by group id.
    ReplayGate gate_{kMaxReplayBuffered};
};

}  // namespace pushd
