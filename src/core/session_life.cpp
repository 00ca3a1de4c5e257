#include "core/session_life.hpp"

#include "core/auto_join.hpp"
#include "core/fanout.hpp"
#include "core/group_join.hpp"
#include "core/hub_limits.hpp"
#include "core/inbox_replay.hpp"
#include "core/session_output.hpp"
#include "core/status_codes.hpp"

#include <algorithm>

namespace pushd {

namespace {

// The WebSocket ping sent to a connection silent for Heartbeat.Interval.
// Its payload is not empty, so the pong (which echoes it) reaches the
// transport's callback (lws drops empty pongs).
constexpr std::string_view kPingPayload = "pushd";

}  // namespace

SessionLife::~SessionLife() {
    for (auto& [id, s] : ctx_.sessions) {
        output_.discard(s.get());
        ctx_.registry.remove_session(s.get());
    }
    ctx_.sessions.clear();
}

Session* SessionLife::open(void* transport, int64_t now_ms) {
    auto owned = std::make_unique<Session>();
    Session* s = owned.get();
    s->id = next_session_id_++;
    s->transport = transport;
    s->last_rx_ms = now_ms;
    ctx_.sessions.emplace(s->id, std::move(owned));
    // Heartbeat: one entry per session, moved forward only when it falls
    // due (touch() just records the time), so traffic costs no heap work.
    arm(s, now_ms + ctx_.config->heartbeat.interval * 1000, DeadlineKind::heartbeat);
    return s;
}

void SessionLife::closed(Session* s) {
    forget_pending(s);
    output_.discard(s);
    ctx_.registry.remove_session(s);
    ctx_.sessions.erase(s->id);  // frees it
}

void SessionLife::close(Session* s, uint16_t code, const char* reason) {
    if (s->closing) return;
    s->closing = true;
    s->close_code = code;
    s->close_reason = reason;
    // A closing session receives nothing more (SessionOutput refuses it) and
    // no longer counts as one of its user's sessions. Its group memberships
    // stay until closed(): this may run in the middle of a fan-out over
    // that very member vector.
    ctx_.registry.unlink_user(s);
    forget_pending(s);
    ctx_.transport.close(s, code, reason);
}

void SessionLife::drop(Session* s, uint16_t code, const char* reason) {
    output_.discard(s);
    close(s, code, reason);
}

void SessionLife::close_slow_consumer(Session* s) {
    if (s->closing) return;
    ctx_.counters.slow_consumer_closes++;
    drop(s, kCloseSlowConsumer, "slow consumer");
}

void SessionLife::forget_pending(Session* s) {
    peers_.groups.forget(s);
    peers_.inbox.forget(s);
    peers_.fanout.forget(s);
    peers_.auto_join.forget(s);
}

void SessionLife::enforce_session_limit(const std::string& user_id) {
    const auto max = static_cast<uint32_t>(ctx_.config->limits.max_sessions_per_user);
    while (const UserEntry* u = ctx_.registry.find_user(user_id)) {
        if (u->count <= max) break;
        ctx_.counters.sessions_replaced++;
        close(u->oldest, kCloseTooManySessions, "too many sessions for this user");
    }
}

void SessionLife::arm_expiry(Session* s, int64_t exp_s) {
    s->expires_at_s = exp_s;
    ctx_.deadlines.push({exp_s * 1000, s->id, exp_s, DeadlineKind::token_expiry});
    maybe_compact_deadlines();
}

void SessionLife::arm(Session* s, int64_t due_ms, DeadlineKind kind) {
    ctx_.deadlines.push({due_ms, s->id, 0, kind});
    maybe_compact_deadlines();
}

// Whether an entry still applies to its session (entries are never removed
// early; see deadlines.hpp).
bool SessionLife::deadline_applies(const Session* s, const Deadline& d) const {
    if (!s || s->closing) return false;
    switch (d.kind) {
    case DeadlineKind::heartbeat: return true;
    case DeadlineKind::auth_timeout: return !s->authenticated;
    case DeadlineKind::storage_retry: return peers_.inbox.waiting(s) || peers_.auto_join.waiting(s);
    case DeadlineKind::auto_join_release: return peers_.auto_join.holding(s);
    case DeadlineKind::token_expiry: return s->authenticated && s->expires_at_s == d.stamp;
    }
    return false;
}

void SessionLife::maybe_compact_deadlines() {
    if (ctx_.deadlines.size() < 1024 || ctx_.deadlines.size() < 4 * ctx_.sessions.size()) return;
    ctx_.deadlines.compact([this](const Deadline& d) { return deadline_applies(ctx_.find_session(d.session_id), d); });
}

void SessionLife::retry_storage(Session* s) {
    peers_.inbox.retry(s);
    peers_.auto_join.retry(s);
}

void SessionLife::tick(int64_t now_ms) {
    ctx_.deadlines.pop_due(now_ms, [&](const Deadline& d) {
        Session* s = ctx_.find_open_session(d.session_id);
        if (!s) return;
        switch (d.kind) {
        case DeadlineKind::heartbeat: heartbeat_due(s, now_ms); break;
        case DeadlineKind::storage_retry: retry_storage(s); break;
        case DeadlineKind::auto_join_release: peers_.auto_join.release_holds(s); break;
        case DeadlineKind::auth_timeout:
        case DeadlineKind::token_expiry: expire(s, d, now_ms); break;
        }
    });
}

// An auth timeout, or the expiry of the token the session holds now (a
// re-auth for the same user pushed a later entry; older ones do not apply).
void SessionLife::expire(Session* s, const Deadline& d, int64_t now_ms) {
    if (!deadline_applies(s, d)) return;
    const bool timeout = d.kind == DeadlineKind::auth_timeout;
    const char* why = timeout ? "auth timeout" : "token expired";
    (timeout ? ctx_.counters.auth_timeouts : ctx_.counters.token_expiries)++;
    output_.reply(s, build_auth_failed(std::nullopt, why, now_ms), OutType::auth_failed);
    close(s, kCloseAuth, why);
}

// Heartbeat: ping a connection silent for Interval, close one silent for
// Timeout with 1001, else re-arm for when one of those could be due.
void SessionLife::heartbeat_due(Session* s, int64_t now_ms) {
    const int64_t interval = ctx_.config->heartbeat.interval * 1000;
    const int64_t timeout = ctx_.config->heartbeat.timeout * 1000;
    const int64_t silent_until_close = s->last_rx_ms + timeout;
    if (now_ms >= silent_until_close) {
        ctx_.counters.heartbeat_closes++;
        close(s, kCloseGoingAway, "heartbeat timeout");
        return;
    }
    int64_t next = s->last_rx_ms + interval;
    if (now_ms >= next) {
        // Silent for an interval: ping (once per interval of silence).
        if (s->pinged_ms <= s->last_rx_ms || now_ms - s->pinged_ms >= interval) {
            if (output_.ping(s, kPingPayload)) s->pinged_ms = now_ms;
        }
        next = std::min(silent_until_close, now_ms + interval);
    }
    ctx_.deadlines.push({std::max(next, now_ms + 1), s->id, 0, DeadlineKind::heartbeat});
}

}  // namespace pushd
