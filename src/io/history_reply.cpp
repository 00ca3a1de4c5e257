#include "io/history_reply.hpp"

#include "core/bus_entry.hpp"
#include "io/redis_link.hpp"

namespace pushd {
namespace {

void add_messages(const std::string& group_id, std::vector<RedisEntry>& entries, ReplayResult& res,
                  std::vector<std::string>& skipped) {
    res.messages.reserve(entries.size());
    for (RedisEntry& e : entries) {
        std::string why;
        if (auto m = message_from_history_entry(group_id, e.id, e.fields, &why))
            res.messages.push_back(std::move(*m));
        else
            skipped.push_back(e.id + ": " + why);
    }
}

}  // namespace

std::optional<ReplayResult> read_replay_reply(const redisReply* r, const std::string& group_id, StreamId since,
                                              std::vector<std::string>& skipped) {
    std::vector<RedisEntry> entries;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        (r->element[1]->type != REDIS_REPLY_STRING && r->element[1]->type != REDIS_REPLY_STATUS) ||
        !redis_read_entries(r->element[2], entries))
        return std::nullopt;
    ReplayResult res;
    res.status = StoreStatus::ok;
    auto first = parse_stream_id(std::string_view(r->element[1]->str, r->element[1]->len));
    // Entries were trimmed and `since` is older than the oldest one left:
    // some newer than `since` may be gone.
    res.truncated = r->element[0]->integer != 0 && first && since < *first;
    add_messages(group_id, entries, res, skipped);
    return res;
}

std::optional<ReplayResult> read_newest_reply(const redisReply* r, const std::string& group_id, size_t limit,
                                              std::vector<std::string>& skipped) {
    std::vector<RedisEntry> entries;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        !redis_read_entries(r->element[1], entries))
        return std::nullopt;
    ReplayResult res;
    res.status = StoreStatus::ok;
    res.truncated = r->element[0]->integer != 0 && entries.size() < limit;
    std::vector<RedisEntry> oldest_first(std::make_move_iterator(entries.rbegin()),
                                         std::make_move_iterator(entries.rend()));
    add_messages(group_id, oldest_first, res, skipped);
    return res;
}

}  // namespace pushd
