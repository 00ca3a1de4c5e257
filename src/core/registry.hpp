// The hashed tables of one instance: user id -> that user's sessions, and
// group id -> subscribed sessions. Every operation is O(1) in the number of
// sessions and groups (disconnect is O(that session's subscriptions)); no
// operation scans all sessions or all groups.
#pragma once

#include "core/presence_tracker.hpp"
#include "core/session.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pushd {

struct GroupEntry {
    std::string id;
    // Subscribed sessions, contiguous for fast fan-out. Each member knows
    // its slot in the session's subscription list so swap-removal is O(1).
    struct Member {
        Session* session;
        uint32_t subscription_index;
    };
    std::vector<Member> members;
};

struct UserEntry {
    Session* oldest = nullptr;  // list through Session::user_prev/next
    Session* newest = nullptr;
    uint32_t count = 0;
};

// Hash and equality that let unordered_map<std::string, ...> be searched
// with a string_view without building a std::string.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Registry {
public:
    enum class SubscribeResult { added, already, limit };

    // Records `session` as authenticated for `user_id` (its newest session).
    // The session must not already belong to a user.
    void add_user_session(Session* session, std::string_view user_id);

    // The user's sessions, or nullptr when none are on this instance.
    const UserEntry* find_user(std::string_view user_id) const;

    // Subscribes `session` to group `group_id`. `max_per_session` bounds the
    // session's subscriptions (limit is returned past it, nothing changes).
    SubscribeResult subscribe(Session* session, std::string_view group_id, size_t max_per_session);

    // Unsubscribes; false when the session was not subscribed.
    bool unsubscribe(Session* session, std::string_view group_id);

    // The session's subscription to `group_id`, or nullptr. Valid until
    // the session's subscriptions change.
    Session::Subscription* find_subscription(Session* session, std::string_view group_id);

    // True when `session` is subscribed to `group_id`.
    bool is_subscribed(const Session* session, std::string_view group_id) const;

    // The group's subscribers, or nullptr when it has none here. The vector
    // is invalidated by subscribe/unsubscribe/remove_session: callers that
    // fan out must defer closes, never remove during iteration.
    const GroupEntry* find_group(std::string_view group_id) const;

    // Takes `session` out of its user's sessions (it is closing); its
    // subscriptions stay until remove_session. Safe during a fan-out.
    void unlink_user(Session* session);

    // Removes every trace of `session`: its subscriptions (empty groups are
    // dropped) and its place among its user's sessions.
    void remove_session(Session* session);

    // Every change of a user's sessions and of a subscription is reported
    // to `presence` from here on (nullptr: none, Groups.Presence false),
    // which reads its users' counts from here. A session counts there from
    // its auth until it closes (unlink_user) or is removed, whichever comes
    // first.
    void set_presence(PresenceTracker* presence) {
        presence_ = presence;
        if (presence_) presence_->read_users_from(this);  // its user counts are ours
    }

    // Calls `fn(user_id, entry)` for every user with linked sessions here.
    template <class Fn>
    void for_each_user(Fn&& fn) const {
        for (const auto& [id, entry] : users_) fn(id, entry);
    }

    size_t user_count() const { return users_.size(); }
    size_t group_count() const { return groups_.size(); }

private:
    // (session, group) -> index of the subscription in the session's list:
    // answers "is it subscribed, and where" in O(1) for leave and re-join.
    struct SubscriptionKey {
        const Session* session;
        const GroupEntry* group;
        bool operator==(const SubscriptionKey&) const = default;
    };
    struct SubscriptionKeyHash {
        size_t operator()(const SubscriptionKey& k) const {
            return std::hash<const void*>{}(k.session) * 31 + std::hash<const void*>{}(k.group);
        }
    };

    void remove_subscription(Session* session, uint32_t index);
    // Whether `session` is among its user's sessions (authenticated, not
    // unlinked): what presence counts.
    bool linked(const Session* session) const;

    std::unordered_map<SubscriptionKey, uint32_t, SubscriptionKeyHash> subscription_index_;

    std::unordered_map<std::string, UserEntry, StringHash, std::equal_to<>> users_;
    std::unordered_map<std::string, GroupEntry, StringHash, std::equal_to<>> groups_;
    PresenceTracker* presence_ = nullptr;
};

}  // namespace pushd
