#include "core/dispatch.hpp"

#include "core/ack_order.hpp"
#include "core/auto_join.hpp"
#include "core/fanout.hpp"
#include "core/group_join.hpp"
#include "core/hub_limits.hpp"
#include "core/inbox_replay.hpp"
#include "core/session_life.hpp"
#include "core/session_output.hpp"
#include "core/status_codes.hpp"

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

InType in_type(const ParseResult& parsed) {
    return parsed.status == ParseStatus::malformed ? InType::malformed : in_type(parsed.request.type);
}

constexpr char kStorageDown[] = "storage unavailable, nothing was stored; retry";
constexpr char kNotMember[] = "not a member of this group";
constexpr char kNotAuthenticated[] = "not authenticated";

}  // namespace

void Dispatch::on_text(Session* s, std::string_view text, int64_t now_ms) {
    if (s->closing) return;
    // Every frame a client sends takes a token, ping and auth included:
    // counting all of them is what bounds the work one connection causes.
    const RateVerdict verdict =
        rate_take(s->rate, ctx_.config->limits.messages_per_second, ctx_.config->limits.burst, now_ms);
    if (verdict == RateVerdict::abusive) {
        ctx_.counters.rate_limited++;
        ctx_.counters.rate_limit_closes++;
        peers_.life.close(s, kClosePolicy, "rate limit exceeded");
        return;
    }
    const bool limited = verdict == RateVerdict::refused;
    if (s->holding) {
        peers_.auto_join.hold_request(s, text, limited);
        return;
    }
    process_text(s, text, limited, now_ms);
}

void Dispatch::answer_rate_limited(Session* s, const ParseResult& parsed, int64_t now_ms) {
    ctx_.counters.rate_limited++;
    static const char kMessage[] = "rate limited";
    const Request& req = parsed.request;
    const bool has_ack = parsed.status != ParseStatus::malformed && req.type != RequestType::ping &&
                         req.type != RequestType::auth && req.message_id;
    if (has_ack) {
        output_.ack_fail(s, *req.message_id, ReplyCode::rate_limited, kMessage, now_ms);
    } else {
        output_.reply(s, build_error(parsed.message_id, ReplyCode::rate_limited, kMessage, now_ms), OutType::error);
    }
}

void Dispatch::process_text(Session* s, std::string_view text, bool rate_limited, int64_t now_ms) {
    ParseResult parsed = parse_request(text);
    ctx_.counters.in[static_cast<size_t>(in_type(parsed))]++;
    if (rate_limited) {
        answer_rate_limited(s, parsed, now_ms);
    } else if (parsed.status == ParseStatus::malformed) {
        output_.reply(s, build_error(parsed.message_id, ReplyCode::bad_request, parsed.message, now_ms),
                      OutType::error);
    } else if (parsed.status == ParseStatus::invalid_field) {
        answer_invalid_field(s, parsed, now_ms);
    } else {
        handle(s, parsed.request, now_ms);
    }
}

void Dispatch::answer_invalid_field(Session* s, const ParseResult& parsed, int64_t now_ms) {
    const Request& req = parsed.request;
    if (req.type == RequestType::auth) {
        if (req.token.empty())
            fail_auth(s, req.message_id, AuthError::missing_token, now_ms);
        else
            fail_auth(s, req.message_id, AuthError::malformed, now_ms, parsed.message.c_str());
    } else if (req.message_id) {
        // Authentication is checked before the fields are.
        if (!s->authenticated)
            output_.ack_fail(s, *req.message_id, ReplyCode::not_authenticated, kNotAuthenticated, now_ms);
        else
            output_.ack_fail(s, *req.message_id, ReplyCode::invalid_field, parsed.message.c_str(), now_ms);
    }
}

void Dispatch::handle(Session* s, const Request& req, int64_t now_ms) {
    if (req.type == RequestType::ping) {
        output_.reply(s, build_pong(req.message_id, now_ms), OutType::pong);
        return;
    }
    if (req.type == RequestType::auth) {
        handle_auth(s, req, now_ms);
        return;
    }
    if (!s->authenticated) {
        output_.ack_fail(s, *req.message_id, ReplyCode::not_authenticated, kNotAuthenticated, now_ms);
        return;
    }
    switch (req.type) {
    case RequestType::send_message: handle_send(s, req, now_ms); break;
    case RequestType::join_group: handle_join(s, req, now_ms); break;
    case RequestType::leave_group:
        peers_.auto_join.note_touched(s, req.group_id);
        peers_.groups.leave(s, req, now_ms);
        break;
    case RequestType::mark_read: handle_mark_read(s, req, now_ms); break;
    default: break;
    }
}

void Dispatch::fail_auth(Session* s, const std::optional<std::string>& message_id, AuthError error, int64_t now_ms,
                         const char* message) {
    ctx_.counters.auth_failed[static_cast<size_t>(error)]++;
    output_.reply(s, build_auth_failed(message_id, message ? message : auth_error_message(error), now_ms),
                  OutType::auth_failed);
    // Three in a row close the connection, authenticated or not; a failed
    // re-auth otherwise keeps the identity it had.
    if (++s->auth_failures >= kMaxAuthFailures) peers_.life.close(s, kCloseAuth, "too many failed auth attempts");
}

