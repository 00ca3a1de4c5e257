// The replay/live handover: where a replay (join_group with since: the
// group's history; auth with since: the user's inbox) ends and live
// delivery takes over, with no gap and no duplicate (PROTOCOL.md sections
// 3 and 5; docs/behaviour.md "Replay and live").
//
// The boundary, by construction:
// - Live delivery comes only from the bus reader, which starts once per
//   instance at the instance's start (in Redis's clock, so before anything
//   the instance can ask of Redis) and only moves forward: every entry
//   stored after a replay's read is read from the bus later.
// - While a replay is in flight for (session, scope), every live push for
//   that scope is held here, in arrival order (the scope is a group id, or
//   "" for the inbox).
// - The replay's answer gives one boundary id: the newest id it covered
//   (its last entry, or `since` when it found nothing newer). Held pushes at
//   or below it are dropped (the replay carried them, or the client had
//   them already); the rest follow the replay, in order. The caller keeps
//   the boundary on the subscription so a bus behind the replay's read
//   skips the same ids later (replay_covers()).
// - A failed replay leaves nothing half-done: the caller either abandons
//   the gate (join_group: 503, not subscribed, the client retries with the
//   same since) or keeps it open and asks again (the inbox).
//
// Pure bookkeeping: frames are owned through FrameRef; nothing is written.
#pragma once

#include "core/outq.hpp"
#include "core/stream_id.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pushd {

// A live push held while a replay is in flight.
struct HeldPush {
    StreamId id;             // the message or notification id
    bool replayable = true;  // false: the replay cannot carry it (a group or
                             // `all` notification): never dropped
    FrameRef frame;
    std::string ack_key;  // the sender's own message: AckOrder's key; "" otherwise
};

// The boundary of a successful replay: the newest id it covered, i.e. the
// greater of `since` and the last id replayed (`last` empty: none).
std::optional<StreamId> replay_boundary(std::string_view since, std::string_view last);

// True when a live push with `id` was covered by a replay ending at
// `boundary` (so it must not be delivered again).
inline bool replay_covers(const StreamId& boundary, const StreamId& id) { return id <= boundary; }

class ReplayGate {
public:
    // `max_held`: pushes held per (session, scope) at most; past it hold()
    // refuses and the caller closes the session as a slow consumer.
    explicit ReplayGate(size_t max_held) : max_held_(max_held) {}
    ReplayGate(const ReplayGate&) = delete;
    ReplayGate& operator=(const ReplayGate&) = delete;

    // Starts holding live pushes of `scope` for `session`. Returns a
    // non-zero ticket naming this replay, or 0 when one is in flight already.
    uint64_t open(uint64_t session, const std::string& scope);

    // True when nothing is held anywhere (the fan-out's fast path).
    bool empty() const { return open_.empty(); }

    // True while a replay of `scope` is in flight for `session`.
    bool is_open(uint64_t session, const std::string& scope) const;

    // The ticket of the replay in flight, or 0.
    uint64_t ticket(uint64_t session, const std::string& scope) const;

    // Hands the gate of `scope` (kept open with what it holds) to a new
    // owner: returns its new ticket (the old one goes stale), or 0 when no
    // gate is open. AutoJoin's hold becomes a join_group replay so.
    uint64_t retake(uint64_t session, const std::string& scope);

    // Holds `push` when a replay of `scope` is in flight for `session`.
    enum class Hold { not_open, held, full };
    Hold hold(uint64_t session, const std::string& scope, HeldPush&& push);

    // The same in two steps, so that a caller builds the push only for an
    // open gate (the fan-out asks this of every recipient while any gate is
    // open): find() is nullptr when none is open for (session, scope).
    struct Open;
    Open* find(uint64_t session, const std::string& scope);
    Hold hold(Open* gate, HeldPush&& push);

    // Ends the replay `ticket` (a stale ticket: nothing happens, returns
    // nullopt). Returns the pushes held that `boundary` does not cover, in
    // order (every one when `boundary` is nullopt; replayable ones at or
    // below it are dropped).
    std::optional<std::vector<HeldPush>> close(uint64_t session, const std::string& scope, uint64_t ticket,
                                               const std::optional<StreamId>& boundary);

    // Ends the replay of `scope` for `session`, dropping what it held.
    void abandon(uint64_t session, const std::string& scope);

    // Ends every replay of `session` (it closed).
    void forget(uint64_t session);

    // Pushes held in all.
    size_t held() const { return held_; }

    struct Open {
        uint64_t ticket;
        std::vector<HeldPush> held;
    };

private:
    size_t max_held_;
    uint64_t next_ticket_ = 1;
    size_t held_ = 0;
    std::unordered_map<uint64_t, std::unordered_map<std::string, Open>> open_;
};

}  // namespace pushd
