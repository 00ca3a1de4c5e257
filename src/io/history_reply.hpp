// The answers of the history scripts (core/redis_schema: kReplayScript for
// `since`, kNewestScript for the newest messages) read into a
// ReplayResult, for pushd's store and pushctl history alike.
#pragma once

#include "core/store.hpp"
#include "core/stream_id.hpp"

#include <hiredis/hiredis.h>

#include <optional>
#include <string>
#include <vector>

namespace pushd {

/* kReplayScript's answer for `group_id` after `since`: the messages, and
 * truncated when entries were trimmed and `since` is older than the oldest
 * one left. nullopt when `r` is not that answer. Malformed entries are
 * skipped, each noted in `skipped` as "<id>: <why>". */
std::optional<ReplayResult> read_replay_reply(const redisReply* r, const std::string& group_id, StreamId since,
                                              std::vector<std::string>& skipped);

/* kNewestScript's answer (newest first) as the messages oldest first;
 * truncated when fewer than `limit` are left of a trimmed history. */
std::optional<ReplayResult> read_newest_reply(const redisReply* r, const std::string& group_id, size_t limit,
                                              std::vector<std::string>& skipped);

}  // namespace pushd
