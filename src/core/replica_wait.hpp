// Redis.WaitReplicas (PROTOCOL.md section 7): what is stored is confirmed
// by N replicas (Redis's WAIT) before it is acknowledged or delivered.
// Pure: the WAIT itself is sent by io (io/redis_wait.hpp) through `Issue`.
//
// WAIT confirms the writes of the connection it is sent on, up to that
// connection's last write. io sends a PUBLISH (a write Redis propagates to
// replicas, with no key and no state) right before each WAIT, so one WAIT
// confirms everything Redis executed before it, whoever wrote it: a
// history read, a duplicate found by the dedup key, or the bus entries
// another instance appended.
//
// Group commit: at most one WAIT is in flight per connection; confirmations
// asked for meanwhile wait for the next one, sent as soon as the current one
// is answered. Many appends in flight cost one WAIT per round trip, not one
// each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace pushd {

// How long one WAIT may block, in milliseconds. A WAIT blocks its whole
// connection (Redis runs a client's commands in order), so it must end well
// inside the link's command timeout (1200 ms) or the commands queued behind
// it would look hung; a replica on the same network confirms in well under
// a millisecond, so 500 ms only ends waits for a replica that is stuck or
// gone, and keeps a sender's 503 within about half a second.
inline constexpr int64_t kWaitTimeoutMs = 500;

/* The replicas an `INFO replication` answer lists as online
 * ("slaveN:...,state=online,..." lines; those still syncing do not count),
 * or nullopt when the text is not a master's INFO replication. */
std::optional<int64_t> online_replicas(std::string_view info);

class WaitBatch {
public:
    // Called with the number of replicas that confirmed, or -1 when the
    // WAIT was not answered (link down).
    using Answer = std::function<void(int64_t confirmed)>;
    // Sends PUBLISH + WAIT on the connection; `answer` runs once, maybe
    // before issue returns (a link that is down fails at once).
    using Issue = std::function<void(Answer answer)>;
    // `ok`: N replicas hold everything executed before the WAIT.
    using Done = std::function<void(bool ok)>;

    // `replicas`: N (>= 1). `issue` must outlive the batch.
    WaitBatch(int64_t replicas, Issue issue) : replicas_(replicas), issue_(std::move(issue)) {}
    WaitBatch(const WaitBatch&) = delete;
    WaitBatch& operator=(const WaitBatch&) = delete;

    /* Confirms everything Redis executed on this connection before now
     * (the caller has its answer): `done` runs once, with ok or not, after
     * a WAIT sent from now on is answered. Bounded by the link: each
     * caller holds a command's answer, and the link bounds commands in
     * flight. A `done` told not ok must not ask again at once: a link that
     * is down answers at once, and that would never end. */
    void after(Done done);

    // Confirmations waiting (in flight or for the next WAIT).
    size_t waiting() const { return in_flight_.size() + next_.size(); }
    // WAITs sent so far, and those answered with fewer than N replicas
    // (or not at all).
    uint64_t waits() const { return waits_; }
    uint64_t unconfirmed() const { return unconfirmed_; }

private:
    void send();
    void answer(int64_t confirmed);

    int64_t replicas_;
    Issue issue_;
    bool sending_ = false;         // a WAIT is in flight
    bool issuing_ = false;         // inside send()'s loop
    std::vector<Done> in_flight_;  // answered by the WAIT in flight
    std::vector<Done> next_;       // answered by the next WAIT
    uint64_t waits_ = 0;
    uint64_t unconfirmed_ = 0;
};

}  // namespace pushd
