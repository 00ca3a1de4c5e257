#include "core/presence_tracker.hpp"

#include "core/registry.hpp"

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

void PresenceTracker::user_changed(std::string_view user_id) { mark(dirty_users_, std::string(user_id)); }

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
    for (const std::string& u : dirty_users_) out.users.push_back({u, user_connections(u)});
    out.groups.reserve(dirty_groups_.size());
    for (const std::string& k : dirty_groups_) out.groups.push_back(split_pair_key(k, count_of(groups_, k)));
    clear_marks();
    return out;
}

PresenceChanges PresenceTracker::snapshot() {
    PresenceChanges out;
    if (users_) {
        out.users.reserve(users_->user_count());
        users_->for_each_user([&out](const std::string& u, const UserEntry& e) { out.users.push_back({u, e.count}); });
    }
    out.groups.reserve(groups_.size());
    for (const auto& [k, n] : groups_) out.groups.push_back(split_pair_key(k, n));
    clear_marks();
    return out;
}

void PresenceTracker::mark_unsent(const PresenceChanges& sent) {
    for (const PresenceUserCount& u : sent.users) mark(dirty_users_, u.user_id);
    for (const PresenceGroupCount& g : sent.groups) mark(dirty_groups_, pair_key(g.group_id, g.user_id));
}

// The marks go; so do their tables' buckets once a burst (thousands of
// connects between two writes) made them large: an idle instance keeps
// none of that.
void PresenceTracker::clear_marks() {
    constexpr size_t kKeepBuckets = 1024;
    for (std::unordered_set<std::string>* dirty : {&dirty_users_, &dirty_groups_}) {
        if (dirty->bucket_count() > kKeepBuckets)
            std::unordered_set<std::string>().swap(*dirty);
        else
            dirty->clear();
    }
}

uint32_t PresenceTracker::user_connections(std::string_view user_id) const {
    const UserEntry* u = users_ ? users_->find_user(user_id) : nullptr;
    return u ? u->count : 0;
}

size_t PresenceTracker::user_count() const { return users_ ? users_->user_count() : 0; }

uint32_t PresenceTracker::group_connections(std::string_view group_id, std::string_view user_id) const {
    return count_of(groups_, pair_key(group_id, user_id));
}

}  // namespace pushd
