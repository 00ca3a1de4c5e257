// Redis stream entry ids ("<ms>-<seq>"): parse, format, compare.
//
// Pure: text in, two integers out. These ids are the `message_id`s of
// `new_message` (group history entries) and the `notification_id`s of
// notifications, and what clients send back in `since` and `mark_read`.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

struct StreamId {
    uint64_t ms = 0;   // milliseconds part (before the '-')
    uint64_t seq = 0;  // sequence part (after the '-')

    friend constexpr bool operator==(const StreamId&, const StreamId&) = default;
    friend constexpr std::strong_ordering operator<=>(const StreamId& a, const StreamId& b) {
        if (auto c = a.ms <=> b.ms; c != 0) return c;
        return a.seq <=> b.seq;
    }
};

/* Parses "<ms>-<seq>" or "<ms>" (then seq is 0, as Redis reads a start id).
 * Each part is 1 or more ASCII digits (leading zeros allowed, as Redis
 * allows them: "007-1" is 7-1) whose value fits in uint64_t. No sign, no
 * spaces, nothing before or after, no Redis specials ("-", "+", "$", "*").
 * Returns nullopt on anything else, including overflow. */
std::optional<StreamId> parse_stream_id(std::string_view text);

/* Formats an id as "<ms>-<seq>" in canonical decimal (no leading zeros),
 * the form Redis returns. format_stream_id(*parse_stream_id(s)) is the
 * canonical spelling of s. */
std::string format_stream_id(StreamId id);

}  // namespace pushd
