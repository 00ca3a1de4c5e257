#include "core/replay_gate.hpp"

namespace pushd {

std::optional<StreamId> replay_boundary(std::string_view since, std::string_view last) {
    std::optional<StreamId> s = parse_stream_id(since);
    std::optional<StreamId> l = last.empty() ? std::nullopt : parse_stream_id(last);
    if (s && l) return *l > *s ? *l : *s;
    return l ? l : s;
}

uint64_t ReplayGate::open(uint64_t session, const std::string& scope) {
    auto& per = open_[session];
    auto [it, added] = per.try_emplace(scope, Open{next_ticket_, {}});
    if (!added) return 0;
    return next_ticket_++;
}

bool ReplayGate::is_open(uint64_t session, const std::string& scope) const { return ticket(session, scope) != 0; }

uint64_t ReplayGate::ticket(uint64_t session, const std::string& scope) const {
    auto per = open_.find(session);
    if (per == open_.end()) return 0;
    auto it = per->second.find(scope);
    return it == per->second.end() ? 0 : it->second.ticket;
}

uint64_t ReplayGate::retake(uint64_t session, const std::string& scope) {
    auto per = open_.find(session);
    if (per == open_.end()) return 0;
    auto it = per->second.find(scope);
    if (it == per->second.end()) return 0;
    it->second.ticket = next_ticket_;
    return next_ticket_++;
}

ReplayGate::Open* ReplayGate::find(uint64_t session, const std::string& scope) {
    auto per = open_.find(session);
    if (per == open_.end()) return nullptr;
    auto it = per->second.find(scope);
    return it == per->second.end() ? nullptr : &it->second;
}

ReplayGate::Hold ReplayGate::hold(Open* gate, HeldPush&& push) {
    if (!gate) return Hold::not_open;
    if (gate->held.size() >= max_held_) return Hold::full;
    gate->held.push_back(std::move(push));
    held_++;
    return Hold::held;
}

ReplayGate::Hold ReplayGate::hold(uint64_t session, const std::string& scope, HeldPush&& push) {
    return hold(find(session, scope), std::move(push));
}

std::optional<std::vector<HeldPush>> ReplayGate::close(uint64_t session, const std::string& scope, uint64_t ticket,
                                                       const std::optional<StreamId>& boundary) {
    auto per = open_.find(session);
    if (per == open_.end()) return std::nullopt;
    auto it = per->second.find(scope);
    if (it == per->second.end() || it->second.ticket != ticket) return std::nullopt;
    std::vector<HeldPush> held = std::move(it->second.held);
    per->second.erase(it);
    if (per->second.empty()) open_.erase(per);
    held_ -= held.size();
    if (!boundary) return held;
    std::vector<HeldPush> out;
    out.reserve(held.size());
    for (HeldPush& p : held) {
        if (p.replayable && replay_covers(*boundary, p.id)) continue;
        out.push_back(std::move(p));
    }
    return out;
}

void ReplayGate::abandon(uint64_t session, const std::string& scope) {
    auto per = open_.find(session);
    if (per == open_.end()) return;
    auto it = per->second.find(scope);
    if (it == per->second.end()) return;
    held_ -= it->second.held.size();
    per->second.erase(it);
    if (per->second.empty()) open_.erase(per);
}

void ReplayGate::forget(uint64_t session) {
    auto per = open_.find(session);
    if (per == open_.end()) return;
    for (auto& [scope, o] : per->second) held_ -= o.held.size();
    open_.erase(per);
}

}  // namespace pushd
