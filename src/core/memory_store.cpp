#include "core/memory_store.hpp"

namespace pushd {

MemoryStore::MemoryStore(const Config* config, std::function<void(const StoredMessage&)> on_message) :
    config_(config),
    on_message_(std::move(on_message)) {}

StoreOps MemoryStore::ops() {
    StoreOps ops;
    ops.append = [this](const AppendRequest& r, std::function<void(AppendResult)> done) { append(r, done); };
    ops.replay_group = [this](const std::string& g, const std::string& since, size_t limit,
                              std::function<void(ReplayResult)> done) { replay(g, since, limit, done); };
    ops.check_member = [this](const std::string& g, const std::string& u, std::function<void(MembershipResult)> done) {
        MembershipResult r;
        if (!down_) {
            r.status = StoreStatus::ok;
            auto it = members_.find(g);
            r.member = it != members_.end() && it->second.count(u);
        }
        done(r);
    };
    ops.mark_read = [this](const std::string& u, const std::string& g, const std::string& id,
                           std::function<void(StoreStatus)> done) {
        if (down_) {
            done(StoreStatus::unavailable);
            return;
        }
        read_[{u, g}] = id;
        done(StoreStatus::ok);
    };
    ops.user_groups = [this](const std::string& u, size_t limit, std::function<void(GroupsResult)> done) {
        GroupsResult r;
        if (!down_) {
            r.status = StoreStatus::ok;
            if (auto it = user_groups_.find(u); it != user_groups_.end()) {
                for (const std::string& g : it->second) {
                    if (r.groups.size() >= limit) break;
                    r.groups.push_back(g);
                }
            }
        }
        done(r);
    };
    ops.replay_inbox = [this](const std::string& u, const std::string& since, size_t limit,
                              std::function<void(InboxResult)> done) {
        InboxResult r;
        if (!down_) {
            r.status = StoreStatus::ok;
            auto since_id = parse_stream_id(since);
            auto it = inboxes_.find(u);
            if (since_id && it != inboxes_.end()) {
                for (const StoredNotification& n : it->second.entries) {
                    if (r.notifications.size() >= limit) break;
                    if (*parse_stream_id(n.id) > *since_id) r.notifications.push_back(n);
                }
            }
        }
        done(r);
    };
    ops.store_inbox = [this](const std::string& u, const StoredNotification& n, std::function<void(StoreStatus)> done) {
        done(store_inbox(u, n));
    };
    return ops;
}

void MemoryStore::expire_dedup(int64_t now_ms) {
    const int64_t window_ms = config_->groups.dedup_window * 1000;
    while (!dedup_order_.empty() &&
           (dedup_order_.front().first + window_ms <= now_ms || dedup_order_.size() > kMaxDedupEntries)) {
        auto it = dedup_.find(dedup_order_.front().second);
        // A key re-used after expiry has a newer entry: only drop the one
        // this order record was made for.
        if (it != dedup_.end() && it->second.at_ms == dedup_order_.front().first) dedup_.erase(it);
        dedup_order_.pop_front();
    }
}

void MemoryStore::append(const AppendRequest& req, const std::function<void(AppendResult)>& done) {
    AppendResult r;
    if (down_) {
        r.error = "in-process store marked unavailable";
        done(r);
        return;
    }
    expire_dedup(req.now_ms);
    // One retry is the same (user, group, message_id): contract v1.1.
    std::string key = std::to_string(req.sender_id.size()) + ":" + req.sender_id;
    key += std::to_string(req.group_id.size()) + ":" + req.group_id;
    key += req.client_message_id;
    if (auto it = dedup_.find(key); it != dedup_.end()) {
        r.status = StoreStatus::duplicate;
        r.server_message_id = it->second.server_message_id;
        done(r);
        return;
    }
    auto g = groups_.find(req.group_id);
    if (g == groups_.end()) {
        if (groups_.size() >= kMaxGroups) {
            r.error = "in-process store: too many groups";
            done(r);
            return;
        }
        g = groups_.emplace(req.group_id, GroupHistory{}).first;
    }
    GroupHistory& h = g->second;
    // Like XADD: the time part never goes backwards, the sequence breaks ties.
    StreamId id{static_cast<uint64_t>(req.now_ms), 0};
    if (id <= h.last) id = StreamId{h.last.ms, h.last.seq + 1};
    h.last = id;
    StoredMessage m;
    m.group_id = req.group_id;
    m.message_id = format_stream_id(id);
    m.client_message_id = req.client_message_id;
    m.sender_id = req.sender_id;
    m.msg_type = req.msg_type;
    m.content = req.content;
    m.timestamp_ms = static_cast<int64_t>(id.ms);
    h.entries.push_back(m);
    while (h.entries.size() > static_cast<size_t>(config_->groups.history_size)) {
        h.trimmed = parse_stream_id(h.entries.front().message_id);
        h.entries.pop_front();
    }
    dedup_.emplace(key, DedupEntry{m.message_id, req.now_ms});
    dedup_order_.emplace_back(req.now_ms, std::move(key));
    r.status = StoreStatus::ok;
    r.server_message_id = m.message_id;
    done(r);
    if (on_message_) on_message_(m);
}

void MemoryStore::replay(const std::string& group_id, const std::string& since, size_t limit,
                         const std::function<void(ReplayResult)>& done) {
    ReplayResult r;
    if (down_) {
        done(r);
        return;
    }
    r.status = StoreStatus::ok;
    auto since_id = parse_stream_id(since);
    auto g = groups_.find(group_id);
    if (!since_id || g == groups_.end()) {
        done(r);
        return;
    }
    const GroupHistory& h = g->second;
    r.truncated = h.trimmed && *since_id < *h.trimmed;
    for (const StoredMessage& m : h.entries) {
        if (r.messages.size() >= limit) break;
        if (*parse_stream_id(m.message_id) > *since_id) r.messages.push_back(m);
    }
    done(r);
}

void MemoryStore::add_member(const std::string& group_id, const std::string& user_id) {
    members_[group_id].insert(user_id);
}

std::string MemoryStore::read_position(const std::string& user_id, const std::string& group_id) const {
    auto it = read_.find({user_id, group_id});
    return it == read_.end() ? std::string() : it->second;
}

void MemoryStore::add_user_group(const std::string& user_id, const std::string& group_id) {
    user_groups_[user_id].insert(group_id);
}

StoreStatus MemoryStore::store_inbox(const std::string& user_id, const StoredNotification& n) {
    if (down_) return StoreStatus::unavailable;
    auto id = parse_stream_id(n.id);
    if (!id) return StoreStatus::unavailable;
    Inbox& box = inboxes_[user_id];
    // Like XADD with an explicit id: it must be newer than the newest entry.
    if (*id <= box.last) return StoreStatus::duplicate;
    box.last = *id;
    box.entries.push_back(n);
    while (box.entries.size() > static_cast<size_t>(config_->groups.history_size)) box.entries.pop_front();
    return StoreStatus::ok;
}

std::string MemoryStore::publish_notification(const std::string& target, const std::string& data, int64_t now_ms,
                                              std::string* why) {
    StreamId id{static_cast<uint64_t>(now_ms), 0};
    if (id <= notify_last_) id = StreamId{notify_last_.ms, notify_last_.seq + 1};
    notify_last_ = id;
    const std::string text_id = format_stream_id(id);
    EntryFields fields{{"target", target}, {"data", data}};
    auto n = notification_from_notify_entry(text_id, fields, why);
    if (!n) return "";
    if (n->target.kind == NotifyTargetKind::users) {
        StoredNotification stored{n->id, n->data, n->timestamp_ms};
        for (const std::string& u : n->target.users) store_inbox(u, stored);
    }
    if (notification_sink_) notification_sink_(*n);
    return text_id;
}

size_t MemoryStore::inbox_size(const std::string& user_id) const {
    auto it = inboxes_.find(user_id);
    return it == inboxes_.end() ? 0 : it->second.entries.size();
}

size_t MemoryStore::history_size(const std::string& group_id) const {
    auto it = groups_.find(group_id);
    return it == groups_.end() ? 0 : it->second.entries.size();
}

}  // namespace pushd
