#include "core/hub.hpp"

#include "core/stream_id.hpp"

#include <algorithm>
#include <deque>
#include <vector>

namespace pushd {

namespace {

int64_t seconds(int64_t ms) { return ms / 1000; }

InType in_type(RequestType t) {
    switch (t) {
    case RequestType::ping: return InType::ping;
    case RequestType::auth: return InType::auth;
    case RequestType::send_message: return InType::send_message;
    case RequestType::join_group: return InType::join_group;
    case RequestType::leave_group: return InType::leave_group;
    case RequestType::mark_read: return InType::mark_read;
    }
    return InType::malformed;
}

constexpr StreamId kNoId{};

// The inbox gate's one scope per session (group gates are scoped by group id).
const std::string kInboxScope;

}  // namespace

Hub::Hub(const Config* config, TransportOps transport, StoreOps store, std::string instance_tag,
         size_t frame_headroom)
    : config_(config), transport_(std::move(transport)), store_(std::move(store)),
      tag_(std::move(instance_tag)), frame_headroom_(frame_headroom) {}

Hub::~Hub() {
    if (ping_frame_) frame_unref(ping_frame_);
    for (auto& [id, s] : sessions_) {
        queued_bytes_ -= s->outq.bytes();
        registry_.remove_session(s);
        delete s;
    }
}

Session* Hub::find_session(uint64_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

void Hub::for_each_session(const std::function<void(Session*)>& fn) {
    // Copy first: fn may close sessions.
    std::vector<Session*> all;
    all.reserve(sessions_.size());
    for (auto& [id, s] : sessions_) all.push_back(s);
    for (Session* s : all) fn(s);
}

Session* Hub::on_open(void* transport, const std::optional<VerifiedToken>& handshake_token,
                      int64_t now_ms) {
    auto* s = new Session;
    s->id = next_session_id_++;
    s->transport = transport;
    s->last_rx_ms = now_ms;
    sessions_.emplace(s->id, s);
    // Heartbeat: one entry per session, moved forward only when it falls
    // due (touch() just records the time), so traffic costs no heap work.
    deadlines_.push({now_ms + config_->heartbeat.interval * 1000, s->id, 0, DeadlineKind::heartbeat});
    if (handshake_token) {
        authenticate(s, *handshake_token, std::nullopt, now_ms);
    } else {
        deadlines_.push({now_ms + config_->auth.auth_timeout * 1000, s->id, 0, DeadlineKind::auth_timeout});
        maybe_compact_deadlines();
    }
    return s;
}

void Hub::on_closed(Session* s) {
    forget_pending(s);
    queued_bytes_ -= s->outq.bytes();
    s->outq.clear();
    registry_.remove_session(s);
    sessions_.erase(s->id);
    delete s;
}

void Hub::close_session(Session* s, uint16_t code, const char* reason) {
    if (s->closing) return;
    s->closing = true;
    s->close_code = code;
    s->close_reason = reason;
    // A closing session receives nothing more (enqueue refuses it) and no
    // longer counts as one of its user's sessions. Its group memberships
    // stay until on_closed: this may run in the middle of a fan-out over
    // that very member vector.
    registry_.unlink_user(s);
    forget_pending(s);
    transport_.close(s, code, reason);
}

void Hub::forget_pending(Session* s) {
    group_replays_.forget(s->id);
    inbox_replays_.forget(s->id);
    ack_order_.forget(s->id);
    s->ack_hold = false;
    inbox_waits_.erase(s->id);
    auto_join_waits_.erase(s->id);
    auto_join_holds_.erase(s->id);
}

void Hub::drop_slow(Session* s) {
    counters_.slow_consumer_closes++;
    drop_session(s, kCloseSlowConsumer, "slow consumer");
}

void Hub::drop_session(Session* s, uint16_t code, const char* reason) {
    queued_bytes_ -= s->outq.bytes();
    s->outq.clear();
    close_session(s, code, reason);
}

bool Hub::queue_frame(Session* s, SharedFrame* frame) {
    const bool was_empty = s->outq.empty();
    if (!s->outq.push(frame, static_cast<size_t>(config_->limits.max_queue_bytes))) return false;
    queued_bytes_ += frame_wire_len(frame);
    if (was_empty) transport_.wake(s);
    return true;
}

bool Hub::enqueue(Session* s, SharedFrame* frame, OutType type) {
    if (s->closing) return false;
    if (s->deflate && (type == OutType::new_message || type == OutType::notification)) {
        // Pushes only: compressed once per frame and shared by every
        // compressing recipient. Replies are built per connection and
        // short; compressing them would cost a deflate per reply.
        if (!deflater_) deflater_ = std::make_unique<FrameDeflater>();
        const uint64_t before = deflater_->compressed();
        frame = deflater_->variant_for(frame, frame_headroom_);
        if (deflater_->compressed() != before) {
            counters_.deflate_messages = deflater_->compressed();
            counters_.deflate_bytes_in = deflater_->bytes_in();
            counters_.deflate_bytes_out = deflater_->bytes_out();
        }
    }
    if (!queue_frame(s, frame)) {
        drop_slow(s);
        return false;
    }
    counters_.out[static_cast<size_t>(type)]++;
    return true;
}

bool Hub::send(Session* s, const std::string& json, OutType type) {
    SharedFrame* f = frame_create_text(json, frame_headroom_);
    if (!f) return false;
    bool ok = enqueue(s, f, type);
    frame_unref(f);
    return ok;
}

void Hub::ack_fail(Session* s, const std::string& message_id, int code, const char* message,
                   int64_t now_ms) {
    send(s, build_ack_fail(message_id, code, message, now_ms), OutType::ack);
}

size_t Hub::gather_output(Session* s, uint8_t* dst, size_t max, SharedFrame** big) {
    *big = nullptr;
    SharedFrame* head = s->outq.front();
    if (!head) return 0;
    if (frame_wire_len(head) > max) {
        *big = head;
        return 0;
    }
    size_t n = s->outq.gather(dst, max);
    queued_bytes_ -= n;
    counters_.bytes_out += n;
    return n;
}

void Hub::consume_big(Session* s) {
    SharedFrame* head = s->outq.front();
    if (!head) return;
    const size_t len = frame_wire_len(head);
    s->outq.pop_front();
    queued_bytes_ -= len;
    counters_.bytes_out += len;
}

void Hub::maybe_compact_deadlines() {
    if (deadlines_.size() < 1024 || deadlines_.size() < 4 * sessions_.size()) return;
    deadlines_.compact([this](const Deadline& d) {
        Session* s = find_session(d.session_id);
        if (!s || s->closing) return false;
        if (d.kind == DeadlineKind::heartbeat) return true;
        if (d.kind == DeadlineKind::auth_timeout) return !s->authenticated;
        if (d.kind == DeadlineKind::storage_retry) return inbox_waits_.count(s->id) || auto_join_waits_.count(s->id);
        if (d.kind == DeadlineKind::auto_join_release) return auto_join_holds_.count(s->id) != 0;
        return s->authenticated && s->expires_at_s == d.stamp;
    });
}

void Hub::tick(int64_t now_ms) {
    deadlines_.pop_due(now_ms, [&](const Deadline& d) {
        Session* s = find_session(d.session_id);
        if (!s || s->closing) return;
        if (d.kind == DeadlineKind::heartbeat) {
            heartbeat_due(s, now_ms);
        } else if (d.kind == DeadlineKind::storage_retry) {
            retry_storage(s);
        } else if (d.kind == DeadlineKind::auto_join_release) {
            release_auto_join_holds(s);
        } else if (d.kind == DeadlineKind::auth_timeout) {
            if (s->authenticated) return;
            counters_.auth_timeouts++;
            send(s, build_auth_failed(std::nullopt, "auth timeout", now_ms), OutType::auth_failed);
            close_session(s, kCloseAuth, "auth timeout");
        } else {
            // Only the entry made for the current exp applies: a re-auth for
            // the same user pushed a later one.
            if (!s->authenticated || s->expires_at_s != d.stamp) return;
            counters_.token_expiries++;
            send(s, build_auth_failed(std::nullopt, "token expired", now_ms), OutType::auth_failed);
            close_session(s, kCloseAuth, "token expired");
        }
    });
}

void Hub::heartbeat_due(Session* s, int64_t now_ms) {
    const int64_t interval = config_->heartbeat.interval * 1000;
    const int64_t timeout = config_->heartbeat.timeout * 1000;
    const int64_t silent_until_close = s->last_rx_ms + timeout;
    if (now_ms >= silent_until_close) {
        counters_.heartbeat_closes++;
        close_session(s, kCloseGoingAway, "heartbeat timeout");
        return;
    }
    int64_t next = s->last_rx_ms + interval;
    if (now_ms >= next) {
        // Silent for an interval: ping (once per interval of silence).
        if (s->pinged_ms <= s->last_rx_ms || now_ms - s->pinged_ms >= interval) {
            if (!ping_frame_) ping_frame_ = frame_create_ping(kPingPayload, frame_headroom_);
            // A queue too full for the ping is left alone: the next push closes it.
            if (ping_frame_ && queue_frame(s, ping_frame_)) s->pinged_ms = now_ms;
        }
        next = std::min(silent_until_close, now_ms + interval);
    }
    deadlines_.push({std::max(next, now_ms + 1), s->id, 0, DeadlineKind::heartbeat});
}

// ---- requests ---------------------------------------------------------------

void Hub::on_text(Session* s, std::string_view text, int64_t now_ms) {
    if (s->closing) return;
    // Every frame a client sends takes a token, ping and auth included:
    // counting all of them is what bounds the work one connection causes.
    const RateVerdict verdict = rate_take(s->rate, config_->limits.messages_per_second,
                                          config_->limits.burst, now_ms);
    if (verdict == RateVerdict::abusive) {
        counters_.rate_limited++;
        counters_.rate_limit_closes++;
        close_session(s, kClosePolicy, "rate limit exceeded");
        return;
    }
    const bool limited = verdict == RateVerdict::refused;
    if (s->holding) {
        hold_request(s, text, limited);
        return;
    }
    process_text(s, text, limited, now_ms);
}

void Hub::answer_rate_limited(Session* s, const ParseResult& parsed, int64_t now_ms) {
    counters_.rate_limited++;
    static const char kMessage[] = "rate limited";
    const Request& req = parsed.request;
    const bool has_ack = parsed.status != ParseStatus::malformed && req.type != RequestType::ping &&
                         req.type != RequestType::auth && req.message_id;
    if (has_ack) {
        ack_fail(s, *req.message_id, 429, kMessage, now_ms);
    } else {
        send(s, build_error(parsed.message_id, 429, kMessage, now_ms), OutType::error);
    }
}

void Hub::process_text(Session* s, std::string_view text, bool rate_limited, int64_t now_ms) {
    ParseResult parsed = parse_request(text);
    if (rate_limited) {
        counters_.in[static_cast<size_t>(parsed.status == ParseStatus::malformed ? InType::malformed
                                                                                 : in_type(parsed.request.type))]++;
        answer_rate_limited(s, parsed, now_ms);
        return;
    }
    if (parsed.status == ParseStatus::malformed) {
        counters_.in[static_cast<size_t>(InType::malformed)]++;
        send(s, build_error(parsed.message_id, 400, parsed.message, now_ms), OutType::error);
        return;
    }
    const Request& req = parsed.request;
    counters_.in[static_cast<size_t>(in_type(req.type))]++;
    if (parsed.status == ParseStatus::invalid_field) {
        if (req.type == RequestType::auth) {
            if (req.token.empty()) fail_auth(s, req.message_id, AuthError::missing_token, now_ms);
            else fail_auth(s, req.message_id, AuthError::malformed, now_ms, parsed.message.c_str());
        } else if (req.message_id) {
            // Authentication is checked before the fields are.
            if (!s->authenticated) ack_fail(s, *req.message_id, 401, "not authenticated", now_ms);
            else ack_fail(s, *req.message_id, 422, parsed.message.c_str(), now_ms);
        }
        return;
    }
    handle(s, req, now_ms);
}

void Hub::handle(Session* s, const Request& req, int64_t now_ms) {
    switch (req.type) {
    case RequestType::ping:
        send(s, build_pong(req.message_id, now_ms), OutType::pong);
        return;
    case RequestType::auth:
        handle_auth(s, req, now_ms);
        return;
    default:
        break;
    }
    if (!s->authenticated) {
        ack_fail(s, *req.message_id, 401, "not authenticated", now_ms);
        return;
    }
    switch (req.type) {
    case RequestType::send_message: handle_send(s, req, now_ms); break;
    case RequestType::join_group: handle_join(s, req, now_ms); break;
    case RequestType::leave_group: handle_leave(s, req, now_ms); break;
    case RequestType::mark_read: handle_mark_read(s, req, now_ms); break;
    default: break;
    }
}

void Hub::fail_auth(Session* s, const std::optional<std::string>& message_id, AuthError error,
                    int64_t now_ms, const char* message) {
    counters_.auth_failed[static_cast<size_t>(error)]++;
    send(s, build_auth_failed(message_id, message ? message : auth_error_message(error), now_ms),
         OutType::auth_failed);
    // Three in a row close the connection, authenticated or not; a failed
    // re-auth otherwise keeps the identity it had.
    if (++s->auth_failures >= kMaxAuthFailures) close_session(s, kCloseAuth, "too many failed auth attempts");
}

void Hub::handle_auth(Session* s, const Request& req, int64_t now_ms) {
    AuthResult r = verify_token(req.token, config_->auth.access_secret, config_->auth.user_claim,
                                seconds(now_ms));
    if (r.error != AuthError::none) {
        fail_auth(s, req.message_id, r.error, now_ms);
        return;
    }
    if (s->authenticated && r.token.user_id != s->user_id) {
        counters_.auth_conflicts++;
        send(s, build_error(req.message_id, 409, "already authenticated as another user", now_ms),
             OutType::error);
        return;
    }
    authenticate(s, r.token, req.message_id, now_ms, req.since);
}

void Hub::authenticate(Session* s, const VerifiedToken& token, const std::optional<std::string>& message_id,
                       int64_t now_ms, const std::optional<std::string>& since) {
    counters_.auth_ok++;
    s->auth_failures = 0;
    s->expires_at_s = token.exp_s;
    deadlines_.push({token.exp_s * 1000, s->id, token.exp_s, DeadlineKind::token_expiry});
    maybe_compact_deadlines();
    const bool fresh = !s->authenticated;
    if (fresh) {
        s->authenticated = true;
        registry_.add_user_session(s, token.user_id);
    }
    send(s, build_auth_success(message_id, s->user_id, tag_ + "-" + std::to_string(s->id),
                               token.exp_s * 1000, now_ms),
         OutType::auth_success);
    if (fresh) enforce_session_limit(s->user_id);
    if (s->closing) return;
    // Both answers may come later: AutoJoin holds this connection's further
    // requests until the group set is read; the inbox replay buffers
    // notifications for it until the stored ones are sent.
    if (fresh && config_->groups.auto_join) start_auto_join(s);
    if (since && !s->closing) start_inbox_replay(s, *since);
}

// ---- AutoJoin ---------------------------------------------------------------

void Hub::start_auto_join(Session* s) {
    s->holding = true;
    const uint64_t sid = s->id;
    store_.user_groups(s->user_id, kMaxGroupsPerSession,
                       [this, sid](GroupsResult r) { finish_auto_join(sid, std::move(r)); });
}

void Hub::hold_request(Session* s, std::string_view text, bool rate_limited) {
    if (s->held.size() >= kMaxHeldRequests || s->held_bytes + text.size() > kMaxHeldBytes) {
        counters_.protocol_closes++;
        close_session(s, kClosePolicy, "too many requests before auto-join completed");
        return;
    }
    s->held.push_back(Session::HeldRequest{std::string(text), rate_limited});
    s->held_bytes += text.size();
    if (s->held.size() >= kPauseHeldRequests && !s->reading_paused && transport_.pause_reading) {
        s->reading_paused = true;
        transport_.pause_reading(s, true);
    }
}

void Hub::finish_auto_join(uint64_t sid, GroupsResult r) {
    Session* s = find_session(sid);
    if (!s || !s->holding) return;
    s->holding = false;
    if (s->closing) return;
    if (r.status == StoreStatus::unavailable) {
        // Contract v1.1: subscribed as soon as storage answers. The
        // connection is not held meanwhile: what needs no storage is served.
        counters_.auto_join_failures++;
        auto_join_waits_.try_emplace(sid);
        deadlines_.push({now() + kStorageRetryMs, sid, 0, DeadlineKind::storage_retry});
    } else {
        for (const std::string& g : r.groups) {
            if (!valid_group_id(g)) continue;
            if (registry_.subscribe(s, g, kMaxGroupsPerSession) == Registry::SubscribeResult::added) {
                counters_.auto_joined++;
                hold_auto_joined(s, g);
            }
        }
        if (auto_join_holds_.count(sid)) {
            deadlines_.push({now() + kAutoJoinHoldMs, sid, 0, DeadlineKind::auto_join_release});
        }
    }
    // The requests that arrived meanwhile, in order. None of them can start
    // another hold (only a connection's first authentication does).
    std::vector<Session::HeldRequest> held = std::move(s->held);
    s->held.clear();
    s->held_bytes = 0;
    for (Session::HeldRequest& req : held) {
        if (s->closing) break;
        process_text(s, req.text, req.rate_limited, now());
    }
    if (s->reading_paused && !s->closing) {
        s->reading_paused = false;
        transport_.pause_reading(s, false);
    }
}

void Hub::hold_auto_joined(Session* s, const std::string& group_id) {
    const uint64_t ticket = group_replays_.open(s->id, group_id);
    if (ticket) auto_join_holds_[s->id].emplace_back(group_id, ticket);
}

uint64_t Hub::take_auto_join_hold(Session* s, const std::string& group_id) {
    auto it = auto_join_holds_.find(s->id);
    if (it == auto_join_holds_.end()) return 0;
    auto& holds = it->second;
    for (size_t i = 0; i < holds.size(); i++) {
        if (holds[i].first != group_id) continue;
        const uint64_t ticket = holds[i].second;
        holds.erase(holds.begin() + static_cast<std::ptrdiff_t>(i));
        if (holds.empty()) auto_join_holds_.erase(it);
        return group_replays_.ticket(s->id, group_id) == ticket ? ticket : 0;
    }
    return 0;
}

void Hub::release_auto_join_holds(Session* s) {
    auto it = auto_join_holds_.find(s->id);
    if (it == auto_join_holds_.end()) return;
    auto holds = std::move(it->second);
    auto_join_holds_.erase(it);
    for (auto& [group, ticket] : holds) {
        auto released = group_replays_.close(s->id, group, ticket, std::nullopt);
        if (released) push_released(s, *released);
        if (s->closing) return;
    }
}

void Hub::push_released(Session* s, std::vector<HeldPush>& released) {
    for (HeldPush& p : released) {
        push_group(s, p.frame.get(), p.ack_key);
        if (s->closing) return;
    }
}

void Hub::note_touched_group(Session* s, const std::string& group_id) {
    if (auto_join_waits_.empty()) return;
    auto it = auto_join_waits_.find(s->id);
    if (it != auto_join_waits_.end() && it->second.touched.size() < kMaxTouchedGroups) {
        it->second.touched.insert(group_id);
    }
}

void Hub::ask_auto_join_again(Session* s) {
    auto it = auto_join_waits_.find(s->id);
    if (it == auto_join_waits_.end() || it->second.asking) return;
    it->second.asking = true;
    const uint64_t sid = s->id;
    store_.user_groups(s->user_id, kMaxGroupsPerSession,
                       [this, sid](GroupsResult r) { finish_auto_join_retry(sid, std::move(r)); });
}

// A late AutoJoin subscribes to the groups the client did not join or
// leave itself meanwhile: a group it joined with `since` (or is retrying
// after a 503) must not start receiving live messages ahead of its replay.
void Hub::finish_auto_join_retry(uint64_t sid, GroupsResult r) {
    Session* s = find_session(sid);
    if (!s || s->closing) return;
    auto it = auto_join_waits_.find(sid);
    if (it == auto_join_waits_.end()) return;
    it->second.asking = false;
    if (r.status == StoreStatus::unavailable) {
        deadlines_.push({now() + kStorageRetryMs, sid, 0, DeadlineKind::storage_retry});
        return;
    }
    AutoJoinWait wait = std::move(it->second);
    auto_join_waits_.erase(it);
    for (const std::string& g : r.groups) {
        if (!valid_group_id(g) || wait.touched.count(g)) continue;
        if (registry_.subscribe(s, g, kMaxGroupsPerSession) == Registry::SubscribeResult::added) {
            counters_.auto_joined++;
        }
    }
}

void Hub::retry_storage(Session* s) {
    if (s->closing) return;
    if (inbox_waits_.count(s->id)) ask_inbox(s);
    if (auto_join_waits_.count(s->id)) ask_auto_join_again(s);
}

void Hub::on_storage_up() {
    if (inbox_waits_.empty() && auto_join_waits_.empty()) return;
    std::vector<uint64_t> ids;
    ids.reserve(inbox_waits_.size() + auto_join_waits_.size());
    for (auto& [id, w] : inbox_waits_) ids.push_back(id);
    for (auto& [id, w] : auto_join_waits_) ids.push_back(id);
    for (uint64_t id : ids) {
        if (Session* s = find_session(id)) retry_storage(s);
    }
}

// ---- inbox replay (auth with since) ------------------------------------------

void Hub::start_inbox_replay(Session* s, const std::string& since) {
    // One at a time per connection: a second since while one is in flight
    // is ignored (its notifications are covered by the first).
    const uint64_t ticket = inbox_replays_.open(s->id, kInboxScope);
    if (ticket == 0) return;
    inbox_waits_[s->id] = InboxWait{since, ticket, false};
    ask_inbox(s);
}

void Hub::ask_inbox(Session* s) {
    auto it = inbox_waits_.find(s->id);
    if (it == inbox_waits_.end() || it->second.asking) return;
    it->second.asking = true;
    const uint64_t sid = s->id;
    const uint64_t ticket = it->second.ticket;
    store_.replay_inbox(s->user_id, it->second.since, kMaxReplayEntries,
                        [this, sid, ticket](InboxResult r) { finish_inbox_replay(sid, ticket, std::move(r)); });
}

void Hub::finish_inbox_replay(uint64_t sid, uint64_t ticket, InboxResult r) {
    Session* s = find_session(sid);
    if (!s || s->closing) return;
    auto wait = inbox_waits_.find(sid);
    if (wait == inbox_waits_.end() || wait->second.ticket != ticket) return;
    wait->second.asking = false;
    if (r.status == StoreStatus::unavailable) {
        // Contract v1.1: read again once storage answers; live
        // notifications keep waiting in the gate, behind the replay.
        counters_.inbox_replay_retries++;
        deadlines_.push({now() + kStorageRetryMs, sid, 0, DeadlineKind::storage_retry});
        return;
    }
    const std::string since = std::move(wait->second.since);
    inbox_waits_.erase(wait);
    std::string last;
    for (const StoredNotification& n : r.notifications) {
        if (!send(s, build_notification(n.id, n.data, n.timestamp_ms, true), OutType::notification)) return;
        counters_.fanout_deliveries++;
        last = n.id;
    }
    const std::optional<StreamId> boundary = replay_boundary(since, last);
    if (boundary && *boundary > s->inbox_upto) s->inbox_upto = *boundary;
    auto released = inbox_replays_.close(sid, kInboxScope, ticket, boundary);
    if (!released) return;
    for (HeldPush& p : *released) {
        counters_.fanout_deliveries++;
        if (!enqueue(s, p.frame.get(), OutType::notification)) return;
    }
}

void Hub::enforce_session_limit(const std::string& user_id) {
    const auto max = static_cast<uint32_t>(config_->limits.max_sessions_per_user);
    while (const UserEntry* u = registry_.find_user(user_id)) {
        if (u->count <= max) break;
        counters_.sessions_replaced++;
        close_session(u->oldest, kCloseTooManySessions, "too many sessions for this user");
    }
}

// ---- group requests ----------------------------------------------------------

void Hub::handle_send(Session* s, const Request& req, int64_t now_ms) {
    AppendRequest a;
    a.group_id = req.group_id;
    a.client_message_id = *req.message_id;
    a.sender_id = s->user_id;
    a.msg_type = req.msg_type;
    a.content = req.content;
    a.now_ms = now_ms;
    const uint64_t sid = s->id;
    const std::string mid = *req.message_id;
    const std::string key = AckOrder::key(req.group_id, mid);
    auto do_append = [this, sid, mid, key, a = std::move(a)]() {
        if (Session* s = find_session(sid); s && !s->closing) hold_for_ack(s, key);
        store_.append(a, [this, sid, mid, key](AppendResult r) {
            Session* s = find_session(sid);
            if (!s) return;
            if (r.status == StoreStatus::unavailable) {
                ack_fail(s, mid, 503, "storage unavailable, nothing was stored; retry", now());
            } else {
                AckExtra extra;
                extra.server_message_id = r.server_message_id;
                extra.duplicate = r.status == StoreStatus::duplicate;
                send(s, build_ack_ok(mid, now(), extra), OutType::ack);
            }
            release_ack(s, key);
        });
    };
    if (!config_->groups.require_membership) {
        do_append();
        return;
    }
    store_.check_member(req.group_id, s->user_id, [this, sid, mid, do_append](MembershipResult m) {
        Session* s = find_session(sid);
        if (!s) return;
        if (m.status == StoreStatus::unavailable) {
            ack_fail(s, mid, 503, "storage unavailable, nothing was stored; retry", now());
        } else if (!m.member) {
            ack_fail(s, mid, 403, "not a member of this group", now());
        } else {
            do_append();
        }
    });
}

void Hub::handle_join(Session* s, const Request& req, int64_t now_ms) {
    note_touched_group(s, req.group_id);
    if (!config_->groups.require_membership) {
        join_now(s, req, now_ms);
        return;
    }
    const uint64_t sid = s->id;
    store_.check_member(req.group_id, s->user_id, [this, sid, req](MembershipResult m) {
        Session* s = find_session(sid);
        if (!s || s->closing) return;
        if (m.status == StoreStatus::unavailable) {
            ack_fail(s, *req.message_id, 503, "storage unavailable; retry", now());
        } else if (!m.member) {
            ack_fail(s, *req.message_id, 403, "not a member of this group", now());
        } else {
            join_now(s, req, now());
        }
    });
}

void Hub::join_now(Session* s, const Request& req, int64_t now_ms) {
    // What AutoJoin holds for this group is taken over by this join.
    const uint64_t held_by_auto_join = auto_join_holds_.empty() ? 0 : take_auto_join_hold(s, req.group_id);
    if (req.since && !held_by_auto_join && group_replays_.is_open(s->id, req.group_id)) {
        ack_fail(s, *req.message_id, 409, "a replay of this group is already in progress", now_ms);
        return;
    }
    auto result = registry_.subscribe(s, req.group_id, kMaxGroupsPerSession);
    if (result == Registry::SubscribeResult::limit) {
        ack_fail(s, *req.message_id, 429, "too many groups on this connection", now_ms);
        return;
    }
    if (!req.since) {
        if (!send(s, build_ack_ok(*req.message_id, now_ms), OutType::ack)) return;
        if (held_by_auto_join) {
            auto released = group_replays_.close(s->id, req.group_id, held_by_auto_join, std::nullopt);
            if (released) push_released(s, *released);
        }
        return;
    }
    // Replay first, then the ack, then live messages: live ones of this
    // group for this session wait in the gate until the replay's answer
    // (those AutoJoin held already were stored before the replay's read:
    // the boundary drops them).
    const uint64_t ticket = held_by_auto_join ? group_replays_.retake(s->id, req.group_id)
                                              : group_replays_.open(s->id, req.group_id);
    const uint64_t sid = s->id;
    store_.replay_group(req.group_id, *req.since, kMaxReplayEntries,
                        [this, sid, ticket, gid = req.group_id, mid = *req.message_id,
                         since = *req.since](ReplayResult r) {
                            finish_replay(sid, gid, mid, since, ticket, std::move(r), now());
                        });
}

void Hub::finish_replay(uint64_t sid, const std::string& gid, const std::string& mid, const std::string& since,
                        uint64_t ticket, ReplayResult r, int64_t now_ms) {
    Session* s = find_session(sid);
    if (!s || s->closing) return;
    if (group_replays_.ticket(sid, gid) != ticket) {
        // The client left the group meanwhile (the gate went with it): the
        // join still gets its one ack, and nothing is replayed.
        AckExtra extra;
        extra.replayed = 0;
        send(s, build_ack_ok(mid, now_ms, extra), OutType::ack);
        return;
    }
    if (r.status == StoreStatus::unavailable) {
        // Nothing changes (contract v1.1): not subscribed, nothing held is
        // delivered; the client retries with the same since.
        group_replays_.abandon(sid, gid);
        registry_.unsubscribe(s, gid);
        ack_fail(s, mid, 503, "storage unavailable; history not replayed, not subscribed; retry", now_ms);
        return;
    }
    std::string last;
    for (const StoredMessage& m : r.messages) {
        if (!send(s, build_new_message(m, true), OutType::new_message)) return;
        counters_.fanout_deliveries++;
        last = m.message_id;
    }
    AckExtra extra;
    extra.truncated = r.truncated;
    extra.replayed = r.messages.size();
    if (!send(s, build_ack_ok(mid, now_ms, extra), OutType::ack)) return;
    // The boundary: held pushes at or below it were replayed (or are older
    // than since); a bus behind the replay's read skips them later too.
    const std::optional<StreamId> boundary = replay_boundary(since, last);
    if (boundary) {
        if (Session::Subscription* sub = registry_.find_subscription(s, gid)) {
            if (*boundary > sub->replayed_upto) sub->replayed_upto = *boundary;
        }
    }
    auto released = group_replays_.close(sid, gid, ticket, boundary);
    if (released) push_released(s, *released);
}

void Hub::handle_leave(Session* s, const Request& req, int64_t now_ms) {
    note_touched_group(s, req.group_id);
    registry_.unsubscribe(s, req.group_id);
    group_replays_.abandon(s->id, req.group_id);  // its replay answer will find nothing to do
    send(s, build_ack_ok(*req.message_id, now_ms), OutType::ack);
}

void Hub::handle_mark_read(Session* s, const Request& req, int64_t now_ms) {
    const uint64_t sid = s->id;
    store_.mark_read(s->user_id, req.group_id, req.read_message_id,
                     [this, sid, mid = *req.message_id](StoreStatus st) {
                         Session* s = find_session(sid);
                         if (!s) return;
                         if (st == StoreStatus::unavailable) {
                             ack_fail(s, mid, 503, "storage unavailable, nothing was stored; retry", now());
                         } else {
                             send(s, build_ack_ok(mid, now()), OutType::ack);
                         }
                     });
}

// ---- fan-out ----------------------------------------------------------------

void Hub::hold_for_ack(Session* s, const std::string& key) {
    ack_order_.expect(s->id, key);
    s->ack_hold = true;
}

void Hub::release_ack(Session* s, const std::string& key) {
    bool idle = false;
    std::vector<FrameRef> free = ack_order_.acked(s->id, key, &idle);
    if (idle) s->ack_hold = false;
    for (FrameRef& f : free) {
        counters_.fanout_deliveries++;
        if (!enqueue(s, f.get(), OutType::new_message)) return;  // closed: the hold is gone with it
    }
}

void Hub::push_group(Session* s, SharedFrame* frame, const std::string& ack_key) {
    if (s->ack_hold) {
        switch (ack_order_.offer(s->id, ack_key, frame)) {
        case AckOrder::Offer::held: return;
        case AckOrder::Offer::full: drop_slow(s); return;
        case AckOrder::Offer::deliver: break;
        }
    }
    counters_.fanout_deliveries++;
    enqueue(s, frame, OutType::new_message);
}

void Hub::deliver_group_message(const StoredMessage& m) {
    const GroupEntry* g = registry_.find_group(m.group_id);
    if (!g) return;
    SharedFrame* frame = nullptr;  // built on first need: once per instance
    std::optional<StreamId> id;    // parsed on first need
    // Closing sessions are already out of the registry, and enqueue() on a
    // slow consumer only marks it: the member vector is not modified here.
    const size_t n = g->members.size();
    for (size_t i = 0; i < n; i++) {
        Session* s = g->members[i].session;
        Session::Subscription& sub = s->subscriptions[g->members[i].subscription_index];
        if (sub.replayed_upto != kNoId) {
            if (!id) id = parse_stream_id(m.message_id);
            if (id && replay_covers(sub.replayed_upto, *id)) continue;  // sent by the replay
            sub.replayed_upto = kNoId;  // later messages are newer still
        }
        if (!frame) {
            frame = frame_create_text(build_new_message(m, false), frame_headroom_);
            if (!frame) return;
        }
        const bool own = !m.sender_id.empty() && m.sender_id == s->user_id;
        if (!group_replays_.empty()) {
            if (ReplayGate::Open* gate = group_replays_.find(s->id, m.group_id)) {
                if (!id) id = parse_stream_id(m.message_id);
                HeldPush p{id.value_or(kNoId), true, FrameRef::share(frame),
                           own ? AckOrder::key(m.group_id, m.client_message_id) : std::string()};
                if (group_replays_.hold(gate, std::move(p)) == ReplayGate::Hold::full) drop_slow(s);
                continue;
            }
        }
        push_group(s, frame, own && s->ack_hold ? AckOrder::key(m.group_id, m.client_message_id) : std::string());
    }
    if (frame) frame_unref(frame);
}

void Hub::notify_session(Session* s, SharedFrame* frame, const std::string& id, bool in_inbox,
                         const std::optional<StreamId>& sid) {
    if (s->closing || !s->authenticated) return;
    if (!inbox_replays_.empty()) {
        if (ReplayGate::Open* gate = inbox_replays_.find(s->id, kInboxScope)) {
            HeldPush p{sid.value_or(kNoId), in_inbox, FrameRef::share(frame), std::string()};
            if (inbox_replays_.hold(gate, std::move(p)) == ReplayGate::Hold::full) drop_slow(s);
            return;
        }
    }
    if (in_inbox && s->inbox_upto != kNoId && sid && replay_covers(s->inbox_upto, *sid)) return;  // replayed already
    counters_.fanout_deliveries++;
    enqueue(s, frame, OutType::notification);
}

void Hub::deliver_notification(const Notification& n) {
    SharedFrame* frame = frame_create_text(build_notification(n.id, n.data, n.timestamp_ms, false), frame_headroom_);
    if (!frame) return;
    const std::optional<StreamId> sid = parse_stream_id(n.id);
    switch (n.target.kind) {
    case NotifyTargetKind::users: {
        // Collected first: a slow consumer's close unlinks it from its user.
        std::vector<Session*> targets;
        for (const std::string& uid : n.target.users) {
            if (const UserEntry* u = registry_.find_user(uid)) {
                for (Session* s = u->oldest; s; s = s->user_next) targets.push_back(s);
            }
        }
        for (Session* s : targets) notify_session(s, frame, n.id, true, sid);
        break;
    }
    case NotifyTargetKind::group:
        // enqueue() never changes the member vector (see deliver_group_message).
        if (const GroupEntry* g = registry_.find_group(n.target.group_id)) {
            for (const GroupEntry::Member& m : g->members) notify_session(m.session, frame, n.id, false, sid);
        }
        break;
    case NotifyTargetKind::all:
        // Inherently a walk over every session; closes only mark sessions.
        for (auto& [id, s] : sessions_) notify_session(s, frame, n.id, false, sid);
        break;
    }
    frame_unref(frame);
}

}  // namespace pushd
