// The session logic of one instance: connections, authentication,
// subscriptions, request handling and fan-out, over the Registry and the
// storage seam. Pure: time is a parameter, I/O goes through TransportOps
// (wake a connection's writer, close it) and StoreOps.
//
// Threading: one hub belongs to one loop thread; nothing here locks.
#pragma once

#include "core/ack_order.hpp"
#include "core/auth.hpp"
#include "core/bus_entry.hpp"
#include "core/config.hpp"
#include "core/deadlines.hpp"
#include "core/frame_deflate.hpp"
#include "core/metrics.hpp"
#include "core/outq.hpp"
#include "core/protocol.hpp"
#include "core/registry.hpp"
#include "core/replay_gate.hpp"
#include "core/session.hpp"
#include "core/store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace pushd {

// Close codes of PROTOCOL.md section 5.
enum CloseCode : uint16_t {
    kCloseGoingAway = 1001,
    kCloseUnsupported = 1003,   // binary frame
    kClosePolicy = 1008,
    kCloseTooBig = 1009,
    kCloseAuth = 4001,
    kCloseBlocked = 4003,
    kCloseSlowConsumer = 4008,
    kCloseTooManySessions = 4009,
};

// Subscriptions one connection may hold; join_group past it gets 429.
inline constexpr size_t kMaxGroupsPerSession = 1024;
// Three auth_failed in a row close the connection (PROTOCOL.md section 5).
inline constexpr int kMaxAuthFailures = 3;
// Live messages buffered for one session while a join_group replay is in
// flight; past it the session is closed as a slow consumer.
inline constexpr size_t kMaxReplayBuffered = 10000;
// Entries a join_group replay asks storage for at most.
inline constexpr size_t kMaxReplayEntries = 100000;
// Requests held for one connection while its AutoJoin group set is being
// read: past kPauseHeldRequests the transport stops reading from it (TCP
// pushes back on the client); past the hard bounds (count or bytes: what
// was already read when the pause began) it is closed with 1008.
inline constexpr size_t kPauseHeldRequests = 64;
inline constexpr size_t kMaxHeldRequests = 4096;
inline constexpr size_t kMaxHeldBytes = 4 << 20;
// Notifications buffered for one session while its inbox replay (auth with
// since) is in flight, retries included; past it the session is closed as
// a slow consumer.
inline constexpr size_t kMaxInboxBuffered = 10000;
// What the hub asks storage again, by itself, after an outage answered it
// (the inbox replay of auth with since, AutoJoin's group set): once every
// this many milliseconds, and at once when storage is back (on_storage_up).
inline constexpr int64_t kStorageRetryMs = 1000;
// Live messages of the groups AutoJoin subscribed wait this long after the
// subscription for the client's own join_group with since (sent right
// behind its auth, but possibly read after the group set arrived): such a
// join takes the held messages over as its replay's gate, so none arrives
// ahead of the replay; without one they are released in order.
inline constexpr int64_t kAutoJoinHoldMs = 500;
// Groups remembered per session, while its AutoJoin waits for storage, as
// joined or left by the client itself (AutoJoin then leaves them alone).
inline constexpr size_t kMaxTouchedGroups = 1024;

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

class Hub {
public:
    // `config` is read on every use (a reload updates it in place) and must
    // outlive the hub. `instance_tag` prefixes session ids ("<tag>-<n>").
    // `frame_headroom` spare bytes precede every frame (the io layer's LWS_PRE).
    Hub(const Config* config, TransportOps transport, StoreOps store, std::string instance_tag,
        size_t frame_headroom);
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // A WebSocket connection was established. `handshake_token` is the
    // identity verified from ?token= or Authorization at the handshake: then
    // auth_success is the first message. Returns the new session, owned by
    // the hub until on_closed.
    Session* on_open(void* transport, const std::optional<VerifiedToken>& handshake_token,
                     int64_t now_ms);

    // One whole text message (reassembled, valid UTF-8, within
    // MaxMessageBytes) arrived on `session`.
    void on_text(Session* session, std::string_view text, int64_t now_ms);

    // The client sent something (any frame, a pong to our ping included) at
    // `now_ms`: the connection is not silent. Cheap: one store, no heap work
    // (the heartbeat deadline re-arms itself lazily when it falls due).
    void touch(Session* session, int64_t now_ms) { session->last_rx_ms = now_ms; }

