#include "io/redis_link.hpp"

#include "io/log.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdlib>

namespace pushd {

// What a command in flight carries through hiredis's privdata.
struct RedisLink::Pending {
    RedisLink* link;
    uint64_t generation;  // the context it was sent on
    Callback cb;
};

namespace {

// ---- hiredis on libuv ---------------------------------------------------------
// The adapter of hiredis 0.14 (adapters/libuv.h) ignores poll callbacks with
// an error status, and libuv reports a failed socket (a refused connect, a
// reset) exactly so (POLLERR -> UV_EBADF, the poll stopped): the connection
// would then only end by our timeout, with no reason. This is that adapter
// with the fix later hiredis releases made: on an error status, let hiredis
// read/write, so it finds the socket error itself (getsockopt / read).

struct UvEvents {
    redisAsyncContext* context;
    uv_poll_t handle;
    int events;
};

void uv_events_poll(uv_poll_t* handle, int status, int events) {
    auto* p = static_cast<UvEvents*>(handle->data);
    const int ev = status != 0 ? p->events : events;
    if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void uv_events_update(UvEvents* p) {
    if (p->events)
        uv_poll_start(&p->handle, p->events, uv_events_poll);
    else
        uv_poll_stop(&p->handle);
}

void uv_events_add_read(void* privdata) {
    auto* p = static_cast<UvEvents*>(privdata);
    p->events |= UV_READABLE;
    uv_events_update(p);
}

void uv_events_del_read(void* privdata) {
    auto* p = static_cast<UvEvents*>(privdata);
    p->events &= ~UV_READABLE;
    uv_events_update(p);
}

void uv_events_add_write(void* privdata) {
    auto* p = static_cast<UvEvents*>(privdata);
    p->events |= UV_WRITABLE;
    uv_events_update(p);
}

void uv_events_del_write(void* privdata) {
    auto* p = static_cast<UvEvents*>(privdata);
    p->events &= ~UV_WRITABLE;
    uv_events_update(p);
}

void uv_events_closed(uv_handle_t* handle) { std::free(handle->data); }

void uv_events_cleanup(void* privdata) {
    auto* p = static_cast<UvEvents*>(privdata);
    p->context = nullptr;  // the context is being freed
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), uv_events_closed);
}

bool uv_events_attach(redisAsyncContext* ac, uv_loop_t* loop) {
    if (ac->ev.data) return false;
    auto* p = static_cast<UvEvents*>(std::calloc(1, sizeof(UvEvents)));
    if (!p) return false;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        std::free(p);
        return false;
    }
    p->handle.data = p;
    p->context = ac;
    ac->ev.addRead = uv_events_add_read;
    ac->ev.delRead = uv_events_del_read;
    ac->ev.addWrite = uv_events_add_write;
    ac->ev.delWrite = uv_events_del_write;
    ac->ev.cleanup = uv_events_cleanup;
    ac->ev.data = p;
    return true;
}

// ---- the link -----------------------------------------------------------------

constexpr uint64_t kWatchIntervalMs = 100;
constexpr unsigned kMaxBackoffExponent = 20;

void count(RedisCounters* c, size_t link, RedisResult r) { c->commands[link][static_cast<size_t>(r)]++; }

}  // namespace

RedisLink::RedisLink(uv_loop_t* loop, RedisLinkOptions options, RedisCounters* counters) :
    loop_(loop),
    options_(std::move(options)),
    counters_(counters),
    index_(static_cast<size_t>(options_.id)),
    rng_(std::random_device{}()) {}

RedisLink::~RedisLink() = default;

const char* RedisLink::name() const {
    switch (options_.id) {
    case RedisLinkId::commands: return "commands";
    case RedisLinkId::bus: return "bus";
    default: return "sentinel";
    }
}

void RedisLink::retarget() {
    if (stopped_ || !options_.resolve) return;
    std::string host;
    int port = 0;
    if (!options_.resolve(&host, &port)) return;
    if (ac_ && host == options_.host && port == options_.port) return;
    if (ac_) lose("the master moved to " + host + ":" + std::to_string(port), true);
    failures_ = 0;
    if (timers_open_) uv_timer_start(&retry_timer_, on_retry_timer, 0, 0);
}

