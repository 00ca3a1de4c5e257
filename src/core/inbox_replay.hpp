// The inbox replay of `auth` with since: the user's stored notifications
// newer than since, then the live ones, with no gap and no duplicate. Live
// notifications wait in the inbox gate meanwhile; a replay that storage
// cannot answer is asked again by the server (every kStorageRetryMs, and at
// once when storage is back), with no error frame (contract v1.1).
#pragma once

#include "core/hub_context.hpp"
#include "core/hub_limits.hpp"
#include "core/replay_gate.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace pushd {

class SessionLife;
class SessionOutput;

class InboxReplay {
public:
    InboxReplay(HubContext& ctx, SessionOutput& output, SessionLife& life) : ctx_(ctx), output_(output), life_(life) {}
    InboxReplay(const InboxReplay&) = delete;
    InboxReplay& operator=(const InboxReplay&) = delete;

    // Replays the inbox of `s`'s user newer than `since`. One at a time per
    // connection: a second since while one is in flight is ignored (its
    // notifications are covered by the first).
    void start(Session* s, const std::string& since);

    // Asks storage again when `s` waits for it.
    void retry(Session* s);
    // True while `s` waits for storage to answer its replay.
    bool waiting(const Session* s) const { return waits_.count(s->id) != 0; }
    // Sessions waiting for storage.
    size_t waiting_count() const { return waits_.size(); }
    // Appends the ids of the sessions waiting for storage to `ids`.
    void waiting_sessions(std::vector<uint64_t>& ids) const;

    // Holds a live notification for `s` while its replay is in flight.
    // True when held (or `s` was closed: past the bound).
    bool hold_live(Session* s, SharedFrame* frame, bool in_inbox, const std::optional<StreamId>& id);

    // Drops the replay of `s` (it is closing).
    void forget(Session* s);

private:
    // A replay that storage has not answered yet.
    struct Wait {
        std::string since;
        uint64_t ticket;      // of the inbox gate
        bool asking = false;  // a replay_inbox call is in flight
    };

    void ask(Session* s);
    void finish(uint64_t session_id, uint64_t ticket, InboxResult result);
    // Queues the replayed notifications; false when `s` closed.
    bool send_replay(Session* s, const InboxResult& r, std::string* last);

    HubContext& ctx_;
    SessionOutput& output_;
    SessionLife& life_;
    ReplayGate gate_{kMaxInboxBuffered};
    std::unordered_map<uint64_t, Wait> waits_;
};

}  // namespace pushd
