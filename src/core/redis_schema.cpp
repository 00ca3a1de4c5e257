#include "core/redis_schema.hpp"

#include "core/cluster_slots.hpp"
#include "core/config.hpp"
#include "core/stream_id.hpp"

namespace pushd {

// TIME gives the entry's timestamp field (milliseconds); the entry id is
// Redis's own (XADD *), so ids increase within a group on every instance.
const char* const kAppendScript = R"LUA(
local prev = redis.call('GET', KEYS[1])
if prev then return {prev, 1} end
local t = redis.call('TIME')
local ts = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
  'client_message_id', ARGV[5], 'sender_id', ARGV[6], 'msg_type', ARGV[7],
  'content', ARGV[8], 'timestamp', ts)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
  'group_id', ARGV[4], 'message_id', id,
  'client_message_id', ARGV[5], 'sender_id', ARGV[6], 'msg_type', ARGV[7],
  'content', ARGV[8], 'timestamp', ts)
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
return {id, 0}
)LUA";

const char* const kReplayScript = R"LUA(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', {}} end
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, len, first = nil, 0, ''
for i = 1, #info, 2 do
  local k = info[i]
  if k == 'entries-added' then added = info[i + 1]
  elseif k == 'length' then len = info[i + 1]
  elseif k == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
end
local removed = 1
if added ~= nil and added <= len then removed = 0 end
return {removed, first, entries}
)LUA";

// The newest entries, newest first (the caller reverses them), and whether
// the stream ever lost entries to trimming (as kReplayScript says it).
const char* const kNewestScript = R"LUA(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[1])
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, len = nil, 0
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then added = info[i + 1]
  elseif info[i] == 'length' then len = info[i + 1] end
end
local removed = 1
if added ~= nil and added <= len then removed = 0 end
return {removed, entries}
)LUA";

// The union with a revocation already recorded (the later end, the later
// bound), as core/revocations merges them; then the bus entry every
// instance acts on (core/control_entry's revoke fields).
const char* const kRevokeScript = R"LUA(
local until_ms, bound = tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local cu, cb = string.match(cur, '^(%d+):(%-?%d+)$')
  if cu then
    until_ms = math.max(until_ms, tonumber(cu))
    bound = math.max(bound, tonumber(cb))
  end
end
local text = string.format('%d:%d', until_ms, bound)
redis.call('HSET', KEYS[1], ARGV[1], text)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'op', 'revoke', 'user_id', ARGV[1], 'revocation', text)
return text
)LUA";

const char* const kInboxedScript = R"LUA(
local cur = redis.call('GET', KEYS[1])
if cur then
  local cm, cs = string.match(cur, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
  if not nm then return 0 end
  if cm then
    cm, cs, nm, ns = tonumber(cm), tonumber(cs), tonumber(nm), tonumber(ns)
    if nm < cm or (nm == cm and ns <= cs) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
)LUA";

RedisKeys::RedisKeys(std::string prefix, size_t bus_shards) : p_(std::move(prefix)) {
    for (size_t i = 0; i < bus_shards; ++i) tags_.push_back(bus_shard_tag(i, bus_shards));
}

size_t RedisKeys::shard_of(std::string_view gid) const { return tags_.empty() ? 0 : bus_shard_of(gid, tags_.size()); }

RedisKeys redis_keys(const RedisConfig& redis) {
    return RedisKeys(redis.key_prefix, redis.mode == "cluster" ? static_cast<size_t>(redis.bus_shards) : 0);
}

std::string RedisKeys::dedup(std::string_view sender, std::string_view group_id,
                             std::string_view client_message_id) const {
    std::string k = tagged(shard_of(group_id)) + "dedup:" + std::to_string(sender.size()) + ":";
    k.append(sender);
    k += ':';
    k += std::to_string(group_id.size());
    k += ':';
    k.append(group_id);
    k += ':';
    k.append(client_message_id);
    return k;
}

std::string RedisKeys::instance(std::string_view name, std::string_view host, long long port) const {
    std::string k = instances() + "instance:";
    k.append(name);
    k += ':';
    k.append(host);
    k += ':';
    k += std::to_string(port);
    return k;
}

std::string bus_start_id(int64_t redis_now_ms, int64_t local_now_ms, int64_t local_start_ms) {
    const int64_t elapsed = local_now_ms > local_start_ms ? local_now_ms - local_start_ms : 0;
    const int64_t start = redis_now_ms - elapsed - kBusStartMarginMs;
    return format_stream_id(StreamId{start > 0 ? static_cast<uint64_t>(start) : 0, 0});
}

ScriptArgs append_script_args(const RedisKeys& keys, const AppendRequest& req, int64_t dedup_window_s,
                              int64_t history_size) {
    ScriptArgs a;
    a.keys = {keys.dedup(req.sender_id, req.group_id, req.client_message_id), keys.group(req.group_id),
              keys.bus_of_group(req.group_id)};
    a.args = {std::to_string(dedup_window_s), std::to_string(history_size),
              std::to_string(kBusMaxLen),     req.group_id,
              req.client_message_id,          req.sender_id,
              std::to_string(req.msg_type),   req.content};
    return a;
}

}  // namespace pushd
