#include "io/redis_presence.hpp"

#include "io/log.hpp"

#include <hiredis/hiredis.h>

#include <memory>

namespace pushd {
namespace {

// How long a change waits for others to join its write: a burst of
// connects leaves in one script.
constexpr uint64_t kWriteDelayMs = 5;

std::string reply_error(const redisReply* r, std::string_view error) {
    if (!r) return "presence: redis: " + std::string(error);
    if (redis_reply_is_error(r)) return "presence: redis: " + std::string(redis_reply_text(r));
    return "presence: unexpected answer from redis";
}

// Runs a query script and reads its answer with `read` (a
// read_*_presence of core/presence_schema).
template <class T, class Read>
void run_query(RedisStore* store, RedisStore::Script& script, const std::string& prefix, const std::string& id,
               Read read, std::function<void(Result<T>)> done) {
    store->run_script(
        script, {}, {prefix, id},
        [id, read, done = std::move(done)](const redisReply* r, std::string_view error) {
            std::vector<std::string> flat;
            if (!redis_read_strings(r, flat)) return done(Status::fail(reply_error(r, error)));
            std::optional<T> p = read(id, flat);
            if (!p) return done(Status::fail(reply_error(nullptr, "unexpected answer")));
            done(std::move(*p));
        },
        prefix);
}

}  // namespace

RedisPresence::RedisPresence(uv_loop_t* loop, const Config* config, RedisCommands* link, RedisStore* store,
                             PresenceTracker* tracker) :
    loop_(loop),
    config_(config),
    link_(link),
    prefix_(redis_keys(config->redis).presence_prefix()),
    store_(store),
    tracker_(tracker) {}

void RedisPresence::start() {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    timer_open_ = true;
    tracker_->on_change = [this] { schedule_write(); };
}

void RedisPresence::stop() {
    tracker_->on_change = nullptr;
    if (timer_open_) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    timer_open_ = false;
}

void RedisPresence::load_scripts(RedisLink& on) {
    for (RedisStore::Script* s : {&apply_, &sync_, &reap_, &group_, &user_}) store_->load_script(*s, on);
}

void RedisPresence::on_link_up() {
    if (link_->link()) load_scripts(*link_->link());
    registered_ = false;  // Redis may have lost it, or reaped it while away
    write();
}

void RedisPresence::tick() {
    if (!writing()) return;
    write();  // with no change pending, the heartbeat
    reap();
}

void RedisPresence::schedule_write() {
    if (!timer_open_ || in_flight_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) return;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<RedisPresence*>(t->data)->write(); }, kWriteDelayMs, 0);
}

void RedisPresence::write() {
    if (!writing() || in_flight_ || !link_->up()) return;
    if (!registered_) {
        sync();
        return;
    }
    in_flight_ = true;
    auto sent = std::make_shared<PresenceChanges>(tracker_->take_changes());
    store_->run_script(
        apply_, {}, presence_apply_args(prefix_, config_->name, *sent),
        [this, sent](const redisReply* r, std::string_view error) { written(r, error, *sent, false); }, prefix_);
}

void RedisPresence::sync() {
    in_flight_ = true;
    auto state = std::make_shared<PresenceChanges>(tracker_->snapshot());
    store_->run_script(
        sync_, {}, presence_sync_args(prefix_, config_->name, *state, true),
        [this, state](const redisReply* r, std::string_view error) { written(r, error, *state, true); }, prefix_);
}

void RedisPresence::written(const redisReply* r, std::string_view error, const PresenceChanges& sent, bool was_sync) {
    in_flight_ = false;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        // Not known to be applied: sent again (counts, so twice is once),
        // at the next tick or when the link is back, not in a tight loop.
        if (!was_sync) tracker_->mark_unsent(sent);
        if (r) LOG_WARN("%s", reply_error(r, error).c_str());
        return;
    }
    if (was_sync) {
        if (!registered_)
            LOG_INFO("presence: %zu user(s) of instance %s in redis", sent.users.size(), config_->name.c_str());
        registered_ = true;
    } else if (r->integer == 0) {
        // Reaped while away (or Redis lost it): everything again.
        LOG_WARN("presence: instance %s was not registered in redis; syncing", config_->name.c_str());
        registered_ = false;
    }
    if (!registered_ || tracker_->has_changes()) schedule_write();
}

void RedisPresence::reap() {
    if (reaping_ || !link_->up()) return;
    reaping_ = true;
    store_->run_script(
        reap_, {}, {prefix_, std::to_string(kPresenceReapLimit)},
        [this](const redisReply* r, std::string_view) {
            reaping_ = false;
            if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                LOG_INFO("presence: removed %lld dead instance(s)", r->integer);
        },
        prefix_);
}

void RedisPresence::leave(std::function<void()> done) {
    const bool nothing_to_do = !writing() || !link_->up();  // without Redis its entries expire
    leaving_ = true;
    if (nothing_to_do) return;
    leave_in_flight_ = true;
    store_->run_script(
        sync_, {}, presence_sync_args(prefix_, config_->name, {}, false),
        [this, done = std::move(done)](const redisReply*, std::string_view) {
            leave_in_flight_ = false;
            done();
        },
        prefix_);
}

void RedisPresence::query_group(const std::string& group_id, std::function<void(Result<GroupPresence>)> done) {
    run_query<GroupPresence>(store_, group_, prefix_, group_id, read_group_presence, std::move(done));
}

void RedisPresence::query_user(const std::string& user_id, std::function<void(Result<UserPresence>)> done) {
    run_query<UserPresence>(store_, user_, prefix_, user_id, read_user_presence, std::move(done));
}

}  // namespace pushd
