// The state of one client connection that the core logic owns: identity,
// authentication, subscriptions and unsent output. The io layer keeps a
// pointer to it in its per-connection data and never frees it mid-callback.
#pragma once

#include "core/outq.hpp"
#include "core/ratelimit.hpp"
#include "core/stream_id.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pushd {

struct GroupEntry;

// Session::token_iat_s of a token without iat.
inline constexpr int64_t kNoIat = INT64_MIN;

struct Session {
    uint64_t id = 0;            // unique within the instance
    void* transport = nullptr;  // the io layer's connection handle (opaque here)

    // Authentication (PROTOCOL.md section 5).
    std::string user_id;           // empty until authenticated
    int64_t expires_at_s = 0;      // the token's exp
    int64_t token_iat_s = kNoIat;  // the token's iat (revocations refuse it when not after their bound)
    bool authenticated = false;
    bool deflate = false;       // permessage-deflate negotiated: queue compressed twins
    uint8_t auth_failures = 0;  // consecutive auth_failed replies

    // When the client last sent anything (a frame of any kind, pongs
    // included): Heartbeat.Timeout counts from here (Hub::touch).
    int64_t last_rx_ms = 0;
    int64_t pinged_ms = 0;  // when the hub last queued a ping to it

    // Closing is deferred: fan-out and writes only mark it.
    bool closing = false;
    uint16_t close_code = 0;
    const char* close_reason = "";  // static text for the close frame

    // The user's sessions on this instance, oldest first (Registry).
    Session* user_prev = nullptr;
    Session* user_next = nullptr;

    // Groups this session is subscribed to, and for each its index in the
    // group's member vector (kept in step by Registry for O(1) removal).
    struct Subscription {
        GroupEntry* group;
        uint32_t member_index;
        // After a join_group replay: live messages up to this id were
        // replayed already (the bus may deliver them after the replay's
        // answer) and are skipped. 0-0: none.
        StreamId replayed_upto{};
    };
    std::vector<Subscription> subscriptions;

    OutQueue outq;  // pre-framed output not yet written

    // Limits.MessagesPerSecond / Limits.Burst: every request takes a token
    // when it arrives (held ones too).
    RateBucket rate;

    // AutoJoin: while the user's group set is being read, requests wait
    // here and are handled in order once it arrives (bounded by the hub).
    // A request that found no token waits too, to get its 429 in order.
    struct HeldRequest {
        std::string text;
        bool rate_limited;
    };
    bool holding = false;
    bool reading_paused = false;  // the transport was asked to stop reading
    // A vector, not a deque: libstdc++'s std::deque allocates ~580 bytes
    // when constructed, which every idle connection would pay.
    std::vector<HeldRequest> held;
    size_t held_bytes = 0;

    // send_message in flight: pushes of its own messages (and those after
    // them) wait for the ack (see Hub::held_behind_ack).
    bool ack_hold = false;

    // After an auth replay of the inbox: user-targeted notifications up to
    // this id were replayed already and are not delivered again. 0-0: none.
    StreamId inbox_upto{};
};

}  // namespace pushd
