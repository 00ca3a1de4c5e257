// What every part of the hub shares: the configuration, the seams to the
// transport and to storage, the registry of users and groups, the table of
// live sessions, the deadline queue and the counters. One per hub; each
// part (session_life, dispatch, auto_join, inbox_replay, group_join,
// fanout, session_output) holds a reference to it and to the peers it calls.
#pragma once

#include "core/config.hpp"
#include "core/deadlines.hpp"
#include "core/metrics.hpp"
#include "core/presence_tracker.hpp"
#include "core/registry.hpp"
#include "core/revocations.hpp"
#include "core/session.hpp"
#include "core/store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace pushd {

struct TransportOps {
    // Output was queued for the session: make sure its writer runs.
    std::function<void(Session*)> wake;
    // Close the connection with `code` once its queued output is written.
    // The transport later calls Hub::on_closed.
    std::function<void(Session*, uint16_t code, const char* reason)> close;
    // Milliseconds since the Unix epoch, for answers that arrive later.
    std::function<int64_t()> now_ms;
    // Stop (true) or resume (false) reading from the connection. Optional.
    std::function<void(Session*, bool paused)> pause_reading;
};

struct HubContext {
    const Config* config;  // read on every use: a reload updates it in place
    TransportOps transport;
    StoreOps store;
    std::string tag;        // session ids are "<tag>-<n>"
    size_t frame_headroom;  // spare bytes before every frame (LWS_PRE)
    Registry registry;
    // Every live session, owned here from on_open to on_closed.
    std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions;
    DeadlineQueue deadlines;
    ProtocolCounters counters;
    // Tokens refused for a while (the HTTP API's revoke, from the bus).
    Revocations revocations;
    // The HTTP API's disconnect reasons, kept for the close frames that
    // point at them (Session::close_reason is a pointer): a node set, so
    // they never move; at most kMaxCloseReasons distinct ones.
    std::unordered_set<std::string> close_reasons;
    // This instance's presence counts (Groups.Presence: the registry
    // reports to it; io/redis_presence writes them to Redis).
    PresenceTracker presence;

    // A live session by id (answers from storage are addressed so), or nullptr.
    Session* find_session(uint64_t id) const {
        auto it = sessions.find(id);
        return it == sessions.end() ? nullptr : it->second.get();
    }
    // The same, but nullptr also when it is closing: what most answers want.
    Session* find_open_session(uint64_t id) const {
        Session* s = find_session(id);
        return s && !s->closing ? s : nullptr;
    }
    int64_t now() const { return transport.now_ms(); }
};

}  // namespace pushd