void Dispatch::handle_auth(Session* s, const Request& req, int64_t now_ms) {
    AuthResult r =
        verify_token(req.token, ctx_.config->auth.access_secret, ctx_.config->auth.user_claim, seconds(now_ms));
    if (r.error == AuthError::none && ctx_.revocations.refuses(r.token, now_ms)) r.error = AuthError::revoked;
    if (r.error != AuthError::none) {
        fail_auth(s, req.message_id, r.error, now_ms);
        return;
    }
    if (s->authenticated && r.token.user_id != s->user_id) {
        ctx_.counters.auth_conflicts++;
        output_.reply(s,
                      build_error(req.message_id, ReplyCode::conflict, "already authenticated as another user", now_ms),
                      OutType::error);
        return;
    }
    authenticate(s, r.token, req.message_id, now_ms, req.since);
}

void Dispatch::authenticate(Session* s, const VerifiedToken& token, const std::optional<std::string>& message_id,
                            int64_t now_ms, const std::optional<std::string>& since) {
    ctx_.counters.auth_ok++;
    s->auth_failures = 0;
    peers_.life.arm_expiry(s, token.exp_s);
    s->token_iat_s = token.iat_s.value_or(kNoIat);
    const bool fresh = !s->authenticated;
    if (fresh) {
        s->authenticated = true;
        ctx_.registry.add_user_session(s, token.user_id);
    }
    output_.reply(
        s,
        build_auth_success(message_id, s->user_id, ctx_.tag + "-" + std::to_string(s->id), token.exp_s * 1000, now_ms),
        OutType::auth_success);
    if (fresh) peers_.life.enforce_session_limit(s->user_id);
    if (s->closing) return;
    // Both answers may come later: AutoJoin holds this connection's further
    // requests until the group set is read; the inbox replay buffers
    // notifications for it until the stored ones are sent.
    if (fresh && ctx_.config->groups.auto_join) peers_.auto_join.start(s);
    if (since && !s->closing) peers_.inbox.start(s, *since);
}

void Dispatch::handle_send(Session* s, const Request& req, int64_t now_ms) {
    if (!ctx_.config->groups.require_membership) {
        append(s, req, now_ms);
        return;
    }
    ctx_.store.check_member(req.group_id, s->user_id, [this, sid = s->id, req, now_ms](MembershipResult m) {
        Session* s = ctx_.find_session(sid);
        if (!s) return;
        if (m.status == StoreStatus::unavailable) {
            output_.ack_fail(s, *req.message_id, ReplyCode::storage_unavailable, kStorageDown, ctx_.now());
        } else if (!m.member) {
            output_.ack_fail(s, *req.message_id, ReplyCode::forbidden, kNotMember, ctx_.now());
        } else {
            append(s, req, now_ms);
        }
    });
}

// Stores the message sent at `now_ms`; its ack (and, through FanOut, the
// sender's own pushes held behind it) follows the answer.
void Dispatch::append(Session* s, const Request& req, int64_t now_ms) {
    AppendRequest a;
    a.group_id = req.group_id;
    a.client_message_id = *req.message_id;
    a.sender_id = s->user_id;
    a.msg_type = req.msg_type;
    a.content = req.content;
    a.now_ms = now_ms;
    const std::string key = AckOrder::key(req.group_id, *req.message_id);
    if (!s->closing) peers_.fanout.expect_ack(s, key);
    ctx_.store.append(a, [this, sid = s->id, mid = *req.message_id, key](AppendResult r) {
        Session* s = ctx_.find_session(sid);
        if (!s) return;
        if (r.status == StoreStatus::unavailable) {
            output_.ack_fail(s, mid, ReplyCode::storage_unavailable, kStorageDown, ctx_.now());
        } else {
            AckExtra extra;
            extra.server_message_id = r.server_message_id;
            extra.duplicate = r.status == StoreStatus::duplicate;
            output_.reply(s, build_ack_ok(mid, ctx_.now(), extra), OutType::ack);
        }
        peers_.fanout.ack_sent(s, key);
    });
}

void Dispatch::handle_join(Session* s, const Request& req, int64_t now_ms) {
    peers_.auto_join.note_touched(s, req.group_id);
    if (!ctx_.config->groups.require_membership) {
        peers_.groups.join(s, req, now_ms);
        return;
    }
    ctx_.store.check_member(req.group_id, s->user_id, [this, sid = s->id, req](MembershipResult m) {
        Session* s = ctx_.find_open_session(sid);
        if (!s) return;
        if (m.status == StoreStatus::unavailable) {
            output_.ack_fail(s, *req.message_id, ReplyCode::storage_unavailable, "storage unavailable; retry",
                             ctx_.now());
        } else if (!m.member) {
            output_.ack_fail(s, *req.message_id, ReplyCode::forbidden, kNotMember, ctx_.now());
        } else {
            peers_.groups.join(s, req, ctx_.now());
        }
    });
}

void Dispatch::handle_mark_read(Session* s, const Request& req, int64_t now_ms) {
    (void)now_ms;
    ctx_.store.mark_read(s->user_id, req.group_id, req.read_message_id,
                         [this, sid = s->id, mid = *req.message_id](StoreStatus st) {
                             Session* s = ctx_.find_session(sid);
                             if (!s) return;
                             if (st == StoreStatus::unavailable) {
                                 output_.ack_fail(s, mid, ReplyCode::storage_unavailable, kStorageDown, ctx_.now());
                             } else {
                                 output_.reply(s, build_ack_ok(mid, ctx_.now()), OutType::ack);
                             }
                         });
}

}  // namespace pushd
