// pushctl tail: follows the bus (every group message any instance stored)
// and the notify stream, printing one line per new entry as it is stored,
// flushed at once. It reads the streams' newest ids first and then XREAD
// BLOCKs from them, so nothing stored after the start is missed between two
// reads. Its Redis connection is named "pushctl-tail" (CLIENT LIST shows it,
// blocked in xread while it waits).
//
//   human:  message <gid> <message_id> from <sender> type <n> id <client id>: "<content>"
//           notification <notification_id> to <target>: <data>
//           malformed <stream> entry <id>: <why>
//   --json: {"stream": "group:<gid>"|"notify", "id": <message_id or notification_id>,
//            <field>: <value>...} (contract v1.1 section 8; a bus entry without
//            a group_id or message_id keeps "bus" and its entry id)
//           every field as the string Redis holds (a field named "stream" or
//           "id" is written as "field_stream"/"field_id"; of repeated names
//           the first wins; invalid UTF-8 bytes become U+FFFD).
//
// In cluster mode the bus is Redis.BusShards streams in different slots:
// tail reads each (and notify) without blocking, pausing when none had
// anything; with --group only that group's shard.
//
// --group GID keeps only GID's messages (notifications are all printed);
// --count N exits 0 after N lines. SIGINT/SIGTERM end it with exit 0
// within about half a second (the XREAD blocks at most that long).
#include "context.hpp"
#include "core/bus_entry.hpp"
#include "core/json_check.hpp"
#include "core/json_writer.hpp"
#include "core/protocol.hpp"
#include "core/redis_schema.hpp"
#include "core/stream_id.hpp"
#include "io/redis_link.hpp"
#include "redis_sync.hpp"
#include "stop_signal.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

