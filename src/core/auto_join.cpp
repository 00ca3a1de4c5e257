#include "core/auto_join.hpp"

#include "core/dispatch.hpp"
#include "core/group_join.hpp"
#include "core/protocol.hpp"
#include "core/session_life.hpp"
#include "core/status_codes.hpp"

namespace pushd {

void AutoJoin::start(Session* s) {
    s->holding = true;
    ctx_.store.user_groups(s->user_id, kMaxGroupsPerSession,
                           [this, sid = s->id](GroupsResult r) { finish(sid, std::move(r)); });
}

void AutoJoin::hold_request(Session* s, std::string_view text, bool rate_limited) {
    if (s->held.size() >= kMaxHeldRequests || s->held_bytes + text.size() > kMaxHeldBytes) {
        ctx_.counters.protocol_closes++;
        life_.close(s, kClosePolicy, "too many requests before auto-join completed");
        return;
    }
    s->held.push_back(Session::HeldRequest{std::string(text), rate_limited});
    s->held_bytes += text.size();
    if (s->held.size() >= kPauseHeldRequests && !s->reading_paused && ctx_.transport.pause_reading) {
        s->reading_paused = true;
        ctx_.transport.pause_reading(s, true);
    }
}

void AutoJoin::finish(uint64_t sid, GroupsResult r) {
    Session* s = ctx_.find_session(sid);
    if (!s || !s->holding) return;
    s->holding = false;
    if (s->closing) return;
    if (r.status == StoreStatus::unavailable) {
        // Contract v1.1: subscribed as soon as storage answers. The
        // connection is not held meanwhile: what needs no storage is served.
        ctx_.counters.auto_join_failures++;
        waits_.try_emplace(sid);
        life_.arm(s, ctx_.now() + kStorageRetryMs, DeadlineKind::storage_retry);
    } else {
        subscribe_first(s, r);
    }
    handle_held_requests(s);
}

void AutoJoin::subscribe_first(Session* s, const GroupsResult& r) {
    for (const std::string& g : r.groups) {
        if (!valid_group_id(g)) continue;
        if (ctx_.registry.subscribe(s, g, kMaxGroupsPerSession) != Registry::SubscribeResult::added) continue;
        ctx_.counters.auto_joined++;
        if (const uint64_t ticket = groups_.open_hold(s, g)) holds_[s->id].emplace_back(g, ticket);
    }
    if (holding(s)) life_.arm(s, ctx_.now() + kAutoJoinHoldMs, DeadlineKind::auto_join_release);
}

// The requests that arrived meanwhile, in order. None of them can start
// another hold (only a connection's first authentication does).
void AutoJoin::handle_held_requests(Session* s) {
    std::vector<Session::HeldRequest> held = std::move(s->held);
    s->held.clear();
    s->held_bytes = 0;
    for (Session::HeldRequest& req : held) {
        if (s->closing) break;
        dispatch_.process_text(s, req.text, req.rate_limited, ctx_.now());
    }
    if (s->reading_paused && !s->closing) {
        s->reading_paused = false;
        ctx_.transport.pause_reading(s, false);
    }
}

uint64_t AutoJoin::take_hold(Session* s, const std::string& group_id) {
    if (holds_.empty()) return 0;
    auto it = holds_.find(s->id);
    if (it == holds_.end()) return 0;
    auto& holds = it->second;
    for (size_t i = 0; i < holds.size(); i++) {
        if (holds[i].first != group_id) continue;
        const uint64_t ticket = holds[i].second;
        holds.erase(holds.begin() + static_cast<std::ptrdiff_t>(i));
        if (holds.empty()) holds_.erase(it);
        return groups_.is_current(s, group_id, ticket) ? ticket : 0;
    }
    return 0;
}

void AutoJoin::release_holds(Session* s) {
    auto it = holds_.find(s->id);
    if (it == holds_.end()) return;
    auto holds = std::move(it->second);
    holds_.erase(it);
    for (auto& [group, ticket] : holds) {
        groups_.release_hold(s, group, ticket);
        if (s->closing) return;
    }
}

void AutoJoin::note_touched(Session* s, const std::string& group_id) {
    if (waits_.empty()) return;
    auto it = waits_.find(s->id);
    if (it != waits_.end() && it->second.touched.size() < kMaxTouchedGroups) it->second.touched.insert(group_id);
}

void AutoJoin::retry(Session* s) {
    if (waiting(s)) ask_again(s);
}

void AutoJoin::waiting_sessions(std::vector<uint64_t>& ids) const {
    for (const auto& [id, w] : waits_) ids.push_back(id);
}

void AutoJoin::forget(Session* s) {
    waits_.erase(s->id);
    holds_.erase(s->id);
}

void AutoJoin::ask_again(Session* s) {
    auto it = waits_.find(s->id);
    if (it == waits_.end() || it->second.asking) return;
    it->second.asking = true;
    ctx_.store.user_groups(s->user_id, kMaxGroupsPerSession,
                           [this, sid = s->id](GroupsResult r) { finish_retry(sid, std::move(r)); });
}

// A late AutoJoin subscribes to the groups the client did not join or
// leave itself meanwhile: a group it joined with `since` (or is retrying
// after a 503) must not start receiving live messages ahead of its replay.
void AutoJoin::finish_retry(uint64_t sid, GroupsResult r) {
    Session* s = ctx_.find_open_session(sid);
    if (!s) return;
    auto it = waits_.find(sid);
    if (it == waits_.end()) return;
    it->second.asking = false;
    if (r.status == StoreStatus::unavailable) {
        life_.arm(s, ctx_.now() + kStorageRetryMs, DeadlineKind::storage_retry);
        return;
    }
    Wait wait = std::move(it->second);
    waits_.erase(it);
    for (const std::string& g : r.groups) {
        if (!valid_group_id(g) || wait.touched.count(g)) continue;
        if (ctx_.registry.subscribe(s, g, kMaxGroupsPerSession) == Registry::SubscribeResult::added) {
            ctx_.counters.auto_joined++;
        }
    }
}

}  // namespace pushd
