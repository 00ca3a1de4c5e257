#include "core/presence_schema.hpp"

#include "core/json_writer.hpp"

#include <charconv>

namespace pushd {
namespace {

// What every presence script shares: Redis's clock, key names, the event,
// and the two setters that keep the invariant of presence_schema.hpp.
constexpr const char* kPrelude = R"LUA(
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local INSTANCES = P .. 'presence:instances'
local function lenpre(a, b) return #a .. ':' .. a .. b end
local function split(f)
  local c = string.find(f, ':', 1, true)
  local n = tonumber(string.sub(f, 1, c - 1))
  return string.sub(f, c + 1, c + n), string.sub(f, c + n + 1)
end
local function event(kind, uid, inst)
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', '100000', '*',
             'event', kind, 'user_id', uid, 'instance', inst, 'ts', string.format('%d', now))
end
-- The user's connections on `inst` become n; online/offline when the
-- user's connections on every registered instance leave or reach zero.
local function set_user(inst, uid, n)
  local key = P .. 'presence:user:' .. uid
  local idx = P .. 'presence:instance:' .. inst
  local old = tonumber(redis.call('HGET', key, inst) or '0')
  if old == n then return end
  local others = redis.call('HLEN', key) - ((old > 0) and 1 or 0)
  if n > 0 then
    redis.call('HSET', key, inst, n)
    redis.call('HSET', idx, 'u' .. uid, n)
  else
    redis.call('HDEL', key, inst)
    redis.call('HDEL', idx, 'u' .. uid)
  end
  if others == 0 then
    if old == 0 then event('online', uid, inst) elseif n == 0 then event('offline', uid, inst) end
  end
end
local function set_group(inst, gid, uid, n)
  local key = P .. 'presence:group:' .. gid
  local idx = P .. 'presence:instance:' .. inst
  if n > 0 then
    redis.call('HSET', key, lenpre(inst, uid), n)
    redis.call('HSET', idx, 'g' .. lenpre(gid, uid), n)
  else
    redis.call('HDEL', key, lenpre(inst, uid))
    redis.call('HDEL', idx, 'g' .. lenpre(gid, uid))
  end
end
-- Applies ARGV from `i` on: U (uid, n) pairs, then (gid, uid, n) triples.
local function apply_from(inst, i, u)
  for _ = 1, u do set_user(inst, ARGV[i], tonumber(ARGV[i + 1])); i = i + 2 end
  while i + 2 <= #ARGV do set_group(inst, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])); i = i + 3 end
end
)LUA";

}  // namespace

const std::string kPresenceApplyScript = std::string(kPrelude) + R"LUA(
local name = ARGV[2]
if not redis.call('ZSCORE', INSTANCES, name) then return 0 end
redis.call('ZADD', INSTANCES, now + tonumber(ARGV[3]), name)
apply_from(name, 5, tonumber(ARGV[4]))
return 1
)LUA";

const std::string kPresenceSyncScript = std::string(kPrelude) + R"LUA(
local name = ARGV[2]
local idx = P .. 'presence:instance:' .. name
local u = tonumber(ARGV[5])
local users, groups = {}, {}
local i = 6
for _ = 1, u do users[ARGV[i]] = true; i = i + 2 end
while i + 2 <= #ARGV do groups[lenpre(ARGV[i], ARGV[i + 1])] = true; i = i + 3 end
for _, f in ipairs(redis.call('HKEYS', idx)) do
  local rest = string.sub(f, 2)
  if string.sub(f, 1, 1) == 'u' then
    if not users[rest] then set_user(name, rest, 0) end
  elseif not groups[rest] then
    local gid, uid = split(rest)
    set_group(name, gid, uid, 0)
  end
end
apply_from(name, 6, u)
if ARGV[4] == '1' then
  redis.call('ZADD', INSTANCES, now + tonumber(ARGV[3]), name)
else
  redis.call('ZREM', INSTANCES, name)
  redis.call('DEL', idx)
end
return 1
)LUA";

const std::string kPresenceReapScript = std::string(kPrelude) + R"LUA(
local dead = redis.call('ZRANGEBYSCORE', INSTANCES, '-inf', '(' .. string.format('%d', now),
                        'LIMIT', 0, tonumber(ARGV[2]))
for _, name in ipairs(dead) do
  local idx = P .. 'presence:instance:' .. name
  for _, f in ipairs(redis.call('HKEYS', idx)) do
    local rest = string.sub(f, 2)
    if string.sub(f, 1, 1) == 'u' then
      set_user(name, rest, 0)
    else
      local gid, uid = split(rest)
      set_group(name, gid, uid, 0)
    end
  end
  redis.call('DEL', idx)
  redis.call('ZREM', INSTANCES, name)