namespace pushctl {
namespace {

constexpr const char* kBlockMs = "500";
constexpr const char* kBatch = "512";
constexpr long kClusterPollMs = 100;

struct TailOptions {
    std::optional<std::string> group;
    int64_t count = 0;  // 0: until stopped
    bool json = false;
};

struct TailEntry {
    bool notify = false;
    pushd::RedisEntry entry;
};

// `s` itself when it is valid UTF-8, else with every byte >= 0x80 replaced
// by U+FFFD (a malformed value still prints as valid JSON).
std::string utf8_or_replaced(std::string_view s) {
    if (pushd::utf8_valid(s)) return std::string(s);
    std::string out;
    for (char ch : s) {
        if (static_cast<unsigned char>(ch) < 0x80)
            out += ch;
        else
            out += "\xEF\xBF\xBD";
    }
    return out;
}

// The first value of field `name`, or nullptr.
const std::string* field_of(const TailEntry& t, std::string_view name) {
    for (const auto& [k, v] : t.entry.fields) {
        if (k == name) return &v;
    }
    return nullptr;
}

std::string json_line(const TailEntry& t) {
    pushd::JsonWriter w;
    // A group message is named as clients see it: its group's history and
    // its message_id (not the private bus entry).
    std::string stream = t.notify ? "notify" : "bus";
    std::string id = t.entry.id;
    if (!t.notify) {
        const std::string* gid = field_of(t, "group_id");
        const std::string* mid = field_of(t, "message_id");
        if (gid && mid) {
            stream = "group:" + *gid;
            id = *mid;
        }
    }
    w.begin_object().field_str("stream", utf8_or_replaced(stream)).field_str("id", utf8_or_replaced(id));
    std::set<std::string> written{"stream", "id"};
    for (const auto& [name, value] : t.entry.fields) {
        std::string key = utf8_or_replaced(name);
        if (key == "stream" || key == "id") key = "field_" + key;
        if (!written.insert(key).second) continue;
        w.field_str(key, utf8_or_replaced(value));
    }
    w.end_object();
    return w.take();
}

// A validated JSON object text on one line: in valid JSON a raw newline,
// carriage return or tab can only be whitespace between tokens.
std::string one_line(std::string s) {
    for (char& ch : s) {
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    }
    return s;
}

std::string human_line(const TailEntry& t) {
    std::string why;
    if (t.notify) {
        auto n = pushd::notification_from_notify_entry(t.entry.id, t.entry.fields, &why);
        if (!n) return "malformed notify entry " + t.entry.id + ": " + why;
        return "notification " + n->id + " to " + *pushd::entry_field(t.entry.fields, "target") + ": " +
               one_line(n->data);
    }
    auto m = pushd::message_from_bus_entry(t.entry.fields, &why);
    if (!m) return "malformed bus entry " + t.entry.id + ": " + why;
    std::string line = "message " + m->group_id + " " + m->message_id + " from ";
    pushd::json_append_string(line, m->sender_id);
    line += " type " + std::to_string(m->msg_type) + " id ";
    pushd::json_append_string(line, m->client_message_id);
    line += ": ";
    pushd::json_append_string(line, m->content);
    return line;
}

bool wanted(const TailOptions& o, const TailEntry& t) {
    if (t.notify || !o.group) return true;
    const std::string* gid = pushd::entry_field(t.entry.fields, "group_id");
    return gid && *gid == *o.group;
}

// The stream's newest entry id ("0-0" when empty): reading starts after it.
// nullopt after recording the error.
std::optional<std::string> newest_id(Context& c, RedisSync& redis, const std::string& key) {
    Reply r = redis.command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
    std::vector<pushd::RedisEntry> entries;
    if (!r) {
        c.fail(kFailed, redis.error());
    } else if (!pushd::redis_read_entries(r.get(), entries)) {
        c.fail(kFailed,
               "XREVRANGE " + key + ": " + (r->type == REDIS_REPLY_ERROR ? std::string(r->str) : "unexpected reply"));
    } else {
        return entries.empty() ? "0-0" : entries.front().id;
    }
    return std::nullopt;
}

// Orders entries of both streams by id (both are stamped by Redis's clock).
bool earlier(const TailEntry& a, const TailEntry& b) {
    auto ia = pushd::parse_stream_id(a.entry.id), ib = pushd::parse_stream_id(b.entry.id);
    if (ia && ib && *ia != *ib) return *ia < *ib;
    return !a.notify && b.notify;
}

// One stream tail follows, and the last id read from it.
struct Followed {
    std::string key;
    bool notify = false;
    std::string last;
};

// The next entries of `streams`: one XREAD BLOCK over all of them on one
// Redis; in cluster mode (keys in several slots) one XREAD each without
// blocking, then a pause of kClusterPollMs when none had anything. False after
// recording the error.
bool read_batch(Context& c, RedisSync& redis, std::vector<Followed>& streams, bool clustered,
                std::vector<TailEntry>& batch) {
    std::vector<std::vector<Followed*>> calls;
    if (clustered) {
        for (Followed& f : streams) calls.push_back({&f});
    } else {
        calls.emplace_back();
        for (Followed& f : streams) calls.back().push_back(&f);
    }
    for (const std::vector<Followed*>& call : calls) {
        std::vector<std::string> argv{"XREAD", "COUNT", kBatch};
        if (!clustered) argv.insert(argv.end(), {"BLOCK", kBlockMs});
        argv.push_back("STREAMS");
        for (const Followed* f : call) argv.push_back(f->key);
        for (const Followed* f : call) argv.push_back(f->last);
        Reply r = redis.command(argv);
        if (!r) return stop_requested() || (c.fail(kFailed, redis.error()), false);
        if (r->type == REDIS_REPLY_NIL) continue;
        if (r->type != REDIS_REPLY_ARRAY) {
            return c.fail(kFailed,
                          std::string("XREAD: ") + (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")),
                   false;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply* s = r->element[i];
            if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) continue;
            const std::string_view key = pushd::redis_reply_text(s->element[0]);
            std::vector<pushd::RedisEntry> entries;
            if (!pushd::redis_read_entries(s->element[1], entries) || entries.empty()) continue;
            for (Followed* f : call) {
                if (f->key != key) continue;
                f->last = entries.back().id;
                for (pushd::RedisEntry& e : entries) batch.push_back({f->notify, std::move(e)});
            }
        }
    }
    if (clustered && batch.empty()) {
        // Nothing new anywhere: a short pause (a signal ends it at once).
        timespec pause{0, kClusterPollMs * 1000000L};
        nanosleep(&pause, nullptr);
    }
    return true;
}

int run_tail(Context& c, const TailOptions& o) {
    if (o.group && (!pushd::valid_group_id(*o.group) || !pushd::utf8_valid(*o.group)))
        return c.fail(kUsage, "--group: a group id is 1..128 bytes of UTF-8 without control characters");
    install_stop_signals();
    auto redis = open_redis(c);
    if (!redis) return c.error->status;
    pushd::RedisKeys keys = pushd::redis_keys(c.config()->redis);
    std::vector<Followed> streams;
    if (o.group) {
        streams.push_back({keys.bus_of_group(*o.group), false, ""});
    } else {
        for (size_t i = 0; i < keys.bus_shards(); ++i) streams.push_back({keys.bus_shard(i), false, ""});
    }
    streams.push_back({keys.notify(), true, ""});
    redis->command({"CLIENT", "SETNAME", "pushctl-tail"});
    for (Followed& f : streams) {
        auto start = newest_id(c, *redis, f.key);
        if (!start) return kFailed;
        f.last = *start;
    }
    int64_t printed = 0;
    while (!stop_requested()) {
        std::vector<TailEntry> batch;
        if (!read_batch(c, *redis, streams, keys.clustered(), batch)) return kFailed;
        std::stable_sort(batch.begin(), batch.end(), earlier);
        for (const TailEntry& t : batch) {
            if (!wanted(o, t)) continue;
            const std::string line = o.json ? json_line(t) : human_line(t);
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fputc('\n', stdout);
            std::fflush(stdout);
            if (o.count > 0 && ++printed >= o.count) return kOk;
        }
    }
    return kOk;
}

}  // namespace

void set_tail_command(CLI::App* app, Context& ctx) {
    auto o = std::make_shared<TailOptions>();
    CLI::App* cmd = app->add_subcommand("tail", "print group messages and notifications as they are stored");
    cmd->add_option("--group", o->group, "only this group's messages (and every notification)");
    cmd->add_option("--count", o->count, "exit after N entries")->check(CLI::Range(int64_t{1}, INT64_MAX));
    cmd->add_flag("--json", o->json, "one JSON object a line: {\"stream\", \"id\", ...fields}");
    cmd->callback([&ctx, o] { ctx.run = [o](Context& c) -> int { return run_tail(c, *o); }; });
}

}  // namespace pushctl