void RedisLink::start() {
    if (!stopped_) return;
    stopped_ = false;
    if (!timers_open_) {
        uv_timer_init(loop_, &retry_timer_);
        uv_timer_init(loop_, &connect_timer_);
        uv_timer_init(loop_, &watch_timer_);
        retry_timer_.data = connect_timer_.data = watch_timer_.data = this;
        timers_open_ = true;
    }
    uv_timer_start(&watch_timer_, on_watch_timer, kWatchIntervalMs, kWatchIntervalMs);
    connect();
}

void RedisLink::stop() {
    if (stopped_) return;
    stopped_ = true;
    if (ac_) lose("shutting down", true);
    if (timers_open_) {
        for (uv_timer_t* t : {&retry_timer_, &connect_timer_, &watch_timer_}) {
            uv_timer_stop(t);
            uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        }
        timers_open_ = false;
    }
}

void RedisLink::connect() {
    if (stopped_ || ac_) return;
    if (options_.resolve && !options_.resolve(&options_.host, &options_.port)) {
        set_down_reason(options_.unresolved_reason);
        schedule_retry();
        return;
    }
    redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (!ac || ac->err) {
        set_down_reason(ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    if (!uv_events_attach(ac, loop_)) {
        redisAsyncFree(ac);
        set_down_reason("cannot attach the connection to the event loop");
        schedule_retry();
        return;
    }
    ac->data = this;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ac_ = ac;
    generation_++;
    uv_timer_start(&connect_timer_, on_connect_timer, options_.connect_timeout_ms, 0);
    handshake();
}

// AUTH, SELECT and PING are queued at once (hiredis writes them when the
// TCP connect completes); the link is up when the PING is answered.
void RedisLink::handshake() {
    const uint64_t gen = generation_;
    auto check = [this, gen](const redisReply* r, std::string_view) {
        if (gen != generation_ || !r) return;  // a lost connection is handled where it is noticed
        if (redis_reply_is_error(r)) lose(std::string(redis_reply_text(r)), true);
    };
    std::string db = std::to_string(options_.db);
    if (!options_.pass.empty()) send({"AUTH", options_.pass}, check, options_.connect_timeout_ms);
    if (options_.db != 0) send({"SELECT", db}, check, options_.connect_timeout_ms);
    if (options_.require_master) {
        send(
            {"ROLE"},
            [this, gen](const redisReply* r, std::string_view) {
                if (gen != generation_ || !r) return;
                const std::string_view role = redis_role(r);
                if (role != "master") lose("not a master (ROLE answered " + std::string(role) + ")", true);
            },
            options_.connect_timeout_ms);
    }
    send(
        {"PING"},
        [this, gen](const redisReply* r, std::string_view) {
            if (gen != generation_ || !r) return;
            if (redis_reply_is_error(r)) {
                lose(std::string(redis_reply_text(r)), true);
                return;
            }
            set_up();
        },
        options_.connect_timeout_ms);
}

void RedisLink::set_up() {
    uv_timer_stop(&connect_timer_);
    up_ = true;
    ever_up_ = true;
    failures_ = 0;
    reason_.clear();
    logged_reason_.clear();
    last_ping_ms_ = uv_now(loop_);
    counters_->connects[index_]++;
    LOG_INFO("redis %s link up (%s:%d, db %lld)", name(), options_.host.c_str(), options_.port,
             static_cast<long long>(options_.db));
    if (on_up) on_up();
}

void RedisLink::set_down_reason(const std::string& reason) {
    reason_ = reason;
    if (stopped_ || reason == logged_reason_) return;
    LOG_WARN("redis %s link to %s:%d unavailable: %s (retrying, at most every %llu ms)", name(), options_.host.c_str(),
             options_.port, reason.c_str(), static_cast<unsigned long long>(options_.backoff_max_ms));
    logged_reason_ = reason;
}

void RedisLink::lose(const std::string& reason, bool free_context) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    generation_++;
    deadlines_.clear();
    in_flight_ = 0;
    ping_in_flight_ = false;
    const bool was_up = up_;
    up_ = false;
    if (timers_open_) uv_timer_stop(&connect_timer_);
    if (was_up && !stopped_) {
        LOG_WARN("redis %s link down: %s", name(), reason.c_str());
        logged_reason_ = reason;
    }
    set_down_reason(reason);
    if (ac) {
        ac->data = nullptr;  // its disconnect callback is not ours any more
        // Commands in flight fail now (or, inside one of its callbacks,
        // right after it returns), with reason_ as their error.
        if (free_context) redisAsyncFree(ac);
    }
    if (was_up) {
        counters_->link_losses[index_]++;
        if (on_down) on_down();
    }
    schedule_retry();
}

void RedisLink::schedule_retry() {
    if (stopped_ || !timers_open_) return;
    const unsigned exp = std::min(failures_, kMaxBackoffExponent);
    uint64_t delay = std::min(options_.backoff_max_ms, options_.backoff_min_ms << exp);
    failures_++;
    // Jitter: somewhere in the upper half, so instances do not reconnect in step.
    std::uniform_int_distribution<uint64_t> jitter(delay / 2, delay);
    uv_timer_start(&retry_timer_, on_retry_timer, jitter(rng_), 0);
}

void RedisLink::command(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms) {
    if (!up_ || !ac_) {
        count(counters_, index_, RedisResult::failed);
        cb(nullptr, reason_.empty() ? std::string_view("not connected") : std::string_view(reason_));
        return;
    }
    if (in_flight_ >= options_.max_in_flight) {
        count(counters_, index_, RedisResult::failed);
        cb(nullptr, "too many Redis commands in flight");
        return;
    }
    send(argv, std::move(cb), timeout_ms ? timeout_ms : options_.command_timeout_ms);
}

void RedisLink::send(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms) {
    const char* ptrs[32];
    size_t lens[32];
    std::vector<const char*> big_ptrs;
    std::vector<size_t> big_lens;
    const char** p = ptrs;
    size_t* l = lens;
    if (argv.size() > 32) {
        big_ptrs.resize(argv.size());
        big_lens.resize(argv.size());
        p = big_ptrs.data();
        l = big_lens.data();
    }
    for (size_t i = 0; i < argv.size(); i++) {
        p[i] = argv[i].data();
        l[i] = argv[i].size();
    }
    auto* pending = new Pending{this, generation_, std::move(cb)};
    if (redisAsyncCommandArgv(ac_, on_reply, pending, static_cast<int>(argv.size()), p, l) != REDIS_OK) {
        Callback c = std::move(pending->cb);
        delete pending;
        count(counters_, index_, RedisResult::failed);
        c(nullptr, "connection closing");
        return;
    }
    in_flight_++;
    deadlines_.push_back(uv_now(loop_) + timeout_ms);
}

void RedisLink::flush() {
    if (!ac_ || !up_) return;
    const auto* p = static_cast<const UvEvents*>(ac_->ev.data);
    if (p && (p->events & UV_WRITABLE)) redisAsyncHandleWrite(ac_);
}

void RedisLink::on_reply(redisAsyncContext* ac, void* r, void* privdata) {
    auto* pending = static_cast<Pending*>(privdata);
    RedisLink* link = pending->link;
    const auto* reply = static_cast<const redisReply*>(r);
    if (pending->generation == link->generation_) {
        if (!link->deadlines_.empty()) link->deadlines_.pop_front();
        if (link->in_flight_) link->in_flight_--;
    }
    std::string error;
    if (!reply) {
        if (pending->generation == link->generation_ && ac->err)
            error = ac->errstr;
        else
            error = link->reason_.empty() ? "connection lost" : link->reason_;
        count(link->counters_, link->index_, RedisResult::failed);
    } else {
        count(link->counters_, link->index_, reply->type == REDIS_REPLY_ERROR ? RedisResult::error : RedisResult::ok);
    }
    Callback cb = std::move(pending->cb);
    delete pending;
    if (cb) cb(reply, error);
}

void RedisLink::on_connect(const redisAsyncContext* ac, int status) {
    auto* link = static_cast<RedisLink*>(ac->data);
    if (!link || status == REDIS_OK) return;
    // hiredis frees the context after this callback.
    link->lose(ac->errstr[0] ? ac->errstr : "connect failed", false);
}

void RedisLink::on_disconnect(const redisAsyncContext* ac, int status) {
    auto* link = static_cast<RedisLink*>(ac->data);
    if (!link) return;
    // hiredis frees the context after this callback.
    link->lose(status == REDIS_OK || !ac->errstr[0] ? "disconnected" : ac->errstr, false);
}

void RedisLink::on_retry_timer(uv_timer_t* t) { static_cast<RedisLink*>(t->data)->connect(); }

void RedisLink::on_connect_timer(uv_timer_t* t) {
    auto* link = static_cast<RedisLink*>(t->data);
    if (link->ac_ && !link->up_) {
        link->lose("no answer within " + std::to_string(link->options_.connect_timeout_ms) + " ms of connecting", true);
    }
}

void RedisLink::on_watch_timer(uv_timer_t* t) { static_cast<RedisLink*>(t->data)->watch(); }

void RedisLink::watch() {
    if (!ac_ || !up_) return;
    const uint64_t now = uv_now(loop_);
    if (!deadlines_.empty() && now > deadlines_.front()) {
        lose("Redis did not answer in time (hung or unreachable)", true);
        return;
    }
    if (options_.ping_interval_ms && !ping_in_flight_ && now - last_ping_ms_ >= options_.ping_interval_ms &&
        in_flight_ < options_.max_in_flight) {
        ping_in_flight_ = true;
        last_ping_ms_ = now;
        const uint64_t gen = generation_;
        send(
            {"PING"},
            [this, gen](const redisReply*, std::string_view) {
                if (gen == generation_) ping_in_flight_ = false;
            },
            options_.command_timeout_ms);
    }
}

std::string_view redis_reply_text(const redisReply* r) {
    if (!r) return {};
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
        return {r->str, r->len};
    return {};
}

bool redis_reply_is_error(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }

bool redis_read_strings(const redisReply* r, std::vector<std::string>& out) {
    out.clear();
    if (!r || r->type != REDIS_REPLY_ARRAY) return false;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply* e = r->element[i];
        if (e->type == REDIS_REPLY_STRING)
            out.emplace_back(e->str, e->len);
        else if (e->type == REDIS_REPLY_INTEGER)
            out.push_back(std::to_string(e->integer));
        else
            return false;
    }
    return true;
}

