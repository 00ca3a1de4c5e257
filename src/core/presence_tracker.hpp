// This instance's share of presence (Groups.Presence): how many of its
// authenticated connections each user has, and how many of them are
// subscribed to each group, plus which of those counts changed since Redis
// was last told. The Registry reports every change here (it is the one
// place where users and subscriptions change); io/redis_presence takes the
// changed counts and writes them to Redis, where the scripts of
// core/presence_schema turn them into cluster-wide online/offline events.
//
// A user's count is the Registry's own (its linked sessions, UserEntry::
// count), read when Redis is to learn it: the tracker keeps no per-user
// table of its own, only the (group, user) counts the Registry does not
// have (that per-user copy cost ~100 bytes a connected user; issue 16).
//
// Counts, not deltas, go to Redis: writing one twice changes nothing, so a
// batch whose answer was lost is simply sent again. The dirty sets are
// bounded by the counts themselves (one entry per user and per
// (group, user) pair held here): while Redis is away they coalesce instead
// of growing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pushd {

// One count as Redis is to hold it; 0 means "remove".
struct PresenceUserCount {
    std::string user_id;
    uint32_t connections = 0;
    bool operator==(const PresenceUserCount&) const = default;
};
struct PresenceGroupCount {
    std::string group_id;
    std::string user_id;
    uint32_t connections = 0;
    bool operator==(const PresenceGroupCount&) const = default;
};

// What Redis must learn: changed counts (take_changes), or all of them
// (snapshot).
struct PresenceChanges {
    std::vector<PresenceUserCount> users;
    std::vector<PresenceGroupCount> groups;
    bool empty() const { return users.empty() && groups.empty(); }
};

class Registry;

class PresenceTracker {
public:
    // Where the users' counts are read: `users` (the Registry that reports
    // here; it must outlive the tracker's use). Until set, every user
    // count reads 0.
    void read_users_from(const Registry* users) { users_ = users; }

    // The number of authenticated connections of `user_id` changed (the
    // Registry's count is already, or is about to be, the new one: it is
    // read when the changes are taken).
    void user_changed(std::string_view user_id);
    // A connection of `user_id` subscribed to / unsubscribed from `group_id`.
    void join(std::string_view group_id, std::string_view user_id);
    void leave(std::string_view group_id, std::string_view user_id);

    // The counts changed since the last take_changes (or snapshot), as they
    // are now, each once; clears the changed marks.
    PresenceChanges take_changes();
    // Every nonzero count; clears the changed marks (the snapshot says all).
    PresenceChanges snapshot();
    // `sent` did not reach Redis: its entries are marked changed again (their
    // counts are read afresh at the next take_changes).
    void mark_unsent(const PresenceChanges& sent);
    bool has_changes() const { return !dirty_users_.empty() || !dirty_groups_.empty(); }

    uint32_t user_connections(std::string_view user_id) const;
    uint32_t group_connections(std::string_view group_id, std::string_view user_id) const;
    size_t user_count() const;
    size_t group_pair_count() const { return groups_.size(); }

    // Called when the first change after a take_changes/snapshot is marked:
    // io schedules a write. Optional.
    std::function<void()> on_change;

private:
    // (group, user) as one key: "<group length>:<group><user>", unambiguous
    // whatever characters either holds.
    static std::string pair_key(std::string_view group_id, std::string_view user_id);
    static PresenceGroupCount split_pair_key(const std::string& key, uint32_t connections);
    void mark(std::unordered_set<std::string>& dirty, const std::string& key);
    void clear_marks();

    const Registry* users_ = nullptr;
    std::unordered_map<std::string, uint32_t> groups_;
    std::unordered_set<std::string> dirty_users_;
    std::unordered_set<std::string> dirty_groups_;
};

}  // namespace pushd
