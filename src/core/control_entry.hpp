// The bus's control entries: orders the HTTP API (or pushctl) gives every
// instance at once (PROTOCOL.md section 9: /api/disconnect, /api/revoke).
// They travel on the same private bus stream as group messages, told apart
// by their `op` field (group messages have none), so every instance,
// whichever received the request, acts on them in bus order. Pure.
//
//   op disconnect  user_id, reason          -> close the user's connections, 4010
//   op revoke      user_id, revocation      -> core/revocations; close them, 4001
#pragma once

#include "core/bus_entry.hpp"
#include "core/revocations.hpp"

#include <optional>
#include <string>
#include <vector>

namespace pushd {

enum class ControlOp { disconnect, revoke };

struct ControlEntry {
    ControlOp op = ControlOp::disconnect;
    std::string user_id;
    std::string reason;     // disconnect: the close reason ("" for the default)
    Revocation revocation;  // revoke
};

// The close reason of a disconnect that gave none, and of a revocation.
inline constexpr const char* kDefaultDisconnectReason = "disconnected";
inline constexpr const char* kRevokedReason = "token revoked";
// Distinct disconnect reasons an instance keeps for its close frames; a
// new one beyond them closes with kDefaultDisconnectReason.
inline constexpr size_t kMaxCloseReasons = 1024;
// A close frame's reason holds at most 123 bytes (RFC 6455 5.5.1).
inline constexpr size_t kMaxCloseReasonBytes = 123;

/* True when the bus entry is a control entry (it has an `op` field). */
bool is_control_entry(const EntryFields& fields);

/* The entry's fields as XADD takes them: field, value, field, value... */
std::vector<std::string> control_entry_fields(const ControlEntry& entry);

/* A control entry back, or nullopt with *why (unknown op, no user...). */
std::optional<ControlEntry> control_from_entry(const EntryFields& fields, std::string* why);

/* `reason` cut to a close frame's limit at a UTF-8 character boundary. */
std::string close_reason_text(std::string_view reason);

}  // namespace pushd
