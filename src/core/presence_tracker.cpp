#include "core/presence_tracker.hpp"

namespace pushd {
namespace {

// Adds `delta` (+1 or -1) to `key`'s count, erasing it at zero. False when
// a decrement found nothing to take from (a caller's bug: nothing changes).
bool add(std::unordered_map<std::string, uint32_t>& counts, const std::string& key, int delta) {
    auto it = counts.find(key);
    if (delta > 0) {
        if (it == counts.end()) it = counts.emplace(key, 0).first;
        it->second++;
        return true;
    }
    if (it == counts.end()) return false;
    if (--it->second == 0) counts.erase(it);
    return true;
}

uint32_t count_of(const std::unordered_map<std::string, uint32_t>& counts, const std::string& key) {
    auto it = counts.find(key);
    return it == counts.end() ? 0 : it->second;
}

}  // namespace

std::string PresenceTracker::pair_key(std::string_view group_id, std::string_view user_id) {
    std::string key = std::to_string(group_id.size());
    key += ':';
    key += group_id;
    key += user_id;
    return key;
}

PresenceGroupCount PresenceTracker::split_pair_key(const std::string& key, uint32_t connections) {
    const size_t colon = key.find(':');
    const size_t len = std::stoul(key.substr(0, colon));
    return {key.substr(colon + 1, len), key.substr(colon + 1 + len), connections};
}

void PresenceTracker::mark(std::unordered_set<std::string>& dirty, const std::string& key) {
    const bool first = !has_changes();
    dirty.insert(key);
    if (first && on_change) on_change();
}

void PresenceTracker::connect(std::string_view user_id) {
    std::string key(user_id);
    add(users_, key, +1);
    mark(dirty_users_, key);
}

void PresenceTracker::disconnect(std::string_view user_id) {
    std::string key(user_id);
    if (add(users_, key, -1)) mark(dirty_users_, key);
}

void PresenceTracker::join(std::string_view group_id, std::string_view user_id) {
    std::string key = pair_key(group_id, user_id);
    add(groups_, key, +1);
    mark(dirty_groups_, key);
}

void PresenceTracker::leave(std::string_view group_id, std::string_view user_id) {
    std::string key = pair_key(group_id, user_id);
    if (add(groups_, key, -1)) mark(dirty_groups_, key);
}

PresenceChanges PresenceTracker::take_changes() {
    PresenceChanges out;
    out.users.reserve(dirty_users_.size());
    for (const std::string& u : dirty_users_) out.users.push_back({u, count_of(users_, u)});
    out.groups.reserve(dirty_groups_.size());
    for (const std::string& k : dirty_groups_) out.groups.push_back(split_pair_key(k, count_of(groups_, k)));
    dirty_users_.clear();
    dirty_groups_.clear();
    return out;
}

PresenceChanges PresenceTracker::snapshot() {
    PresenceChanges out;
    out.users.reserve(users_.size());
    for (const auto& [u, n] : users_) out.users.push_back({u, n});
    out.groups.reserve(groups_.size());
    for (const auto& [k, n] : groups_) out.groups.push_back(split_pair_key(k, n));
    dirty_users_.clear();
    dirty_groups_.clear();
    return out;
}

void PresenceTracker::mark_unsent(const PresenceChanges& sent) {
    for (const PresenceUserCount& u : sent.users) mark(dirty_users_, u.user_id);
    for (const PresenceGroupCount& g : sent.groups) mark(dirty_groups_, pair_key(g.group_id, g.user_id));
}

uint32_t PresenceTracker::user_connections(std::string_view user_id) const {
    return count_of(users_, std::string(user_id));
}

uint32_t PresenceTracker::group_connections(std::string_view group_id, std::string_view user_id) const {
    return count_of(groups_, pair_key(group_id, user_id));
}

}  // namespace pushd
