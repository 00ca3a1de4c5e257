// The storage seam: what the session logic asks of message storage, and how
// storage tells it of new messages. The running server puts it on Redis
// Streams (io/redis_store, io/redis_bus); MemoryStore (memory_store.hpp) is
// the in-process implementation for tests and single-instance runs.
//
// Every operation answers through its callback exactly once, possibly
// before it returns (in-process) or later on the loop (Redis). Callers must
// not assume the session that asked still exists when the answer comes: the
// hub addresses answers by session id, never by pointer.
#pragma once

#include "core/protocol.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pushd {

enum class StoreStatus {
    ok,
    duplicate,    // append: the (sender, client message id) pair was seen within DedupWindow
    unavailable,  // storage unreachable: nothing was stored (503)
};

struct AppendRequest {
    std::string group_id;
    std::string client_message_id;
    std::string sender_id;
    int64_t msg_type = 0;
    std::string content;
    int64_t now_ms = 0;
};

struct AppendResult {
    StoreStatus status = StoreStatus::unavailable;
    std::string server_message_id;  // ok and duplicate: the history entry id
    std::string error;              // unavailable: why (for logs)
};

struct ReplayResult {
    StoreStatus status = StoreStatus::unavailable;
    std::vector<StoredMessage> messages;  // newer than `since`, oldest first
    bool truncated = false;               // `since` is older than the retained history
};

// A notification as a user's inbox (inbox:<uid>) keeps it: the id of its
// `notify` entry, the publisher's data (a JSON object text) and its time.
struct StoredNotification {
    std::string id;
    std::string data;
    int64_t timestamp_ms = 0;
};

struct InboxResult {
    StoreStatus status = StoreStatus::unavailable;
    std::vector<StoredNotification> notifications;  // newer than `since`, oldest first
};

struct GroupsResult {
    StoreStatus status = StoreStatus::unavailable;
    std::vector<std::string> groups;  // at most the limit asked for, any order
};

struct MembershipResult {
    StoreStatus status = StoreStatus::unavailable;
    bool member = false;
};

struct StoreOps {
    // Stores a group message (deduplicated by sender + client message id).
    std::function<void(const AppendRequest&, std::function<void(AppendResult)>)> append;
    // Group history newer than `since` (exclusive), at most `limit` entries.
    std::function<void(const std::string& group_id, const std::string& since, size_t limit,
                       std::function<void(ReplayResult)>)>
        replay_group;
    // Is `user_id` in the group's member set (Groups.RequireMembership)?
    std::function<void(const std::string& group_id, const std::string& user_id, std::function<void(MembershipResult)>)>
        check_member;
    // Stores the user's read position in the group.
    std::function<void(const std::string& user_id, const std::string& group_id, const std::string& message_id,
                       std::function<void(StoreStatus)>)>
        mark_read;
    // The user's group set (user:<uid>:groups) for Groups.AutoJoin, at most
    // `limit` groups.
    std::function<void(const std::string& user_id, size_t limit, std::function<void(GroupsResult)>)> user_groups;
    // The user's stored notifications newer than `since` (exclusive), at
    // most `limit`, oldest first (auth with since).
    std::function<void(const std::string& user_id, const std::string& since, size_t limit,
                       std::function<void(InboxResult)>)>
        replay_inbox;
    // Stores a notification in the user's inbox under its own id. Ids must
    // increase within an inbox: `duplicate` means an entry with this id or a
    // newer one is already there (another instance stored it first), and
    // nothing changed. `unavailable`: not stored.
    std::function<void(const std::string& user_id, const StoredNotification& notification,
                       std::function<void(StoreStatus)>)>
        store_inbox;
};

}  // namespace pushd
