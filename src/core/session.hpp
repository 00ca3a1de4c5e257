// The state of one client connection that the core logic owns: identity,
// authentication, subscriptions and unsent output. The io layer keeps a
// pointer to it in its per-connection data and never frees it mid-callback.
#pragma once

#include "core/outq.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pushd {

struct GroupEntry;

struct Session {
    uint64_t id = 0;               // unique within the instance
    void* transport = nullptr;     // the io layer's connection handle (opaque here)

    // Authentication (PROTOCOL.md section 5).
    std::string user_id;           // empty until authenticated
    int64_t expires_at_s = 0;      // the token's exp
    bool authenticated = false;
    uint8_t auth_failures = 0;     // consecutive auth_failed replies

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
    };
    std::vector<Subscription> subscriptions;

    OutQueue outq;                 // pre-framed output not yet written

    // The transport's reassembly buffer for a message arriving in several
    // frames or receive callbacks; bounded by Limits.MaxMessageBytes.
    std::string rx;
};

}  // namespace pushd
