// The session logic of one instance, as the io layer sees it: one facade
// over the modules that each keep one guarantee (docs/ARCHITECTURE.md):
//   session_life    open/close, the one slow-consumer close, deadlines
//   dispatch        a request from its text to its answer
//   auto_join       Groups.AutoJoin, its held requests and first-push hold
//   inbox_replay    auth with since: the inbox, then live notifications
//   group_join      join/leave, the group replay and its replay/live gate
//   fanout          stored messages and notifications to local recipients,
//                   ack-before-push (AckOrder)
//   session_output  queueing, compression choice and output accounting
// Pure: time is a parameter, I/O goes through TransportOps (wake a
// connection's writer, close it) and StoreOps.
//
// Threading: one hub belongs to one loop thread; nothing here locks.
#pragma once

#include "core/auth.hpp"
#include "core/auto_join.hpp"
#include "core/bus_entry.hpp"
#include "core/control_entry.hpp"
#include "core/dispatch.hpp"
#include "core/fanout.hpp"
#include "core/group_join.hpp"
#include "core/hub_context.hpp"
#include "core/hub_limits.hpp"
#include "core/inbox_replay.hpp"
#include "core/session_life.hpp"
#include "core/session_output.hpp"
#include "core/status_codes.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

class Hub {
public:
    // `config` is read on every use (a reload updates it in place) and must
    // outlive the hub. `instance_tag` prefixes session ids ("<tag>-<n>").
    // `frame_headroom` spare bytes precede every frame (the io layer's LWS_PRE).
    Hub(const Config* config, TransportOps transport, StoreOps store, std::string instance_tag, size_t frame_headroom);
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // A WebSocket connection was established. `handshake_token` is the
    // identity verified from ?token= or Authorization at the handshake: then
    // auth_success is the first message. Returns the new session, owned by
    // the hub until on_closed.
    Session* on_open(void* transport, const std::optional<VerifiedToken>& handshake_token, int64_t now_ms);

    // One whole text message (reassembled, valid UTF-8, within
    // MaxMessageBytes) arrived on `session`.
    void on_text(Session* session, std::string_view text, int64_t now_ms) { dispatch_.on_text(session, text, now_ms); }

    // The client sent something (any frame, a pong to our ping included) at
    // `now_ms`: the connection is not silent. Cheap: one store, no heap work
    // (the heartbeat deadline re-arms itself lazily when it falls due).
    void touch(Session* session, int64_t now_ms) { session->last_rx_ms = now_ms; }

    // The transport is gone: forget the session and free it. `session` is
    // invalid afterwards.
    void on_closed(Session* session) { life_.closed(session); }

    // Closes `session` with `code` after its queued output (transport close
    // is asynchronous; the session stays until on_closed).
    void close_session(Session* session, uint16_t code, const char* reason) { life_.close(session, code, reason); }

    // Closes `session` with `code` and drops its queued output first.
    void drop_session(Session* session, uint16_t code, const char* reason) { life_.drop(session, code, reason); }

    // Counts a close the transport made itself (binary frame, too big,
    // invalid UTF-8).
    void count_protocol_close() { ctx_.counters.protocol_closes++; }

    // Fires due auth timeouts and token expiries, heartbeats and retries of
    // what storage could not answer. Call periodically.
    void tick(int64_t now_ms) { life_.tick(now_ms); }

    // Storage answers again (the commands link came up): what waits for it
    // (inbox replays, AutoJoin group sets) is asked again now.
    void on_storage_up();

    // Sessions waiting for storage to answer an inbox replay or AutoJoin.
    size_t waiting_for_storage() const { return inbox_.waiting_count() + auto_join_.waiting_count(); }

    // The earliest time tick() has work, or INT64_MAX.
    int64_t next_tick_due() const { return ctx_.deadlines.next_due(); }

    // A stored group message read from storage (the bus): serialized once,
    // queued to every local subscriber of its group.
    void deliver_group_message(const StoredMessage& message) { fanout_.deliver_group_message(message); }

    // A notification read from storage (the notify stream): serialized
    // once, queued to every local authenticated session it targets (users:
    // every session of those users; group: the group's subscribers; all:
    // every authenticated session). Storing user-targeted ones in inboxes
    // is the bus's job, not the hub's.
    void deliver_notification(const Notification& notification) { fanout_.deliver_notification(notification); }

    // Copies queued output of `session` into `dst` (whole frames only, at
    // most `max` bytes) for one write: a write never ends inside a frame, so
    // lws may put its own control frames (pong, close) between two writes.
    // When the first frame alone exceeds `max`, returns 0 and sets *big to
    // it (still queued): write it from the frame and then call consume_big().
    // Accounts bytes out and queue gauges.
    size_t gather_output(Session* session, uint8_t* dst, size_t max, SharedFrame** big) {
        return output_.gather(session, dst, max, big);
    }
    void consume_big(Session* session) { output_.consume_big(session); }

    // Walks every session (shutdown, reload-time checks only: never on a
    // per-message path).
    void for_each_session(const std::function<void(Session*)>& fn);

    // An order of the HTTP API read from the bus (core/control_entry):
    // closes the user's connections here with 4010 (disconnect), or records
    // the revocation and closes those whose token it refuses with 4001.
    void apply_control(const ControlEntry& entry, int64_t now_ms);

    // True when a revocation refuses `token` (the handshake asks).
    bool token_revoked(const VerifiedToken& token, int64_t now_ms) const {
        return ctx_.revocations.refuses(token, now_ms);
    }
    // Revocations read from Redis at start (io/redis_control).
    void add_revocation(std::string_view user_id, Revocation r, int64_t now_ms) {
        ctx_.revocations.add(user_id, r, now_ms);
    }

    size_t session_count() const { return ctx_.sessions.size(); }
    // This instance's subscribers of `group_id` (0 when none).
    size_t group_members(std::string_view group_id) const {
        const GroupEntry* g = ctx_.registry.find_group(group_id);
        return g ? g->members.size() : 0;
    }
    size_t user_count() const { return ctx_.registry.user_count(); }
    size_t group_count() const { return ctx_.registry.group_count(); }
    uint64_t queued_bytes() const { return output_.queued_bytes(); }
    const ProtocolCounters& counters() const { return ctx_.counters; }
    const Registry& registry() const { return ctx_.registry; }
    // This instance's presence counts (empty with Groups.Presence false).
    PresenceTracker& presence() { return ctx_.presence; }
    // The permessage-deflate compressor (nullptr until a compressing
    // session first needed it), for its counters.
    const FrameDeflater* deflater() const { return output_.deflater(); }

    // Finds a live session by id (answers from storage are addressed so).
    Session* find_session(uint64_t id) const { return ctx_.find_session(id); }

private:
    // Declared in construction order; each module keeps references to the
    // ones it calls (some declared after it: bound, not used, while building).
    HubContext ctx_;
    SessionOutput output_;
    SessionLife life_;
    FanOut fanout_;
    GroupJoin groups_;
    InboxReplay inbox_;
    AutoJoin auto_join_;
    Dispatch dispatch_;
};

}  // namespace pushd
