// Presence across instances on Redis (Groups.Presence), over the commands
// link: this instance's counts (core/presence_tracker) written to Redis
// with the scripts of core/presence_schema, its heartbeat, the reaper of
// dead instances, and the two queries of PROTOCOL.md section 9.
//
// Writes: at most one script in flight. A change schedules a write a few
// milliseconds later; what changes meanwhile waits for the answer and
// leaves in the next one, so a burst of connects costs one script, not one
// per connect. Counts are absolute, so a write whose answer was lost is
// sent again as it is now. Until the instance is registered (at start,
// after a reconnect, when a write finds it reaped) the whole state goes in
// one sync script instead, which also clears what an earlier run under the
// same Name left.
//
// Each second (tick): the heartbeat (the apply script with no counts, which
// also says whether the instance is still registered) and the reaper.
// Neither runs with Groups.Presence false: then this instance writes no
// presence key; the queries still read what other instances wrote.
#pragma once

#include "core/config.hpp"
#include "core/presence_schema.hpp"
#include "core/presence_tracker.hpp"
#include "core/status.hpp"
#include "io/redis_link.hpp"
#include "io/redis_store.hpp"

#include <uv.h>

#include <functional>
#include <string>

namespace pushd {

class RedisPresence {
public:
    // Everything must outlive the presence; `tracker` is the hub's.
    RedisPresence(uv_loop_t* loop, const Config* config, RedisCommands* link, RedisStore* store,
                  PresenceTracker* tracker);
    RedisPresence(const RedisPresence&) = delete;
    RedisPresence& operator=(const RedisPresence&) = delete;

    // Opens the write timer and listens to the tracker.
    void start();
    // Stops listening and closes the timer (the loop must run afterwards
    // before the object is destroyed).
    void stop();

    // The link came up: loads the scripts, then syncs the whole state.
    void on_link_up();
    // Loads the scripts on `on` (cluster mode: each node link as it comes up).
    void load_scripts(RedisLink& on);
    // Once a second: heartbeat (or the sync it asks for) and reaper.
    void tick();
    // Shutdown: removes this instance's entries (its users' offline where
    // due) and writes nothing more; `done` runs once Redis answered (not
    // at all when there was nothing to send: leaving() is false then).
    void leave(std::function<void()> done);
    // The leave is waiting for its answer.
    bool leaving() const { return leave_in_flight_; }

    // Section 9's answers, over live instances; an error when Redis did not
    // answer (503).
    void query_group(const std::string& group_id, std::function<void(Result<GroupPresence>)> done);
    void query_user(const std::string& user_id, std::function<void(Result<UserPresence>)> done);

    // Whether this instance's entries are in Redis now (tests, logs).
    bool registered() const { return registered_; }

private:
    bool writing() const { return config_->groups.presence && !leaving_; }
    void schedule_write();
    void write();
    void sync();
    void written(const redisReply* r, std::string_view error, const PresenceChanges& sent, bool was_sync);
    void reap();

    uv_loop_t* loop_;
    const Config* config_;
    RedisCommands* link_;
    std::string prefix_;  // RedisKeys::presence_prefix
    RedisStore* store_;
    PresenceTracker* tracker_;
    RedisStore::Script apply_{kPresenceApplyScript.c_str(), {}};
    RedisStore::Script sync_{kPresenceSyncScript.c_str(), {}};
    RedisStore::Script reap_{kPresenceReapScript.c_str(), {}};
    RedisStore::Script group_{kPresenceGroupScript.c_str(), {}};
    RedisStore::Script user_{kPresenceUserScript.c_str(), {}};
    uv_timer_t timer_{};
    bool timer_open_ = false;
    bool in_flight_ = false;
    bool registered_ = false;
    bool leaving_ = false;
    bool reaping_ = false;
    bool leave_in_flight_ = false;
};

}  // namespace pushd
