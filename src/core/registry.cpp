#include "core/registry.hpp"

namespace pushd {

void Registry::add_user_session(Session* session, std::string_view user_id) {
    auto it = users_.find(user_id);
    if (it == users_.end()) it = users_.emplace(std::string(user_id), UserEntry{}).first;
    UserEntry& u = it->second;
    session->user_id.assign(user_id);
    session->user_prev = u.newest;
    session->user_next = nullptr;
    if (u.newest)
        u.newest->user_next = session;
    else
        u.oldest = session;
    u.newest = session;
    u.count++;
    if (presence_) presence_->user_changed(user_id);
}

const UserEntry* Registry::find_user(std::string_view user_id) const {
    auto it = users_.find(user_id);
    return it == users_.end() ? nullptr : &it->second;
}

Registry::SubscribeResult Registry::subscribe(Session* session, std::string_view group_id, size_t max_per_session) {
    auto it = groups_.find(group_id);
    if (it != groups_.end() && subscription_index_.count({session, &it->second})) return SubscribeResult::already;
    if (session->subscriptions.size() >= max_per_session) return SubscribeResult::limit;
    if (it == groups_.end()) {
        it = groups_.emplace(std::string(group_id), GroupEntry{}).first;
        it->second.id.assign(group_id);
    }
    GroupEntry& g = it->second;
    const auto sub_index = static_cast<uint32_t>(session->subscriptions.size());
    const auto member_index = static_cast<uint32_t>(g.members.size());
    g.members.push_back({session, sub_index});
    session->subscriptions.push_back({&g, member_index});
    subscription_index_.emplace(SubscriptionKey{session, &g}, sub_index);
    if (presence_ && linked(session)) presence_->join(group_id, session->user_id);
    return SubscribeResult::added;
}

bool Registry::unsubscribe(Session* session, std::string_view group_id) {
    auto g = groups_.find(group_id);
    if (g == groups_.end()) return false;
    auto s = subscription_index_.find({session, &g->second});
    if (s == subscription_index_.end()) return false;
    remove_subscription(session, s->second);
    return true;
}

bool Registry::is_subscribed(const Session* session, std::string_view group_id) const {
    auto g = groups_.find(group_id);
    return g != groups_.end() && subscription_index_.count({session, &g->second});
}

Session::Subscription* Registry::find_subscription(Session* session, std::string_view group_id) {
    auto g = groups_.find(group_id);
    if (g == groups_.end()) return nullptr;
    auto s = subscription_index_.find({session, &g->second});
    return s == subscription_index_.end() ? nullptr : &session->subscriptions[s->second];
}

const GroupEntry* Registry::find_group(std::string_view group_id) const {
    auto it = groups_.find(group_id);
    return it == groups_.end() ? nullptr : &it->second;
}

// Swap-removes subscription `index` of `session` and its member slot in the
// group, fixing the back-indexes of whatever moved into the freed slots.
void Registry::remove_subscription(Session* session, uint32_t index) {
    auto& subs = session->subscriptions;
    GroupEntry* g = subs[index].group;
    const uint32_t member_index = subs[index].member_index;
    subscription_index_.erase({session, g});
    if (presence_ && linked(session)) presence_->leave(g->id, session->user_id);

    // The group's member slot: move the last member into it.
    auto& members = g->members;
    const auto last_member = static_cast<uint32_t>(members.size() - 1);
    if (member_index != last_member) {
        members[member_index] = members[last_member];
        const GroupEntry::Member& moved = members[member_index];
        moved.session->subscriptions[moved.subscription_index].member_index = member_index;
    }
    members.pop_back();

    // The session's subscription slot: move its last subscription into it.
    const auto last_sub = static_cast<uint32_t>(subs.size() - 1);
    if (index != last_sub) {
        subs[index] = subs[last_sub];
        const Session::Subscription& moved = subs[index];
        moved.group->members[moved.member_index].subscription_index = index;
        subscription_index_[{session, moved.group}] = index;
    }
    subs.pop_back();

    if (members.empty()) groups_.erase(groups_.find(std::string_view(g->id)));
}

bool Registry::linked(const Session* session) const {
    if (session->user_id.empty()) return false;
    auto it = users_.find(session->user_id);
    // Unlinked: neither end of the list, no neighbours.
    return it != users_.end() && (session->user_prev || session->user_next || it->second.oldest == session);
}

void Registry::unlink_user(Session* session) {
    if (!linked(session)) return;
    auto it = users_.find(session->user_id);
    UserEntry& u = it->second;
    if (presence_) {
        // A closing connection leaves presence at once, its groups too
        // (its subscriptions themselves stay until remove_session).
        for (const Session::Subscription& sub : session->subscriptions)
            presence_->leave(sub.group->id, session->user_id);
        presence_->user_changed(session->user_id);  // the count drops below
    }
    if (session->user_prev)
        session->user_prev->user_next = session->user_next;
    else
        u.oldest = session->user_next;
    if (session->user_next)
        session->user_next->user_prev = session->user_prev;
    else
        u.newest = session->user_prev;
    session->user_prev = session->user_next = nullptr;
    if (--u.count == 0) users_.erase(it);
}

void Registry::remove_session(Session* session) {
    while (!session->subscriptions.empty()) {
        remove_subscription(session, static_cast<uint32_t>(session->subscriptions.size() - 1));
    }
    session->subscriptions.shrink_to_fit();
    unlink_user(session);
}

}  // namespace pushd
