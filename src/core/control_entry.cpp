#include "core/control_entry.hpp"

namespace pushd {

bool is_control_entry(const EntryFields& fields) { return entry_field(fields, "op") != nullptr; }

std::vector<std::string> control_entry_fields(const ControlEntry& entry) {
    if (entry.op == ControlOp::disconnect)
        return {"op", "disconnect", "user_id", entry.user_id, "reason", entry.reason};
    return {"op", "revoke", "user_id", entry.user_id, "revocation", format_revocation(entry.revocation)};
}

std::optional<ControlEntry> control_from_entry(const EntryFields& fields, std::string* why) {
    const std::string* op = entry_field(fields, "op");
    const std::string* user = entry_field(fields, "user_id");
    if (!user || user->empty()) {
        *why = "control entry without user_id";
        return std::nullopt;
    }
    ControlEntry e;
    e.user_id = *user;
    if (op && *op == "disconnect") {
        e.op = ControlOp::disconnect;
        if (const std::string* reason = entry_field(fields, "reason")) e.reason = close_reason_text(*reason);
        return e;
    }
    if (op && *op == "revoke") {
        e.op = ControlOp::revoke;
        const std::string* text = entry_field(fields, "revocation");
        std::optional<Revocation> r = text ? parse_revocation(*text) : std::nullopt;
        if (!r) {
            *why = "revoke entry without a valid revocation";
            return std::nullopt;
        }
        e.revocation = *r;
        return e;
    }
    *why = "unknown control op";
    return std::nullopt;
}

std::string close_reason_text(std::string_view reason) {
    if (reason.size() <= kMaxCloseReasonBytes) return std::string(reason);
    size_t n = kMaxCloseReasonBytes;
    // Back to the start of a character: UTF-8 continuation bytes have 0b10 as their top two bits.
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) n--;
    return std::string(reason.substr(0, n));
}

}  // namespace pushd
