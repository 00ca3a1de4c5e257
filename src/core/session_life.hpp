// Session lifecycle and deadlines: a connection's open and close, the one
// way every close goes (close, drop, close as a slow consumer), the
// per-user session limit, and the timed events of the deadline queue
// (auth timeout, token expiry, heartbeat; storage retries and AutoJoin's
// release are handed to their modules).
#pragma once

#include "core/auth.hpp"
#include "core/hub_context.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace pushd {

class AutoJoin;
class FanOut;
class GroupJoin;
class InboxReplay;
class SessionOutput;

// The modules that keep per-session state besides the session itself: what
// a closing session has pending there is dropped, and their deadlines fire.
struct SessionPeers {
    AutoJoin& auto_join;
    InboxReplay& inbox;
    GroupJoin& groups;
    FanOut& fanout;
};

class SessionLife {
public:
    SessionLife(HubContext& ctx, SessionOutput& output, SessionPeers peers) :
        ctx_(ctx),
        output_(output),
        peers_(peers) {}
    SessionLife(const SessionLife&) = delete;
    SessionLife& operator=(const SessionLife&) = delete;
    ~SessionLife();

    // A connection was established: a new session, owned by the context's
    // table until closed(), with its heartbeat (and, unauthenticated, its
    // auth timeout) armed.
    Session* open(void* transport, int64_t now_ms);

    // The transport is gone: forget the session and free it.
    void closed(Session* s);

    // Closes `s` with `code` after its queued output (at most once: later
    // calls do nothing). It receives nothing more from here on.
    void close(Session* s, uint16_t code, const char* reason);
    // Closes `s` with `code`, dropping its queued output first.
    void drop(Session* s, uint16_t code, const char* reason);
    // The one slow-consumer close (4008): a queue, a replay gate or an ack
    // hold past its bound.
    void close_slow_consumer(Session* s);

    // Closes the oldest sessions of `user_id` past Limits.MaxSessionsPerUser.
    void enforce_session_limit(const std::string& user_id);

    // Arms the token's expiry for `s` (a new auth, or a re-auth).
    void arm_expiry(Session* s, int64_t exp_s);
    // Arms a deadline of `kind` for `s` at `due_ms`.
    void arm(Session* s, int64_t due_ms, DeadlineKind kind);

    // Asks storage again for what `s` waits for (its inbox replay, its
    // AutoJoin group set): on the retry timer and when storage is back.
    void retry_storage(Session* s);

    // Fires what is due at `now_ms`.
    void tick(int64_t now_ms);

private:
    void heartbeat_due(Session* s, int64_t now_ms);
    void expire(Session* s, const Deadline& d, int64_t now_ms);
    void maybe_compact_deadlines();
    bool deadline_applies(const Session* s, const Deadline& d) const;
    // Drops what `s` had pending in the other modules.
    void forget_pending(Session* s);

    HubContext& ctx_;
    SessionOutput& output_;
    SessionPeers peers_;
    uint64_t next_session_id_ = 1;
};

}  // namespace pushd