std::string_view redis_role(const redisReply* r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return redis_reply_text(r);
    return redis_reply_text(r->element[0]);
}

bool redis_read_address(const redisReply* r, std::string* host, int* port) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return false;
    const std::string_view h = redis_reply_text(r->element[0]);
    const std::string_view p = redis_reply_text(r->element[1]);
    int v = 0;
    for (char c : p) {
        if (c < '0' || c > '9' || v > 65535) return false;
        v = v * 10 + (c - '0');
    }
    if (h.empty() || p.empty() || v < 1 || v > 65535) return false;
    *host = std::string(h);
    *port = v;
    return true;
}

bool redis_read_entries(const redisReply* r, std::vector<RedisEntry>& out) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return false;
    out.reserve(out.size() + r->elements);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply* e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) return false;
        RedisEntry entry;
        entry.id.assign(e->element[0]->str, e->element[0]->len);
        const redisReply* f = e->element[1];
        if (f->type == REDIS_REPLY_ARRAY) {
            entry.fields.reserve(f->elements / 2);
            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                const redisReply* key = f->element[k];
                const redisReply* val = f->element[k + 1];
                if (key->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) continue;
                entry.fields.emplace_back(std::string(key->str, key->len), std::string(val->str, val->len));
            }
        }
        out.push_back(std::move(entry));
    }
    return true;
}

}  // namespace pushd
