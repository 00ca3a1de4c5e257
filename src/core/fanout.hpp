// Fan-out: a stored group message or notification read from storage (the
// bus) is serialized once and queued to every local recipient, with the two
// orderings it must respect: a push held behind a replay in flight (group
// or inbox: GroupJoin and InboxReplay keep those gates) and a sender's own
// push held behind its ack (ack-before-push: AckOrder).
//
// Hot path: no per-recipient serialization, no scan of all sessions except
// for an `all` notification, which is one by definition.
#pragma once

#include "core/ack_order.hpp"
#include "core/bus_entry.hpp"
#include "core/hub_context.hpp"
#include "core/hub_limits.hpp"
#include "core/replay_gate.hpp"

#include <optional>
#include <string>
#include <vector>

namespace pushd {

class GroupJoin;
class InboxReplay;
class SessionLife;
class SessionOutput;

class FanOut {
public:
    FanOut(HubContext& ctx, SessionOutput& output, SessionLife& life, GroupJoin& groups, InboxReplay& inbox) :
        ctx_(ctx),
        output_(output),
        life_(life),
        groups_(groups),
        inbox_(inbox) {}
    FanOut(const FanOut&) = delete;
    FanOut& operator=(const FanOut&) = delete;

    // Queues `m` to every local subscriber of its group.
    void deliver_group_message(const StoredMessage& m);
    // Queues `n` to every local authenticated session it targets.
    void deliver_notification(const Notification& n);

    // `s` sent a message stored under `key` (AckOrder::key): its own pushes
    // of that group wait for the ack until ack_sent(s, key).
    void expect_ack(Session* s, const std::string& key);
    // The ack for `key` was queued: what waited behind it follows.
    void ack_sent(Session* s, const std::string& key);

    // Delivers pushes a replay gate released, in order.
    void push_released(Session* s, std::vector<HeldPush>& released);

    // Drops what `s` had waiting behind an ack.
    void forget(Session* s);

private:
    // Delivers one group push unless it must wait behind an ack (`ack_key`:
    // AckOrder's key when the session's user sent it).
    void push_group(Session* s, SharedFrame* frame, const std::string& ack_key);
    void notify_session(Session* s, SharedFrame* frame, bool in_inbox, const std::optional<StreamId>& id);
    // Whether the subscription's replay carried `m` already (the bus may
    // deliver what a replay read after the replay's answer).
    static bool covered_by_replay(Session::Subscription& sub, const StoredMessage& m, std::optional<StreamId>& id);

    HubContext& ctx_;
    SessionOutput& output_;
    SessionLife& life_;
    GroupJoin& groups_;
    InboxReplay& inbox_;
    // Sessions with send_message in flight whose own pushes must follow
    // their acks (Session::ack_hold marks them).
    AckOrder ack_order_{kMaxReplayBuffered};
};

}  // namespace pushd
