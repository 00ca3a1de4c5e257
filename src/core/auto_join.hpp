// Groups.AutoJoin: on a connection's first authentication, the user's group
// set is read from storage and each group subscribed. Meanwhile the
// connection's requests wait (bounded, reading paused past
// kPauseHeldRequests) and are handled in order once the set arrives. The
// first live messages of each group subscribed so wait kAutoJoinHoldMs for
// a join_group with since, which takes them over (GroupJoin). When storage
// cannot answer, the set is asked again by the server (contract v1.1), and
// groups the client joined or left meanwhile are left alone.
#pragma once

#include "core/hub_context.hpp"
#include "core/hub_limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace pushd {

class Dispatch;
class GroupJoin;
class SessionLife;

class AutoJoin {
public:
    AutoJoin(HubContext& ctx, SessionLife& life, GroupJoin& groups, Dispatch& dispatch) :
        ctx_(ctx),
        life_(life),
        groups_(groups),
        dispatch_(dispatch) {}
    AutoJoin(const AutoJoin&) = delete;
    AutoJoin& operator=(const AutoJoin&) = delete;

    // Reads the group set of `s`'s user (just authenticated for the first
    // time) and holds its requests until it arrives.
    void start(Session* s);
    // A request that arrived while `s` is held (Session::holding).
    void hold_request(Session* s, std::string_view text, bool rate_limited);

    // The client joined or left `group_id` itself: a late AutoJoin leaves it alone.
    void note_touched(Session* s, const std::string& group_id);
    // Ends AutoJoin's hold of `group_id` for a join_group taking it over:
    // the gate's ticket when the hold is still AutoJoin's, else 0.
    uint64_t take_hold(Session* s, const std::string& group_id);
    // kAutoJoinHoldMs passed: releases every hold of `s`, in order.
    void release_holds(Session* s);

    // Asks storage again when `s` waits for it.
    void retry(Session* s);
    bool waiting(const Session* s) const { return waits_.count(s->id) != 0; }
    bool holding(const Session* s) const { return holds_.count(s->id) != 0; }
    size_t waiting_count() const { return waits_.size(); }
    // Appends the ids of the sessions waiting for storage to `ids`.
    void waiting_sessions(std::vector<uint64_t>& ids) const;

    // Drops what `s` had pending here (it is closing).
    void forget(Session* s);

private:
    // An AutoJoin whose group set could not be read yet.
    struct Wait {
        std::unordered_set<std::string> touched;  // joined or left meanwhile: left alone
        bool asking = false;
    };

    void finish(uint64_t session_id, GroupsResult result);
    void subscribe_first(Session* s, const GroupsResult& r);
    void handle_held_requests(Session* s);
    void ask_again(Session* s);
    void finish_retry(uint64_t session_id, GroupsResult result);

    HubContext& ctx_;
    SessionLife& life_;
    GroupJoin& groups_;
    Dispatch& dispatch_;
    std::unordered_map<uint64_t, Wait> waits_;
    // Open holds: session -> (group, gate ticket).
    std::unordered_map<uint64_t, std::vector<std::pair<std::string, uint64_t>>> holds_;
};

}  // namespace pushd