end
return #dead
)LUA";

const std::string kPresenceGroupScript = std::string(kPrelude) + R"LUA(
local h = redis.call('HGETALL', P .. 'presence:group:' .. ARGV[2])
local live, sums, order = {}, {}, {}
for i = 1, #h, 2 do
  local inst, uid = split(h[i])
  if live[inst] == nil then
    local e = redis.call('ZSCORE', INSTANCES, inst)
    live[inst] = (e and tonumber(e) >= now) or false
  end
  if live[inst] then
    if not sums[uid] then sums[uid] = 0; order[#order + 1] = uid end
    sums[uid] = sums[uid] + tonumber(h[i + 1])
  end
end
table.sort(order)
local out = {}
for _, uid in ipairs(order) do out[#out + 1] = uid; out[#out + 1] = tostring(sums[uid]) end
return out
)LUA";

const std::string kPresenceUserScript = std::string(kPrelude) + R"LUA(
local h = redis.call('HGETALL', P .. 'presence:user:' .. ARGV[2])
local names, total = {}, 0
for i = 1, #h, 2 do
  local e = redis.call('ZSCORE', INSTANCES, h[i])
  if e and tonumber(e) >= now then names[#names + 1] = h[i]; total = total + tonumber(h[i + 1]) end
end
table.sort(names)
local out = {tostring(total)}
for _, n in ipairs(names) do out[#out + 1] = n end
return out
)LUA";

std::string presence_key_pattern(const std::string& prefix) { return prefix + "presence:*"; }

namespace {

void append_counts(std::vector<std::string>& args, const PresenceChanges& changes) {
    args.push_back(std::to_string(changes.users.size()));
    for (const PresenceUserCount& u : changes.users) {
        args.push_back(u.user_id);
        args.push_back(std::to_string(u.connections));
    }
    for (const PresenceGroupCount& g : changes.groups) {
        args.push_back(g.group_id);
        args.push_back(g.user_id);
        args.push_back(std::to_string(g.connections));
    }
}

std::optional<uint32_t> read_count(const std::string& s) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
}

}  // namespace

std::vector<std::string> presence_apply_args(const std::string& prefix, const std::string& name,
                                             const PresenceChanges& changes) {
    std::vector<std::string> args{prefix, name, std::to_string(kPresenceTtlMs)};
    append_counts(args, changes);
    return args;
}

std::vector<std::string> presence_sync_args(const std::string& prefix, const std::string& name,
                                            const PresenceChanges& state, bool register_instance) {
    std::vector<std::string> args{prefix, name, std::to_string(kPresenceTtlMs), register_instance ? "1" : "0"};
    append_counts(args, state);
    return args;
}

std::optional<GroupPresence> read_group_presence(const std::string& group_id, const std::vector<std::string>& reply) {
    if (reply.size() % 2 != 0) return std::nullopt;
    GroupPresence p{group_id, {}};
    for (size_t i = 0; i < reply.size(); i += 2) {
        std::optional<uint32_t> n = read_count(reply[i + 1]);
        if (!n) return std::nullopt;
        p.users.push_back({reply[i], *n});
    }
    return p;
}

std::optional<UserPresence> read_user_presence(const std::string& user_id, const std::vector<std::string>& reply) {
    if (reply.empty()) return std::nullopt;
    std::optional<uint32_t> n = read_count(reply[0]);
    if (!n) return std::nullopt;
    UserPresence p{user_id, *n > 0, *n, {}};
    p.instances.assign(reply.begin() + 1, reply.end());
    return p;
}

std::string group_presence_json(const GroupPresence& p) {
    JsonWriter w(64 + p.users.size() * 48);
    w.begin_object().field_str("group_id", p.group_id).key("users").begin_array();
    for (const PresenceUserCount& u : p.users) {
        w.begin_object().field_str("user_id", u.user_id).field_int("connections", u.connections).end_object();
    }
    w.end_array().end_object();
    return w.take();
}

std::string user_presence_json(const UserPresence& p) {
    JsonWriter w(128);
    w.begin_object()
        .field_str("user_id", p.user_id)
        .field_bool("online", p.online)
        .field_int("connections", p.connections)
        .key("instances")
        .begin_array();
    for (const std::string& name : p.instances) w.string_value(name);
    w.end_array().end_object();
    return w.take();
}

}  // namespace pushd