    // The WebSocket ping the hub sends a connection silent for
    // Heartbeat.Interval. Its payload is not empty, so the pong (which
    // echoes it) reaches the transport's callback (lws drops empty pongs).
    static constexpr std::string_view kPingPayload = "pushd";

    // The transport is gone: forget the session and free it. `session` is
    // invalid afterwards.
    void on_closed(Session* session);

    // Closes `session` with `code` after its queued output (transport close
    // is asynchronous; the session stays until on_closed).
    void close_session(Session* session, uint16_t code, const char* reason);

    // Closes `session` with `code` and drops its queued output first.
    void drop_session(Session* session, uint16_t code, const char* reason);

    // Counts a close the transport made itself (binary frame, too big,
    // invalid UTF-8).
    void count_protocol_close() { counters_.protocol_closes++; }

    // Fires due auth timeouts and token expiries, heartbeats and retries of
    // what storage could not answer. Call periodically.
    void tick(int64_t now_ms);

    // Storage answers again (the commands link came up): what waits for it
    // (inbox replays, AutoJoin group sets) is asked again now.
    void on_storage_up();

    // Sessions waiting for storage to answer an inbox replay or AutoJoin.
    size_t waiting_for_storage() const { return inbox_waits_.size() + auto_join_waits_.size(); }

    // The earliest time tick() has work, or INT64_MAX.
    int64_t next_tick_due() const { return deadlines_.next_due(); }

    // A stored group message read from storage (the bus): serialized once,
    // queued to every local subscriber of its group.
    void deliver_group_message(const StoredMessage& message);

    // A notification read from storage (the notify stream): serialized
    // once, queued to every local authenticated session it targets (users:
    // every session of those users; group: the group's subscribers; all:
    // every authenticated session). Storing user-targeted ones in inboxes
    // is the bus's job, not the hub's.
    void deliver_notification(const Notification& notification);

    // Copies queued output of `session` into `dst` (whole frames only, at
    // most `max` bytes) for one write: a write never ends inside a frame, so
    // lws may put its own control frames (pong, close) between two writes. When the first frame alone exceeds `max`,
    // returns 0 and sets *big to it (still queued): write it from the frame
    // and then call consume_big(). Accounts bytes out and queue gauges.
    size_t gather_output(Session* session, uint8_t* dst, size_t max, SharedFrame** big);
    void consume_big(Session* session);

    // Walks every session (shutdown, reload-time checks only: never on a
    // per-message path).
    void for_each_session(const std::function<void(Session*)>& fn);

    size_t session_count() const { return sessions_.size(); }
    size_t user_count() const { return registry_.user_count(); }
    size_t group_count() const { return registry_.group_count(); }
    uint64_t queued_bytes() const { return queued_bytes_; }
    const ProtocolCounters& counters() const { return counters_; }
    const Registry& registry() const { return registry_; }
    // The permessage-deflate compressor (nullptr until a compressing
    // session first needed it), for its counters.
    const FrameDeflater* deflater() const { return deflater_.get(); }

    // Finds a live session by id (answers from storage are addressed so).
    Session* find_session(uint64_t id) const;

private:
    // An inbox replay (auth with since) that storage has not answered yet.
    struct InboxWait {
        std::string since;
        uint64_t ticket;      // of the inbox gate
        bool asking = false;  // a replay_inbox call is in flight
    };
    // An AutoJoin whose group set could not be read yet.
    struct AutoJoinWait {
        std::unordered_set<std::string> touched;  // joined or left meanwhile: left alone
        bool asking = false;
    };

    void handle(Session* s, const Request& req, int64_t now_ms);
    void handle_auth(Session* s, const Request& req, int64_t now_ms);
    void handle_send(Session* s, const Request& req, int64_t now_ms);
    void handle_join(Session* s, const Request& req, int64_t now_ms);
    void handle_leave(Session* s, const Request& req, int64_t now_ms);
    void handle_mark_read(Session* s, const Request& req, int64_t now_ms);
    void join_now(Session* s, const Request& req, int64_t now_ms);
    void finish_replay(uint64_t session_id, const std::string& group_id, const std::string& message_id,
                       const std::string& since, uint64_t ticket, ReplayResult result, int64_t now_ms);

