#include "core/hub.hpp"

#include <vector>

namespace pushd {

Hub::Hub(const Config* config, TransportOps transport, StoreOps store, std::string instance_tag,
         size_t frame_headroom) :
    ctx_{config, std::move(transport), std::move(store), std::move(instance_tag), frame_headroom, {}, {}, {}, {}, {}},
    output_(ctx_),
    life_(ctx_, output_, SessionPeers{auto_join_, inbox_, groups_, fanout_}),
    fanout_(ctx_, output_, life_, groups_, inbox_),
    groups_(ctx_, output_, life_, fanout_, auto_join_),
    inbox_(ctx_, output_, life_),
    auto_join_(ctx_, life_, groups_, dispatch_),
    dispatch_(ctx_, output_, DispatchPeers{life_, auto_join_, inbox_, groups_, fanout_}) {
    output_.set_overflow_handler([this](Session* s) { life_.close_slow_consumer(s); });
    if (config->groups.presence) ctx_.registry.set_presence(&ctx_.presence);
}

Session* Hub::on_open(void* transport, const std::optional<VerifiedToken>& handshake_token, int64_t now_ms) {
    Session* s = life_.open(transport, now_ms);
    if (handshake_token) {
        dispatch_.authenticate(s, *handshake_token, std::nullopt, now_ms);
    } else {
        life_.arm(s, now_ms + ctx_.config->auth.auth_timeout * 1000, DeadlineKind::auth_timeout);
    }
    return s;
}

void Hub::on_storage_up() {
    std::vector<uint64_t> ids;
    inbox_.waiting_sessions(ids);
    auto_join_.waiting_sessions(ids);
    for (uint64_t id : ids) {
        if (Session* s = ctx_.find_open_session(id)) life_.retry_storage(s);
    }
}

void Hub::for_each_session(const std::function<void(Session*)>& fn) {
    // Copy first: fn may close sessions.
    std::vector<Session*> all;
    all.reserve(ctx_.sessions.size());
    for (auto& [id, s] : ctx_.sessions) all.push_back(s.get());
    for (Session* s : all) fn(s);
}

void Hub::apply_control(const ControlEntry& entry, int64_t now_ms) {
    if (entry.op == ControlOp::revoke) ctx_.revocations.add(entry.user_id, entry.revocation, now_ms);
    const UserEntry* user = ctx_.registry.find_user(entry.user_id);
    if (!user) return;
    // Collected first: closing takes a session out of its user's list.
    std::vector<Session*> closing;
    for (Session* s = user->oldest; s; s = s->user_next) {
        if (s->closing) continue;
        if (entry.op == ControlOp::revoke) {
            VerifiedToken t{s->user_id, s->expires_at_s, std::nullopt};
            if (s->token_iat_s != kNoIat) t.iat_s = s->token_iat_s;
            if (!ctx_.revocations.refuses(t, now_ms)) continue;
        }
        closing.push_back(s);
    }
    const bool revoke = entry.op == ControlOp::revoke;
    const char* reason = revoke ? kRevokedReason : kDefaultDisconnectReason;
    if (!revoke && !entry.reason.empty()) {
        auto it = ctx_.close_reasons.find(entry.reason);
        if (it == ctx_.close_reasons.end() && ctx_.close_reasons.size() < kMaxCloseReasons)
            it = ctx_.close_reasons.insert(entry.reason).first;
        if (it != ctx_.close_reasons.end()) reason = it->c_str();
    }
    for (Session* s : closing) life_.close(s, revoke ? kCloseAuth : kCloseDisconnected, reason);
}

}  // namespace pushd
