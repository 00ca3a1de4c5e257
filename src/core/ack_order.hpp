// Ack before push: a sender sees the ack of its send_message before the
// push of that message (PROTOCOL.md section 3: "ack; then the message is
// pushed").
//
// Storage may hand the bus's copy of a message to the hub before the
// append's own answer (two Redis connections). While a session has sends
// in flight, the push of its own message waits here, and so does every
// push to that session after it (order), until the ack has been queued.
// Pushes of other senders' messages pass straight through while nothing
// waits. A send is named by its key (group id and client message id, as
// dedup names a retry).
//
// Pure bookkeeping: frames are owned through FrameRef; nothing is written.
#pragma once

#include "core/outq.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pushd {

class AckOrder {
public:
    // `max_held`: pushes held per session at most; past it offer() says
    // `full` and the caller closes the session as a slow consumer.
    explicit AckOrder(size_t max_held) : max_held_(max_held) {}
    AckOrder(const AckOrder&) = delete;
    AckOrder& operator=(const AckOrder&) = delete;

    // The key of a send: its group and client message id.
    static std::string key(std::string_view group_id, std::string_view client_message_id);

    // A send named `key` is in flight for `session`.
    void expect(uint64_t session, const std::string& key);

    // True while `session` has sends in flight or pushes held.
    bool active(uint64_t session) const { return sessions_.count(session) != 0; }

    // A push to `session`: `own_key` is the send's key when the session's
    // user sent it, else "". `deliver`: queue it now; `held`: it waits
    // here; `full`: too many wait (nothing was kept).
    enum class Offer { deliver, held, full };
    Offer offer(uint64_t session, const std::string& own_key, SharedFrame* frame);

    // The ack of the send `key` was queued (or the send failed). Returns
    // the pushes now free to go, in order. *idle is set when the session
    // has nothing in flight and nothing held any more.
    std::vector<FrameRef> acked(uint64_t session, const std::string& key, bool* idle);

    // Forgets `session` (it closed), dropping what it held.
    void forget(uint64_t session) { sessions_.erase(session); }

private:
    struct Held {
        FrameRef frame;
        std::string waits_for;  // the send whose ack it follows; "" behind others
    };
    struct PerSession {
        std::unordered_map<std::string, uint32_t> pending;  // key -> sends in flight
        std::deque<Held> held;
    };
    size_t max_held_;
    std::unordered_map<uint64_t, PerSession> sessions_;
};

}  // namespace pushd