    void authenticate(Session* s, const VerifiedToken& token, const std::optional<std::string>& message_id,
                      int64_t now_ms, const std::optional<std::string>& since = std::nullopt);
    void start_auto_join(Session* s);
    void finish_auto_join(uint64_t session_id, GroupsResult result);
    void ask_auto_join_again(Session* s);
    void finish_auto_join_retry(uint64_t session_id, GroupsResult result);
    void note_touched_group(Session* s, const std::string& group_id);
    // AutoJoin's hold of the group's live messages (see kAutoJoinHoldMs).
    void hold_auto_joined(Session* s, const std::string& group_id);
    // Ends that hold: its ticket if it is still AutoJoin's (then forgotten), else 0.
    uint64_t take_auto_join_hold(Session* s, const std::string& group_id);
    void release_auto_join_holds(Session* s);
    // Delivers what a gate held, in order.
    void push_released(Session* s, std::vector<HeldPush>& released);
    // Asks storage again for what `s` waits for (inbox, AutoJoin).
    void retry_storage(Session* s);
    void hold_request(Session* s, std::string_view text, bool rate_limited);
    // Parses and handles (or, rate_limited, answers 429 to) one request.
    void process_text(Session* s, std::string_view text, bool rate_limited, int64_t now_ms);
    void answer_rate_limited(Session* s, const ParseResult& parsed, int64_t now_ms);
    void start_inbox_replay(Session* s, const std::string& since);
    void ask_inbox(Session* s);
    void finish_inbox_replay(uint64_t session_id, uint64_t ticket, InboxResult result);
    void hold_for_ack(Session* s, const std::string& key);
    void release_ack(Session* s, const std::string& key);
    // Delivers one group push to `s` unless it must wait behind an ack
    // (`ack_key`: AckOrder's key when the session's user sent it).
    void push_group(Session* s, SharedFrame* frame, const std::string& ack_key);
    // Closes `s` as a slow consumer (4008), dropping its queue.
    void drop_slow(Session* s);
    // Drops what `s` had pending: replays, held pushes, retries.
    void forget_pending(Session* s);
    void notify_session(Session* s, SharedFrame* frame, const std::string& id, bool in_inbox,
                        const std::optional<StreamId>& sid);
    void fail_auth(Session* s, const std::optional<std::string>& message_id, AuthError error, int64_t now_ms,
                   const char* message = nullptr);
    int64_t now() const { return transport_.now_ms(); }
    void enforce_session_limit(const std::string& user_id);

    // Queues one frame for one session (a reply): false if it closed it.
    bool send(Session* s, const std::string& json, OutType type);
    bool enqueue(Session* s, SharedFrame* frame, OutType type);
    // Appends `frame` to the session's queue within Limits.MaxQueueBytes,
    // accounts its bytes and wakes the writer; false (nothing queued) when
    // it does not fit. enqueue() and the heartbeat ping share it.
    bool queue_frame(Session* s, SharedFrame* frame);
    // Heartbeat: ping a connection silent for Interval, close one silent for
    // Timeout with 1001, else re-arm for when one of those could be due.
    void heartbeat_due(Session* s, int64_t now_ms);
    void ack_fail(Session* s, const std::string& message_id, int code, const char* message, int64_t now_ms);
    void maybe_compact_deadlines();

    const Config* config_;
    TransportOps transport_;
    StoreOps store_;
    std::string tag_;
    size_t frame_headroom_;
    std::unique_ptr<FrameDeflater> deflater_;
    SharedFrame* ping_frame_ = nullptr;  // built once, shared by every ping  // created on first need (zlib state ~270 KiB)
    uint64_t next_session_id_ = 1;
    Registry registry_;
    std::unordered_map<uint64_t, Session*> sessions_;
    // join_group replays in flight (scope: the group id) and inbox replays
    // (scope ""): the replay/live handover.
    ReplayGate group_replays_{kMaxReplayBuffered};
    ReplayGate inbox_replays_{kMaxInboxBuffered};
    // Sessions with send_message in flight whose own pushes must follow
    // their acks (Session::ack_hold marks them).
    AckOrder ack_order_{kMaxReplayBuffered};
    std::unordered_map<uint64_t, InboxWait> inbox_waits_;
    std::unordered_map<uint64_t, AutoJoinWait> auto_join_waits_;
    // Open AutoJoin holds: session -> (group, gate ticket).
    std::unordered_map<uint64_t, std::vector<std::pair<std::string, uint64_t>>> auto_join_holds_;
    DeadlineQueue deadlines_;
    ProtocolCounters counters_;
    uint64_t queued_bytes_ = 0;
};

}  // namespace pushd
