// Timed events of sessions (auth timeout, token expiry, heartbeat silence)
// in one min-heap.
//
// Entries are never removed early: when one falls due the hub checks that it
// still applies (the session exists and is in the state the entry was made
// for), so rescheduling is a push and cancelling is free. The heap is
// compacted when stale entries outnumber live sessions, so it stays bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace pushd {

enum class DeadlineKind : uint8_t { auth_timeout, token_expiry, heartbeat, storage_retry, auto_join_release };

struct Deadline {
    int64_t due_ms;
    uint64_t session_id;
    int64_t stamp;  // what the entry was made for (the token's exp for expiry)
    DeadlineKind kind;
};

class DeadlineQueue {
public:
    // Adds an entry.
    void push(const Deadline& d);

    // Removes and returns, one by one, entries due at or before `now_ms`
    // (earliest first) through `fn`.
    void pop_due(int64_t now_ms, const std::function<void(const Deadline&)>& fn);

    // Drops entries for which `live` returns false. Called by the owner when
    // size() grows past a multiple of its live sessions.
    void compact(const std::function<bool(const Deadline&)>& live);

    // The earliest due time, or INT64_MAX when empty.
    int64_t next_due() const;

    size_t size() const { return heap_.size(); }

private:
    std::vector<Deadline> heap_;
};

}  // namespace pushd
