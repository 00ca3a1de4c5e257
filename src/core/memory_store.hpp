// The in-process implementation of the storage seam (store.hpp): group
// histories, deduplication, membership and read positions in memory, and a
// "bus" that hands every appended message straight back to the instance.
// Used by the unit tests and by a single instance run without Redis; it
// keeps the same contract as the Redis store (ids increase within a group,
// the ack comes before the push, history is capped at Groups.HistorySize).
#pragma once

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

private:
    struct GroupHistory {
        std::deque<StoredMessage> entries;
        StreamId last{};               // id of the newest entry ever appended
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

    const Config* config_;
    std::function<void(const StoredMessage&)> on_message_;
    bool down_ = false;
    std::unordered_map<std::string, GroupHistory> groups_;
    std::unordered_map<std::string, DedupEntry> dedup_;          // "sender\0client id"
    std::deque<std::pair<int64_t, std::string>> dedup_order_;    // (time, key), oldest first
    std::unordered_map<std::string, std::set<std::string>> members_;
    std::map<std::pair<std::string, std::string>, std::string> read_;
};

}  // namespace pushd
