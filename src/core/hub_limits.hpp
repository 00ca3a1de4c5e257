// The hub's fixed bounds: per-connection limits the configuration does not
// expose, and the waits of the replay/live and AutoJoin guarantees.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pushd {

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

}  // namespace pushd
