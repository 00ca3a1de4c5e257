// The in-process implementation of the storage seam (store.hpp): group
// histories, deduplication, membership and read positions in memory, and a
// "bus" that hands every appended message straight back to the instance.
// Used by the unit tests and by a single instance run without Redis; it
// keeps the same contract as the Redis store (ids increase within a group,
// the ack comes before the push, history is capped at Groups.HistorySize).
#pragma once

#include "core/bus_entry.hpp"
#include "core/config.hpp"
#include "core/store.hpp"
#include "core/stream_id.hpp"

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

namespace pushd {

class MemoryStore {
public:
    // Groups with history one store keeps; appends to further groups fail
    // with `unavailable` (this store is for tests and development).
    static constexpr size_t kMaxGroups = 100000;
    // Dedup entries kept at most, besides expiry after DedupWindow.
    static constexpr size_t kMaxDedupEntries = 1000000;

    // `on_message` receives every stored message (the bus), after the
    // append's own answer. `config` must outlive the store.
    MemoryStore(const Config* config, std::function<void(const StoredMessage&)> on_message);

    // The seam, bound to this store (which must outlive the returned ops).
    StoreOps ops();

    // When set, every operation answers `unavailable` (an outage).
    void set_unavailable(bool down) { down_ = down; }

    // Membership (what `pushctl group add` writes in Redis).
    void add_member(const std::string& group_id, const std::string& user_id);

    // The stored read position, or "" when none.
    std::string read_position(const std::string& user_id, const std::string& group_id) const;

    // Messages retained for a group.
    size_t history_size(const std::string& group_id) const;

    // Adds `group_id` to the user's group set (what AutoJoin reads).
    void add_user_group(const std::string& user_id, const std::string& group_id);

    // Receives every notification published (the bus's notify half).
    void set_notification_sink(std::function<void(const Notification&)> sink) { notification_sink_ = std::move(sink); }

    // What a business service's XADD to `notify` plus the bus reader do:
    // assigns the next notify id, validates the entry like the Redis bus
    // (bus_entry.hpp), stores it in each targeted user's inbox, then hands
    // it to the notification sink. Returns the id, or "" when the entry is
    // malformed (*why says why).
    std::string publish_notification(const std::string& target, const std::string& data, int64_t now_ms,
                                     std::string* why = nullptr);

    // Notifications retained in a user's inbox.
    size_t inbox_size(const std::string& user_id) const;

private:
    struct GroupHistory {
        std::deque<StoredMessage> entries;
        StreamId last{};                  // id of the newest entry ever appended
        std::optional<StreamId> trimmed;  // id of the newest entry trimmed away
    };
    struct DedupEntry {
        std::string server_message_id;
        int64_t at_ms;
    };

    void append(const AppendRequest& req, const std::function<void(AppendResult)>& done);
    void replay(const std::string& group_id, const std::string& since, size_t limit,
                const std::function<void(ReplayResult)>& done);
    void expire_dedup(int64_t now_ms);
    StoreStatus store_inbox(const std::string& user_id, const StoredNotification& n);

    struct Inbox {
        std::deque<StoredNotification> entries;
        StreamId last{};
    };

    const Config* config_;
    std::function<void(const StoredMessage&)> on_message_;
    bool down_ = false;
    std::unordered_map<std::string, GroupHistory> groups_;
    std::unordered_map<std::string, DedupEntry> dedup_;        // "<len>:sender<len>:group" + client id
    std::deque<std::pair<int64_t, std::string>> dedup_order_;  // (time, key), oldest first
    std::unordered_map<std::string, std::set<std::string>> members_;
    std::map<std::pair<std::string, std::string>, std::string> read_;
    std::unordered_map<std::string, std::set<std::string>> user_groups_;
    std::unordered_map<std::string, Inbox> inboxes_;
    StreamId notify_last_{};
    std::function<void(const Notification&)> notification_sink_;
};

}  // namespace pushd
